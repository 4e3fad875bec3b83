package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Label keys of containerd containers made by Capstan. User labels may not use the prefix.
const (
	labelPrefix     = "capstan.runtime/"
	labelPodUID     = labelPrefix + "pod-uid"
	labelPodName    = labelPrefix + "pod-name"
	labelPodNS      = labelPrefix + "pod-namespace"
	labelContainer  = labelPrefix + "container"
	labelAttempt    = labelPrefix + "attempt"
	labelLogPath    = labelPrefix + "log-path"
	labelImageName  = labelPrefix + "image-name"
	labelImageID    = labelPrefix + "image-id"
	labelImageDgst  = labelPrefix + "image-digest"
	labelTTY        = labelPrefix + "tty"
	labelStdin      = labelPrefix + "stdin"
	labelStdinOnce  = labelPrefix + "stdin-once"
	labelCgroup     = labelPrefix + "cgroup"
	labelStartedAt  = labelPrefix + "started-at"
	labelFinishedAt = labelPrefix + "finished-at"
	labelExitCode   = labelPrefix + "exit-code"
	labelOOMKilled  = labelPrefix + "oom-killed"
	labelReason     = labelPrefix + "reason"
)

// maxIDNameLen bounds the readable part of a container ID; containerd IDs are at most 76 bytes.
const maxIDNameLen = 40

// ContainerID returns the ID of attempt attempt of container name in pod podUID:
// "<name>-<attempt>-<12 hex digits of a hash of the pod UID and name>", a valid containerd ID.
// IDs are deterministic so that a pod worker that crashed between CreateContainer and recording
// the result finds the container again.
func ContainerID(podUID, name string, attempt uint32) string {
	sum := sha256.Sum256([]byte(podUID + "/" + name))
	return fmt.Sprintf("%s-%d-%s", idName(name), attempt, hex.EncodeToString(sum[:6]))
}

// idName reduces name to letters and digits separated by single dashes, at most maxIDNameLen bytes.
func idName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= maxIDNameLen {
				break
			}
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "c"
	}
	return b.String()
}

// LogPath returns the kubelet's log file location for a container attempt under root (normally
// /var/log/pods): <root>/<namespace>_<name>_<uid>/<container>/<attempt>.log.
func LogPath(root, podNamespace, podName, podUID, container string, attempt uint32) string {
	return filepath.Join(root, podNamespace+"_"+podName+"_"+podUID, container, strconv.FormatUint(uint64(attempt), 10)+".log")
}
