package validation

import (
	"strings"
	"testing"
	"time"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNamespace(t *testing.T) {
	tests := []struct {
		name string
		ns   corev1.Namespace
		want []want
	}{
		{name: "valid", ns: corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}},
		{name: "name not a DNS label", ns: corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team.a"}}, want: []want{invalid("metadata.name")}},
		{name: "namespace set on a namespace", ns: corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Namespace: "default"}},
			want: []want{forbiddenMsg("metadata.namespace", "not allowed on this type")}},
		{name: "unqualified spec finalizer", ns: corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"cleanup"}}},
			want: []want{invalid("spec.finalizers")}},
		{name: "qualified spec finalizer", ns: corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/cleanup"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defaults.Create(&tt.ns)
			checkErrors(t, "Namespace()", Namespace(&tt.ns), tt.want...)
		})
	}
}

func TestNamespaceStatusUpdate(t *testing.T) {
	now := metav1.NewTime(time.Unix(1700000000, 0))
	tests := []struct {
		name     string
		deleting bool
		phase    corev1.NamespacePhase
		want     []want
	}{
		{name: "active", phase: corev1.NamespaceActive},
		{name: "terminating while deleted", deleting: true, phase: corev1.NamespaceTerminating},
		{name: "terminating while not deleted", phase: corev1.NamespaceTerminating, want: []want{invalid("status.Phase")}},
		{name: "active while deleted", deleting: true, phase: corev1.NamespaceActive, want: []want{invalid("status.Phase")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", ResourceVersion: "1"}}
			if tt.deleting {
				old.DeletionTimestamp = &now
			}
			ns := old.DeepCopy()
			ns.Status.Phase = tt.phase
			checkErrors(t, "NamespaceStatusUpdate()", NamespaceStatusUpdate(ns, old), tt.want...)
		})
	}
}

func TestNode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(n *corev1.Node)
		want   []want
	}{
		{name: "valid", mutate: func(n *corev1.Node) {}},
		{name: "dual-stack pod CIDRs", mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00:1::/64"} }},
		{name: "invalid pod CIDR", mutate: func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0/33", nil }, want: []want{invalid("spec.podCIDRs[0]")}},
		{name: "two IPv4 pod CIDRs", mutate: func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.244.2.0/24"} },
			want: []want{invalidMsg("spec.podCIDRs", "may specify no more than one CIDR for each IP family")}},
		{name: "unknown taint effect", mutate: func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: "Never"}} },
			want: []want{notSupported("metadata.taints[0].effect")}},
		{name: "taint without effect", mutate: func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "dedicated"}} },
			want: []want{required("metadata.taints[0].effect")}},
		{name: "duplicate taint", mutate: func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "dedicated", Value: "b", Effect: corev1.TaintEffectNoSchedule}}
		}, want: []want{{typ: duplicate("").typ, field: "metadata.taints[1]", detail: "taints must be unique by key and effect pair"}}},
		{name: "same taint key with two effects", mutate: func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}, {Key: "dedicated", Effect: corev1.TaintEffectNoExecute}}
		}},
		{name: "negative capacity", mutate: func(n *corev1.Node) {
			n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
			n.Status.Allocatable = nil
		}, want: []want{invalid("status.capacity.cpu"), invalid("status.allocatable.cpu")}},
		{name: "name not a DNS subdomain", mutate: func(n *corev1.Node) { n.Name = "Node_1" }, want: []want{invalid("metadata.name")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"}}
			tt.mutate(n)
			defaults.Apply(n)
			checkErrors(t, "Node()", Node(n), tt.want...)
		})
	}
}

func TestNodeUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(n *corev1.Node)
		want   []want
	}{
		{name: "cordon", mutate: func(n *corev1.Node) { n.Spec.Unschedulable = true }},
		{name: "pod CIDR changed", mutate: func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.9.0/24", []string{"10.244.9.0/24"} },
			want: []want{forbidden("spec.podCIDRs")}},
		{name: "provider ID changed", mutate: func(n *corev1.Node) { n.Spec.ProviderID = "capstan://other" }, want: []want{forbidden("spec.providerID")}},
		{name: "duplicate address", mutate: func(n *corev1.Node) {
			a := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}
			n.Status.Addresses = []corev1.NodeAddress{a, a}
		}, want: []want{duplicate("status.addresses[1]")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", ResourceVersion: "4"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", ProviderID: "capstan://node-1"}}
			defaults.Apply(old)
			n := old.DeepCopy()
			tt.mutate(n)
			checkErrors(t, "NodeUpdate()", NodeUpdate(n, old), tt.want...)
		})
	}
}

func TestEndpoints(t *testing.T) {
	subset := func(ip string, ports ...corev1.EndpointPort) []corev1.EndpointSubset {
		return []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: ip}}, Ports: ports}}
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    []want
	}{
		{name: "valid", subsets: subset("10.244.1.5", corev1.EndpointPort{Port: 80})},
		{name: "no subsets", subsets: nil},
		{name: "subset without addresses", subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}, want: []want{required("subsets[0]")}},
		{name: "invalid IP", subsets: subset("10.244.1.500", corev1.EndpointPort{Port: 80}), want: []want{invalid("subsets[0].addresses[0].ip"), invalidMsg("subsets[0].addresses[0].ip", "must be a valid IP address")}},
		{name: "loopback IP", subsets: subset("127.0.0.1", corev1.EndpointPort{Port: 80}), want: []want{invalidMsg("subsets[0].addresses[0].ip", "loopback")}},
		{name: "port zero", subsets: subset("10.244.1.5", corev1.EndpointPort{Port: 0}), want: []want{invalid("subsets[0].ports[0].port")}},
		{name: "unnamed ports", subsets: subset("10.244.1.5", corev1.EndpointPort{Port: 80}, corev1.EndpointPort{Name: "https", Port: 443}), want: []want{required("subsets[0].ports[0].name")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Subsets: tt.subsets}
			defaults.Apply(e)
			checkErrors(t, "Endpoints()", Endpoints(e), tt.want...)
		})
	}
}

func TestConfigMap(t *testing.T) {
	tests := []struct {
		name string
		cm   corev1.ConfigMap
		want []want
	}{
		{name: "valid", cm: corev1.ConfigMap{Data: map[string]string{"app.properties": "a=b", "KEY_1": "v"}, BinaryData: map[string][]byte{"logo.png": {1, 2}}}},
		{name: "invalid key", cm: corev1.ConfigMap{Data: map[string]string{"bad/key": "v"}}, want: []want{invalid("data[bad/key]")}},
		{name: "key in data and binaryData", cm: corev1.ConfigMap{Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"k": {1}}},
			want: []want{invalidMsg("data[k]", "duplicate of key present in binaryData")}},
		{name: "too large", cm: corev1.ConfigMap{Data: map[string]string{"a": strings.Repeat("x", corev1.MaxSecretSize), "b": "y"}}, want: []want{tooLong(field.NewPath("").String())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cm.ObjectMeta = metav1.ObjectMeta{Name: "cfg", Namespace: "default"}
			checkErrors(t, "ConfigMap()", ConfigMap(&tt.cm), tt.want...)
		})
	}
}

func TestConfigMapUpdate(t *testing.T) {
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default", ResourceVersion: "2"}, Data: map[string]string{"k": "v"}, Immutable: ptr(true)}
	tests := []struct {
		name   string
		mutate func(cm *corev1.ConfigMap)
		want   []want
	}{
		{name: "label change", mutate: func(cm *corev1.ConfigMap) { cm.Labels = map[string]string{"a": "b"} }},
		{name: "data change", mutate: func(cm *corev1.ConfigMap) { cm.Data["k"] = "w" }, want: []want{forbidden("data")}},
		{name: "immutable cleared", mutate: func(cm *corev1.ConfigMap) { cm.Immutable = nil }, want: []want{forbidden("immutable")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := old.DeepCopy()
			tt.mutate(cm)
			checkErrors(t, "ConfigMapUpdate()", ConfigMapUpdate(cm, old), tt.want...)
		})
	}
}

func TestSecret(t *testing.T) {
	tests := []struct {
		name string
		s    corev1.Secret
		want []want
	}{
		{name: "opaque", s: corev1.Secret{StringData: map[string]string{"password": "s3cret"}}},
		{name: "invalid key", s: corev1.Secret{Data: map[string][]byte{"no spaces": {1}}}, want: []want{invalid("data[no spaces]")}},
		{name: "too large", s: corev1.Secret{Data: map[string][]byte{"a": make([]byte, corev1.MaxSecretSize+1)}}, want: []want{tooLong("data")}},
		{name: "service account token without annotation", s: corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			want: []want{required("metadata.annotations[kubernetes.io/service-account.name]")}},
		{name: "service account token", s: corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}, Type: corev1.SecretTypeServiceAccountToken}},
		{name: "docker config json missing", s: corev1.Secret{Type: corev1.SecretTypeDockerConfigJson}, want: []want{required("data[.dockerconfigjson]")}},
		{name: "docker config json malformed", s: corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			want: []want{invalid("data[.dockerconfigjson]")}},
		{name: "docker config json", s: corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}},
		{name: "tls without key", s: corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("cert")}}, want: []want{required("data[tls.key]")}},
		{name: "basic auth empty", s: corev1.Secret{Type: corev1.SecretTypeBasicAuth}, want: []want{required("data[username]"), required("data[password]")}},
		{name: "ssh auth empty", s: corev1.Secret{Type: corev1.SecretTypeSSHAuth}, want: []want{required("data[ssh-privatekey]")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Name, tt.s.Namespace = "creds", "default"
			defaults.Apply(&tt.s)
			checkErrors(t, "Secret()", Secret(&tt.s), tt.want...)
		})
	}
}

func TestSecretUpdate(t *testing.T) {
	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default", ResourceVersion: "2"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": {1}}}
	tests := []struct {
		name   string
		old    func(s *corev1.Secret)
		mutate func(s *corev1.Secret)
		want   []want
	}{
		{name: "data change", mutate: func(s *corev1.Secret) { s.Data["k"] = []byte{2} }},
		{name: "type change", mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth; s.Data["username"] = []byte("u") }, want: []want{invalidMsg("type", "field is immutable")}},
		{name: "immutable data change", old: func(s *corev1.Secret) { s.Immutable = ptr(true) }, mutate: func(s *corev1.Secret) { s.Data["k"] = []byte{2} }, want: []want{forbidden("data")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := old.DeepCopy()
			if tt.old != nil {
				tt.old(o)
			}
			s := o.DeepCopy()
			tt.mutate(s)
			checkErrors(t, "SecretUpdate()", SecretUpdate(s, o), tt.want...)
		})
	}
}

func TestServiceAccount(t *testing.T) {
	tests := []struct {
		name string
		sa   corev1.ServiceAccount
		want []want
	}{
		{name: "valid", sa: corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "default"}}},
		{name: "invalid name", sa: corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "Builder", Namespace: "default"}}, want: []want{invalid("metadata.name")}},
		{name: "namespace missing", sa: corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, want: []want{required("metadata.namespace")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, "ServiceAccount()", ServiceAccount(&tt.sa), tt.want...)
		})
	}
}

func TestEvent(t *testing.T) {
	now := metav1.NewMicroTime(time.Unix(1700000000, 0))
	tests := []struct {
		name string
		e    corev1.Event
		want []want
	}{
		{name: "pod event", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}, Reason: "Scheduled", Type: corev1.EventTypeNormal}},
		{name: "node event in default", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "node-1.1", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-1"}, Reason: "NodeReady"}},
		{name: "namespace mismatch", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "web"}},
			want: []want{invalidMsg("involvedObject.namespace", "does not match event.namespace")}},
		{name: "cluster object event outside default", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "node-1.1", Namespace: "team-a"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-1"}},
			want: []want{invalid("involvedObject.namespace")}},
		{name: "new-style event without reporting fields", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"}, EventTime: now,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}},
			want: []want{
				required("reportingController"), invalidMsg("reportingController", "name part must be non-empty"), invalidMsg("reportingController", "name part must consist of"),
				required("reportingInstance"), required("action"), required("reason"),
			}},
		{name: "new-style event", e: corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"}, EventTime: now,
			InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			ReportingController: "capstan.io/scheduler", ReportingInstance: "scheduler-1", Action: "Binding", Reason: "Scheduled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, "Event()", Event(&tt.e), tt.want...)
		})
	}
}

func TestMetadataOnlyUpdates(t *testing.T) {
	tests := []struct {
		name string
		call func() field.ErrorList
		want []want
	}{
		{name: "namespace label", call: func() field.ErrorList {
			old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}}
			ns := old.DeepCopy()
			ns.Labels = map[string]string{"team": "x"}
			return NamespaceUpdate(ns, old)
		}},
		{name: "namespace finalize", call: func() field.ErrorList {
			old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}
			ns := old.DeepCopy()
			ns.Spec.Finalizers = []corev1.FinalizerName{"cleanup"}
			return NamespaceFinalizeUpdate(ns, old)
		}, want: []want{invalid("spec.finalizers[0]")}},
		{name: "service account renamed", call: func() field.ErrorList {
			old := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", ResourceVersion: "1"}}
			sa := old.DeepCopy()
			sa.Name = "b"
			return ServiceAccountUpdate(sa, old)
		}, want: []want{invalidMsg("metadata.name", "field is immutable")}},
		{name: "endpoints new address", call: func() field.ErrorList {
			old := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"}}
			e := old.DeepCopy()
			e.Subsets = []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.244.1.6"}}}}
			return EndpointsUpdate(e, old)
		}},
		{name: "event count", call: func() field.ErrorList {
			old := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default", ResourceVersion: "1"}, InvolvedObject: corev1.ObjectReference{Namespace: "default"}, Count: 1}
			e := old.DeepCopy()
			e.Count = 2
			return EventUpdate(e, old)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.name, tt.call(), tt.want...)
		})
	}
}
