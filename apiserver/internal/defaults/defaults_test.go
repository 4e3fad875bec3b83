package defaults

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// checkDefaults compares the JSON form of got with the YAML want, which must
// list every field got has.
func checkDefaults(t *testing.T, call string, got interface{}, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	var g, w interface{}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("json.Unmarshal() = %v", err)
	}
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("yaml.Unmarshal(want) = %v", err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", call, diff)
	}
}

func TestContainerImagePullPolicy(t *testing.T) {
	tests := []struct {
		name  string
		image string
		set   corev1.PullPolicy
		want  corev1.PullPolicy
	}{
		{name: "untagged", image: "nginx", want: corev1.PullAlways},
		{name: "latest", image: "nginx:latest", want: corev1.PullAlways},
		{name: "tagged", image: "nginx:1.25", want: corev1.PullIfNotPresent},
		{name: "digest", image: "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31", want: corev1.PullIfNotPresent},
		{name: "registry with port, untagged", image: "registry.local:5000/team/app", want: corev1.PullAlways},
		{name: "registry with port, tagged", image: "registry.local:5000/team/app:v1", want: corev1.PullIfNotPresent},
		{name: "unparsable", image: "NGINX", want: corev1.PullIfNotPresent},
		{name: "explicit policy kept", image: "nginx", set: corev1.PullNever, want: corev1.PullNever},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := corev1.Container{Name: "c", Image: tt.image, ImagePullPolicy: tt.set}
			Container(&c)
			if c.ImagePullPolicy != tt.want {
				t.Errorf("Container(image %q).ImagePullPolicy = %q; want %q", tt.image, c.ImagePullPolicy, tt.want)
			}
		})
	}
}

func TestPod(t *testing.T) {
	base := func(mutate func(p *corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v1"}}},
		}
		mutate(p)
		return p
	}
	const podDefaults = `
dnsPolicy: ClusterFirst
enableServiceLinks: true
preemptionPolicy: PreemptLowerPriority
priority: 0
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
serviceAccount: default
serviceAccountName: default
terminationGracePeriodSeconds: 30
tolerations:
- {effect: NoExecute, key: node.kubernetes.io/not-ready, operator: Exists, tolerationSeconds: 300}
- {effect: NoExecute, key: node.kubernetes.io/unreachable, operator: Exists, tolerationSeconds: 300}
`
	const appContainer = `
- image: app:v1
  imagePullPolicy: IfNotPresent
  name: app
  resources: {}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
`
	tests := []struct {
		name string
		in   *corev1.Pod
		want string
	}{
		{name: "minimal", in: base(func(p *corev1.Pod) {}), want: "containers:" + appContainer + podDefaults},
		{name: "volumes", in: base(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "scratch"},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			}
		}), want: "containers:" + appContainer + podDefaults + `
volumes:
- emptyDir: {}
  name: scratch
- configMap: {defaultMode: 420, name: cfg}
  name: cfg
- name: creds
  secret: {defaultMode: 420, secretName: creds}
- hostPath: {path: /var/log, type: ""}
  name: host
- downwardAPI:
    defaultMode: 420
    items:
    - fieldRef: {apiVersion: v1, fieldPath: metadata.name}
      path: name
  name: info
- name: token
  projected:
    defaultMode: 420
    sources:
    - serviceAccountToken: {expirationSeconds: 3600, path: token}
`},
		{name: "container details", in: base(func(p *corev1.Pod) {
			c := &p.Spec.Containers[0]
			c.Ports = []corev1.ContainerPort{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {ContainerPort: 8080}}
			c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
			c.Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.0001"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}}
			c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
		}), want: `
containers:
- env:
  - name: POD
    valueFrom:
      fieldRef: {apiVersion: v1, fieldPath: metadata.name}
  image: app:v1
  imagePullPolicy: IfNotPresent
  lifecycle:
    preStop:
      httpGet: {path: /, port: 8080, scheme: HTTP}
  livenessProbe:
    failureThreshold: 3
    grpc: {port: 9090, service: ""}
    periodSeconds: 10
    successThreshold: 1
    timeoutSeconds: 1
  name: app
  ports:
  - {containerPort: 53, protocol: UDP}
  - {containerPort: 8080, protocol: TCP}
  resources:
    limits: {cpu: 1m, memory: 1Gi}
    requests: {cpu: 1m, memory: 512Mi}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
` + podDefaults},
		{name: "host network", in: base(func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9100}}
		}), want: `
containers:
- image: app:v1
  imagePullPolicy: IfNotPresent
  name: app
  ports:
  - {containerPort: 9100, hostPort: 9100, protocol: TCP}
  resources: {}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
hostNetwork: true
` + podDefaults},
		{name: "system priority class and own tolerations", in: base(func(p *corev1.Pod) {
			p.Spec.PriorityClassName = "system-node-critical"
			p.Spec.ServiceAccountName = "agent"
			p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}}
		}), want: "containers:" + appContainer + `
dnsPolicy: ClusterFirst
enableServiceLinks: true
preemptionPolicy: PreemptLowerPriority
priority: 2000001000
priorityClassName: system-node-critical
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
serviceAccount: agent
serviceAccountName: agent
terminationGracePeriodSeconds: 30
tolerations:
- {key: node.kubernetes.io/not-ready, operator: Exists}
- {effect: NoExecute, key: node.kubernetes.io/unreachable, operator: Exists, tolerationSeconds: 300}
`},
		{name: "custom priority class and tolerate everything", in: base(func(p *corev1.Pod) {
			p.Spec.PriorityClassName = "batch-low"
			p.Spec.DeprecatedServiceAccount = "legacy"
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		}), want: "containers:" + appContainer + `
dnsPolicy: ClusterFirst
enableServiceLinks: true
priorityClassName: batch-low
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
serviceAccount: legacy
serviceAccountName: legacy
terminationGracePeriodSeconds: 30
tolerations:
- {operator: Exists}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Pod(tt.in)
			tt.in.Spec.Tolerations = Tolerations(tt.in.Spec.Tolerations, 300)
			checkDefaults(t, "Pod().Spec", tt.in.Spec, tt.want)
		})
	}
}

func TestPodMetadataAndStatus(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy-node-1", Namespace: "kube-system", Annotations: map[string]string{"kubernetes.io/config.mirror": "abc"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "proxy", Image: "proxy:v1"}}},
		Status:     corev1.PodStatus{PodIP: "10.0.0.5", HostIP: "192.168.1.10"},
	}
	Pod(p)
	if p.Spec.ServiceAccountName != "" {
		t.Errorf("Pod(mirror).Spec.ServiceAccountName = %q; want empty", p.Spec.ServiceAccountName)
	}
	if p.Status.Phase != "" {
		t.Errorf("Pod().Status.Phase = %q; want empty (the registry sets it)", p.Status.Phase)
	}
	checkDefaults(t, "Pod().Status", p.Status, `
hostIP: 192.168.1.10
hostIPs: [{ip: 192.168.1.10}]
podIP: 10.0.0.5
podIPs: [{ip: 10.0.0.5}]
`)
}

func TestPodTemplateSpec(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "app:v1",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
	}}}}
	PodTemplateSpec(&tmpl)
	// Templates get neither Pod-only nor admission defaults.
	checkDefaults(t, "PodTemplateSpec().Spec", tmpl.Spec, `
containers:
- image: app:v1
  imagePullPolicy: IfNotPresent
  name: app
  resources:
    limits: {cpu: "1"}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: File
dnsPolicy: ClusterFirst
restartPolicy: Always
schedulerName: default-scheduler
securityContext: {}
terminationGracePeriodSeconds: 30
`)
}

func TestService(t *testing.T) {
	tests := []struct {
		name string
		in   corev1.ServiceSpec
		want string
	}{
		{name: "cluster IP", in: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}},
		}, want: `
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {port: 80, protocol: TCP, targetPort: 80}
- {name: dns, port: 53, protocol: UDP, targetPort: dns}
selector: {app: web}
sessionAffinity: None
type: ClusterIP
`},
		{name: "allocated cluster IP", in: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}}}, want: `
clusterIP: 10.96.0.10
clusterIPs: [10.96.0.10]
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {port: 443, protocol: TCP, targetPort: 8443}
sessionAffinity: None
type: ClusterIP
`},
		{name: "node port", in: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}, want: `
externalTrafficPolicy: Cluster
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {port: 80, protocol: TCP, targetPort: 80}
sessionAffinity: None
type: NodePort
`},
		{name: "load balancer", in: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}, want: `
allocateLoadBalancerNodePorts: true
externalTrafficPolicy: Cluster
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {port: 80, protocol: TCP, targetPort: 80}
sessionAffinity: None
type: LoadBalancer
`},
		{name: "client IP affinity", in: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 80}}}, want: `
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {port: 80, protocol: TCP, targetPort: 80}
sessionAffinity: ClientIP
sessionAffinityConfig:
  clientIP: {timeoutSeconds: 10800}
type: ClusterIP
`},
		{name: "headless without selector", in: corev1.ServiceSpec{ClusterIP: "None"}, want: `
clusterIP: None
clusterIPs: [None]
internalTrafficPolicy: Cluster
ipFamilyPolicy: RequireDualStack
sessionAffinity: None
type: ClusterIP
`},
		{name: "external name", in: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}, want: `
externalName: db.example.com
sessionAffinity: None
type: ExternalName
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &corev1.Service{Spec: tt.in}
			Service(s)
			checkDefaults(t, "Service().Spec", s.Spec, tt.want)
		})
	}
}

func TestServiceLoadBalancerStatus(t *testing.T) {
	s := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{
		Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}, {Hostname: "lb.example.com"}},
	}}}
	Service(s)
	checkDefaults(t, "Service().Status", s.Status, `
loadBalancer:
  ingress:
  - {ip: 203.0.113.7, ipMode: VIP}
  - {hostname: lb.example.com}
`)
}

func TestUpdate(t *testing.T) {
	oldSvc := &corev1.Service{Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}, {Name: "https", Port: 443, NodePort: 30443}},
	}}
	Apply(oldSvc)
	newSvc := &corev1.Service{Spec: corev1.ServiceSpec{
		Type:  corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Name: "http", Port: 8080}, {Name: "https", Port: 443, NodePort: 30080}},
	}}
	Update(newSvc, oldSvc)
	checkDefaults(t, "Update(Service).Spec", newSvc.Spec, `
clusterIP: 10.96.0.10
clusterIPs: [10.96.0.10]
externalTrafficPolicy: Cluster
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ports:
- {name: http, port: 8080, protocol: TCP, targetPort: 8080}
- {name: https, nodePort: 30080, port: 443, protocol: TCP, targetPort: 443}
sessionAffinity: None
type: NodePort
`)

	oldPod := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "batch-low", Priority: ptrTo(int32(100)), PreemptionPolicy: ptrTo(corev1.PreemptNever)}}
	newPod := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "batch-low"}}
	Update(newPod, oldPod)
	if newPod.Spec.Priority == nil || *newPod.Spec.Priority != 100 || newPod.Spec.PreemptionPolicy == nil || *newPod.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("Update(Pod) priority = %v, %v; want 100, Never", newPod.Spec.Priority, newPod.Spec.PreemptionPolicy)
	}

	// An old object of another type is ignored.
	cm := &corev1.ConfigMap{}
	Update(newPod, cm)
}

func TestNamespace(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	Apply(ns)
	checkDefaults(t, "Apply(Namespace)", ns, `
metadata:
  creationTimestamp: null
  labels: {kubernetes.io/metadata.name: team-a}
  name: team-a
spec: {}
status: {phase: Active}
`)
	Create(ns)
	checkDefaults(t, "Create(Namespace)", ns, `
metadata:
  creationTimestamp: null
  labels: {kubernetes.io/metadata.name: team-a}
  name: team-a
spec: {finalizers: [kubernetes]}
status: {phase: Active}
`)
	Create(ns)
	if len(ns.Spec.Finalizers) != 1 {
		t.Errorf("Create(Namespace) twice: finalizers = %v; want [kubernetes]", ns.Spec.Finalizers)
	}
}

func TestNode(t *testing.T) {
	n := &corev1.Node{
		Spec:   corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")}},
	}
	Apply(n)
	checkDefaults(t, "Apply(Node)", n, `
metadata: {creationTimestamp: null}
spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}
status:
  allocatable: {cpu: "4", pods: "110"}
  capacity: {cpu: "4", pods: "110"}
  daemonEndpoints: {kubeletEndpoint: {Port: 0}}
  nodeInfo: {architecture: "", bootID: "", containerRuntimeVersion: "", kernelVersion: "", kubeProxyVersion: "", kubeletVersion: "", machineID: "", operatingSystem: "", osImage: "", systemUUID: ""}
`)
}

func TestSecretAndEndpoints(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("1")}, StringData: map[string]string{"b": "2", "a": "3"}}
	Apply(s)
	checkDefaults(t, "Apply(Secret)", s, `
metadata: {creationTimestamp: null}
data: {a: Mw==, b: Mg==}
type: Opaque
`)
	e := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	Apply(e)
	checkDefaults(t, "Apply(Endpoints).Subsets", e.Subsets, `[{ports: [{port: 80, protocol: TCP}]}]`)
}

func TestWorkloads(t *testing.T) {
	tmpl := func() corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v1"}}}}
	}
	const tmplSpec = `
    containers:
    - {image: "app:v1", imagePullPolicy: IfNotPresent, name: app, resources: {}, terminationMessagePath: /dev/termination-log, terminationMessagePolicy: File}
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
`
	tests := []struct {
		name string
		obj  runtime.Object
		spec func() interface{}
		want string
	}{
		{name: "Deployment with Recreate", obj: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}, Template: tmpl()}}, want: `
progressDeadlineSeconds: 600
replicas: 1
revisionHistoryLimit: 10
selector: null
strategy: {type: Recreate}
template:
  metadata: {creationTimestamp: null}
  spec:` + tmplSpec},
		{name: "ReplicaSet", obj: &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl()}}, want: `
replicas: 1
selector: null
template:
  metadata: {creationTimestamp: null}
  spec:` + tmplSpec},
		{name: "DaemonSet", obj: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl()}}, want: `
revisionHistoryLimit: 10
selector: null
template:
  metadata: {creationTimestamp: null}
  spec:` + tmplSpec + `
updateStrategy:
  rollingUpdate: {maxSurge: 0, maxUnavailable: 1}
  type: RollingUpdate
`},
		{name: "StatefulSet", obj: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tmpl(), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		}}}}, want: `
persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}
podManagementPolicy: OrderedReady
replicas: 1
revisionHistoryLimit: 10
selector: null
serviceName: ""
template:
  metadata: {creationTimestamp: null}
  spec:` + tmplSpec + `
updateStrategy:
  rollingUpdate: {partition: 0}
  type: RollingUpdate
volumeClaimTemplates:
- metadata: {creationTimestamp: null, name: data}
  spec:
    accessModes: [ReadWriteOnce]
    resources: {requests: {storage: 1Gi}}
    volumeMode: Filesystem
  status: {phase: Pending}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Apply(tt.obj)
			var spec interface{}
			switch o := tt.obj.(type) {
			case *appsv1.Deployment:
				spec = o.Spec
			case *appsv1.ReplicaSet:
				spec = o.Spec
			case *appsv1.DaemonSet:
				spec = o.Spec
			case *appsv1.StatefulSet:
				spec = o.Spec
			}
			checkDefaults(t, "Apply().Spec", spec, tt.want)
		})
	}
}

func TestJob(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pi"}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34"}}},
	}
	tests := []struct {
		name                       string
		completions, parallelism   *int32
		perIndex                   *int32
		failurePolicy              bool
		wantCompletions, wantPar   *int32
		wantBackoff                int32
		wantReplacement            batchv1.PodReplacementPolicy
		wantFailurePolicyCondition corev1.ConditionStatus
	}{
		{name: "neither set", wantCompletions: ptrTo(int32(1)), wantPar: ptrTo(int32(1)), wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "completions only", completions: ptrTo(int32(5)), wantCompletions: ptrTo(int32(5)), wantPar: ptrTo(int32(1)), wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "parallelism only", parallelism: ptrTo(int32(3)), wantPar: ptrTo(int32(3)), wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "backoff per index", completions: ptrTo(int32(3)), perIndex: ptrTo(int32(1)), wantCompletions: ptrTo(int32(3)), wantPar: ptrTo(int32(1)), wantBackoff: 2147483647, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "pod failure policy", failurePolicy: true, wantCompletions: ptrTo(int32(1)), wantPar: ptrTo(int32(1)), wantBackoff: 6, wantReplacement: batchv1.Failed, wantFailurePolicyCondition: corev1.ConditionTrue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "6f0c9c2e-0000-4000-8000-000000000001"}, Spec: batchv1.JobSpec{
				Completions: tt.completions, Parallelism: tt.parallelism, BackoffLimitPerIndex: tt.perIndex, Template: *tmpl.DeepCopy(),
			}}
			if tt.failurePolicy {
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
				}}}
			}
			Apply(j)
			s := j.Spec
			if !cmp.Equal(s.Completions, tt.wantCompletions) || !cmp.Equal(s.Parallelism, tt.wantPar) {
				t.Errorf("Job() completions, parallelism = %v, %v; want %v, %v", s.Completions, s.Parallelism, tt.wantCompletions, tt.wantPar)
			}
			if *s.BackoffLimit != tt.wantBackoff {
				t.Errorf("Job().BackoffLimit = %d; want %d", *s.BackoffLimit, tt.wantBackoff)
			}
			if *s.PodReplacementPolicy != tt.wantReplacement {
				t.Errorf("Job().PodReplacementPolicy = %s; want %s", *s.PodReplacementPolicy, tt.wantReplacement)
			}
			if *s.CompletionMode != batchv1.NonIndexedCompletion || *s.Suspend {
				t.Errorf("Job() completionMode, suspend = %s, %v; want NonIndexed, false", *s.CompletionMode, *s.Suspend)
			}
			if tt.failurePolicy && s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != tt.wantFailurePolicyCondition {
				t.Errorf("Job() pod failure condition status = %q; want %q", s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status, tt.wantFailurePolicyCondition)
			}
			if !cmp.Equal(j.Labels, map[string]string{"app": "pi"}) {
				t.Errorf("Job().Labels = %v; want the template labels", j.Labels)
			}
		})
	}
}

func TestJobCreate(t *testing.T) {
	tests := []struct {
		name         string
		uid          string
		manual       bool
		wantSelector *metav1.LabelSelector
		wantLabels   map[string]string
	}{
		{name: "generated", uid: "u1", wantSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1"}},
			wantLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u1", "job-name": "pi"}},
		{name: "manual selector", uid: "u1", manual: true},
		{name: "no uid yet", uid: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u1"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "perl"}}},
			}}}
			j.UID = "u1"
			if tt.uid == "" {
				j.UID = ""
			}
			if tt.manual {
				j.Spec.ManualSelector = ptrTo(true)
			}
			Create(j)
			if !cmp.Equal(j.Spec.Selector, tt.wantSelector) {
				t.Errorf("Create(Job).Spec.Selector = %v; want %v", j.Spec.Selector, tt.wantSelector)
			}
			if !cmp.Equal(j.Spec.Template.Labels, tt.wantLabels) {
				t.Errorf("Create(Job) template labels = %v; want %v", j.Spec.Template.Labels, tt.wantLabels)
			}
			if !cmp.Equal(j.Labels, tt.wantLabels) {
				t.Errorf("Create(Job) labels = %v; want %v", j.Labels, tt.wantLabels)
			}
		})
	}
}

func TestCronJob(t *testing.T) {
	cj := &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}},
	}}}}
	Apply(cj)
	checkDefaults(t, "Apply(CronJob).Spec", cj.Spec, `
concurrencyPolicy: Allow
failedJobsHistoryLimit: 1
jobTemplate:
  metadata: {creationTimestamp: null}
  spec:
    template:
      metadata: {creationTimestamp: null}
      spec:
        containers:
        - {image: "busybox:1.36", imagePullPolicy: IfNotPresent, name: c, resources: {}, terminationMessagePath: /dev/termination-log, terminationMessagePolicy: File}
        dnsPolicy: ClusterFirst
        restartPolicy: OnFailure
        schedulerName: default-scheduler
        securityContext: {}
        terminationGracePeriodSeconds: 30
schedule: '@daily'
successfulJobsHistoryLimit: 3
suspend: false
`)
}

func TestDiscoveryAndRBAC(t *testing.T) {
	es := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptrTo(int32(80))}}}
	Apply(es)
	checkDefaults(t, "Apply(EndpointSlice).Ports", es.Ports, `[{name: "", port: 80, protocol: TCP}]`)

	subjects := []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Name: "sa", Namespace: "ci"}}
	rb := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, Subjects: append([]rbacv1.Subject(nil), subjects...)}
	Apply(rb)
	crb := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: append([]rbacv1.Subject(nil), subjects...)}
	Apply(crb)
	const wantSubjects = `
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
- {kind: ServiceAccount, name: sa, namespace: ci}
`
	checkDefaults(t, "Apply(RoleBinding).Subjects", rb.Subjects, wantSubjects)
	checkDefaults(t, "Apply(ClusterRoleBinding).Subjects", crb.Subjects, wantSubjects)
	if rb.RoleRef.APIGroup != rbacv1.GroupName || crb.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("Apply() roleRef.apiGroup = %q, %q; want %q", rb.RoleRef.APIGroup, crb.RoleRef.APIGroup, rbacv1.GroupName)
	}
}

// TestApplyIdempotent checks that a second Apply changes nothing, for every
// type Apply knows.
func TestApplyIdempotent(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
	objs := []runtime.Object{
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: *tmpl.Spec.DeepCopy()},
		&corev1.PodTemplate{Template: *tmpl.DeepCopy()},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}},
		&corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}},
		&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}},
		&corev1.Secret{StringData: map[string]string{"a": "b"}},
		&corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: tmpl.DeepCopy()}},
		&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: *tmpl.DeepCopy()}},
		&appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: *tmpl.DeepCopy()}},
		&appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: *tmpl.DeepCopy()}},
		&appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: *tmpl.DeepCopy()}},
		&batchv1.Job{Spec: batchv1.JobSpec{Template: *tmpl.DeepCopy()}},
		&batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: *tmpl.DeepCopy()}}}},
		&discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{}}},
		&rbacv1.RoleBinding{Subjects: []rbacv1.Subject{{Kind: "User", Name: "u"}}},
		&rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: "Group", Name: "g"}}},
		&corev1.ConfigMap{Data: map[string]string{"k": "v"}},
	}
	for _, obj := range objs {
		t.Run(fmt.Sprintf("%T", obj), func(t *testing.T) {
			Apply(obj)
			once := obj.DeepCopyObject()
			Apply(obj)
			if diff := cmp.Diff(asJSON(t, once), asJSON(t, obj)); diff != "" {
				t.Errorf("Apply(Apply(%T)) changed the object (-once +twice):\n%s", obj, diff)
			}
		})
	}
}

func asJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	return string(b)
}

func TestApplyIgnoresUnknownAndNil(t *testing.T) {
	pv := &corev1.PersistentVolume{}
	Apply(pv)
	if pv.Status.Phase != "" || pv.Spec.PersistentVolumeReclaimPolicy != "" {
		t.Errorf("Apply(PersistentVolume) = %+v; want unchanged", pv)
	}
	var p *corev1.Pod
	Apply(p)
	Create(p)
	Update(p, p)
}
