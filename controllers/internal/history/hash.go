package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/rand"
)

// maxPrefixLength is the longest owner name Name keeps, so that
// "<owner>-<hash>" stays a valid object name (Kubernetes' ControllerRevisionName).
const maxPrefixLength = 223

// HashTemplate returns the hash of template and collisionCount (which may be
// nil) that Kubernetes' controller.ComputeHash returns: FNV-32a over the
// template's deep dump and the collision count, as a safe-encoded string.
// Equal templates hash equally.
func HashTemplate(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Name returns the name of the revision of owner with the given hash:
// "<owner>-<hash>", the owner name cut to 223 characters.
func Name(owner, hash string) string {
	if len(owner) > maxPrefixLength {
		owner = owner[:maxPrefixLength]
	}
	return owner + "-" + hash
}

// TemplatePatch returns the revision data of a workload whose pod template is
// template: the strategic-merge patch {"spec":{"template":{...,"$patch":"replace"}}}
// that kubectl rollout undo sends to restore it, encoded as Kubernetes'
// DaemonSet controller encodes it (keys sorted, so equal templates give
// equal bytes).
func TemplatePatch(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("history: encoding pod template: %w", err)
	}
	var m map[string]any
	// utiljson keeps integers as int64, so they are re-encoded unchanged.
	if err := utiljson.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("history: decoding pod template: %w", err)
	}
	m["$patch"] = "replace"
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	if err != nil {
		return nil, fmt.Errorf("history: encoding patch: %w", err)
	}
	return patch, nil
}

// Equal reports whether two revisions record the same state.
func Equal(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// MaxRevision returns the highest revision number among revisions, 0 when
// there are none.
func MaxRevision(revisions []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revisions {
		m = max(m, r.Revision)
	}
	return m
}
