package validation

import (
	"strings"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestPod(t *testing.T) {
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		// raw skips re-applying defaults after mutate.
		raw  bool
		want []want
	}{
		{name: "valid", mutate: func(p *corev1.Pod) {}},
		{name: "no containers", mutate: func(p *corev1.Pod) { p.Spec.Containers = nil }, want: []want{required("spec.containers")}},
		{name: "container name missing", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, want: []want{required("spec.containers[0].name")}},
		{name: "container name not a DNS label", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Nginx_1" }, want: []want{invalid("spec.containers[0].name")}},
		{name: "duplicate container names", mutate: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "nginx", Image: "busybox"})
		}, want: []want{duplicate("spec.containers[1].name")}},
		{name: "init container named like a container", mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "nginx", Image: "busybox"}}
		}, want: []want{duplicate("spec.initContainers[0].name")}},
		{name: "image missing", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, want: []want{required("spec.containers[0].image")}},
		{name: "image with surrounding space", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, want: []want{invalidMsg("spec.containers[0].image", "leading or trailing whitespace")}},
		{name: "container port out of range", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, want: []want{invalid("spec.containers[0].ports[0].containerPort")}},
		{name: "container port missing", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, want: []want{required("spec.containers[0].ports[0].containerPort")}},
		{name: "duplicate port names", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81})
		}, want: []want{duplicate("spec.containers[0].ports[1].name")}},
		{name: "unknown port protocol", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, want: []want{notSupported("spec.containers[0].ports[0].protocol")}},
		{name: "host port out of range", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 70000 }, want: []want{invalid("spec.containers[0].ports[0].hostPort")}},
		{name: "host port used twice", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 90, HostPort: 8080}}})
		}, want: []want{duplicate("spec.containers[1].ports[0].hostPort")}},
		{name: "host port differs under hostNetwork", mutate: func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 8080
		}, want: []want{invalidMsg("spec.containers[0].ports[0].hostPort", "must match `containerPort`")}},
		{name: "env name missing", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} }, want: []want{required("spec.containers[0].env[0].name")}},
		{name: "env name with equals sign", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} }, want: []want{invalid("spec.containers[0].env[0].name")}},
		{name: "env name with dash is relaxed-valid", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "my-var.1"}} }},
		{name: "env valueFrom with two sources", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"},
			}}}
		}, want: []want{invalidMsg("spec.containers[0].env[0].valueFrom", "may not have more than one field specified at a time")}},
		{name: "env valueFrom without source", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}}
		}, want: []want{invalidMsg("spec.containers[0].env[0].valueFrom", "must specify one of")}},
		{name: "env value and valueFrom", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}, want: []want{invalidMsg("spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty")}},
		{name: "env fieldRef path not allowed for env", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.phase"}}}}
		}, want: []want{notSupported("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")}},
		{name: "env fieldRef unknown path", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.foo"}}}}
		}, want: []want{invalidMsg("spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "field label not supported: spec.foo")}},
		{name: "env fieldRef label subscript", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}
		}},
		{name: "duplicate volume names", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: emptyDir}, {Name: "a", VolumeSource: emptyDir}}
		}, want: []want{duplicate("spec.volumes[1].name")}},
		{name: "volume with two sources", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
		}, want: []want{forbiddenMsg("spec.volumes[0].hostPath", "may not specify more than 1 volume type")}},
		{name: "volume without usable source", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}}}}
		}, want: []want{required("spec.volumes[0]")}},
		{name: "volume name not a DNS label", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "Data", VolumeSource: emptyDir}}
		}, want: []want{invalid("spec.volumes[0].name")}},
		{name: "mount of unknown volume", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, want: []want{notFound("spec.containers[0].volumeMounts[0].name")}},
		{name: "two mounts on one path", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: emptyDir}, {Name: "b", VolumeSource: emptyDir}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data"}, {Name: "b", MountPath: "/data"}}
		}, want: []want{invalidMsg("spec.containers[0].volumeMounts[1].mountPath", "must be unique")}},
		{name: "absolute subPath", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: emptyDir}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data", SubPath: "/etc"}}
		}, want: []want{invalidMsg("spec.containers[0].volumeMounts.subPath", "must be a relative path")}},
		{name: "secret volume without name", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}}
		}, want: []want{required("spec.volumes[0].secret.secretName")}},
		{name: "configMap volume bad mode", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, DefaultMode: ptr(int32(01000))}}}}
		}, want: []want{invalid("spec.volumes[0].configMap.defaultMode")}},
		{name: "downward API path with backstep", mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "../x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}}}
		}, want: []want{invalidMsg("spec.volumes[0].downwardAPI.path", "must not contain '..'")}},
		{name: "negative request", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
		}, want: []want{invalidMsg("spec.containers[0].resources.requests[cpu]", "must be greater than or equal to 0")}},
		{name: "request above limit", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
		}, want: []want{invalidMsg("spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 500m")}},
		{name: "unknown unprefixed resource", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"gpu": resource.MustParse("1")}
		}, want: []want{
			invalidMsg("spec.containers[0].resources.limits[gpu]", "must be a standard resource type or fully qualified"),
			invalidMsg("spec.containers[0].resources.limits[gpu]", "must be a standard resource for containers"),
			invalidMsg("spec.containers[0].resources.requests[gpu]", "must be a standard resource type or fully qualified"),
			invalidMsg("spec.containers[0].resources.requests[gpu]", "must be a standard resource for containers"),
		}},
		{name: "fractional extended resource", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("500m")}
		}, want: []want{
			invalidMsg("spec.containers[0].resources.limits[example.com/gpu]", "must be an integer"),
			invalidMsg("spec.containers[0].resources.requests[example.com/gpu]", "must be an integer"),
		}},
		{name: "unknown restart policy", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, want: []want{notSupported("spec.restartPolicy")}},
		{name: "unknown DNS policy", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = "Fancy" }, want: []want{notSupported("spec.dnsPolicy")}},
		{name: "DNS policy None without config", mutate: func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, want: []want{required("spec.dnsConfig")}},
		{name: "probe without handler", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe = &corev1.Probe{} }, want: []want{required("spec.containers[0].livenessProbe")}},
		{name: "probe with two handlers", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec:      &corev1.ExecAction{Command: []string{"true"}},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
			}}
		}, want: []want{forbiddenMsg("spec.containers[0].livenessProbe.tcpSocket", "may not specify more than 1 handler type")}},
		{name: "liveness probe success threshold", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}
		}, want: []want{invalidMsg("spec.containers[0].livenessProbe.successThreshold", "must be 1")}},
		{name: "negative probe period", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}, PeriodSeconds: -1}
		}, want: []want{invalid("spec.containers[0].readinessProbe.periodSeconds")}},
		{name: "probe port name invalid", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("HTTP_PORT")}}}
		}, want: []want{
			invalidMsg("spec.containers[0].readinessProbe.httpGet.port", "must contain only alpha-numeric characters"),
			invalidMsg("spec.containers[0].readinessProbe.httpGet.port", "must contain at least one letter"),
		}},
		{name: "preStop sleep longer than grace period", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}}
		}, want: []want{invalid("spec.containers[0].lifecycle.preStop.sleep")}},
		{name: "termination grace period missing", raw: true, mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }, want: []want{required("spec.terminationGracePeriodSeconds")}},
		{name: "active deadline zero", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(0)) }, want: []want{invalid("spec.activeDeadlineSeconds")}},
		{name: "invalid node selector", mutate: func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key!": "v"} }, want: []want{invalid("spec.nodeSelector")}},
		{name: "toleration Exists with value", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, want: []want{invalidMsg("spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'")}},
		{name: "toleration unknown operator", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "In"}}
		}, want: []want{notSupported("spec.tolerations[0].operator")}},
		{name: "toleration unknown effect", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "Sometimes"}}
		}, want: []want{notSupported("spec.tolerations[0].effect")}},
		{name: "tolerationSeconds without NoExecute", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr(int64(10))}}
		}, want: []want{invalid("spec.tolerations[0].effect")}},
		{name: "toleration empty key needs Exists", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual}}
		}, want: []want{invalidMsg("spec.tolerations[0].operator", "operator must be Exists when `key` is empty")}},
		{name: "required node affinity without terms", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, want: []want{required("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")}},
		{name: "node affinity unknown operator", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Near", Values: []string{"a"}}}}},
			}}}
		}, want: []want{invalid("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator")}},
		{name: "node affinity In without values", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}},
			}}}
		}, want: []want{required("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values")}},
		{name: "pod anti-affinity without topology key", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			}}}}
		}, want: []want{
			required("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"),
			invalidMsg("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "name part must be non-empty"),
			invalidMsg("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "name part must consist of"),
		}},
		{name: "topology spread maxSkew zero", mutate: func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, want: []want{invalid("spec.topologySpreadConstraints[0].maxSkew")}},
		{name: "ephemeral containers on create", mutate: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, want: []want{forbiddenMsg("spec.ephemeralContainers", "cannot be set on create")}},
		{name: "sidecar init container", mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "envoy", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(15000)}}}}}
		}},
		{name: "init container restart policy Never", mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", RestartPolicy: ptr(corev1.ContainerRestartPolicy("Never"))}}
		}, want: []want{notSupported("spec.initContainers[0].restartPolicy")}},
		{name: "init container with probe", mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox",
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, want: []want{forbidden("spec.initContainers[0].livenessProbe")}},
		{name: "regular container restart policy", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		}, want: []want{forbidden("spec.containers[0].restartPolicy")}},
		{name: "unknown image pull policy", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" }, want: []want{notSupported("spec.containers[0].imagePullPolicy")}},
		{name: "invalid service account name", mutate: func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Bad_SA" }, want: []want{invalid("spec.serviceAccountName")}},
		{name: "negative runAsUser", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(-1))}
		}, want: []want{invalid("spec.containers[0].securityContext.runAsUser")}},
		{name: "negative fsGroup", mutate: func(p *corev1.Pod) { p.Spec.SecurityContext.FSGroup = ptr(int64(-1)) }, want: []want{invalid("spec.securityContext.fsGroup")}},
		{name: "net sysctl with hostNetwork", mutate: func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
		}, want: []want{invalidMsg("spec.securityContext.sysctls[0].name", "may not be specified when 'hostNetwork' is true")}},
		{name: "unknown preemption policy", mutate: func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr(corev1.PreemptionPolicy("Sometimes")) }, want: []want{notSupported("spec.preemptionPolicy")}},
		{name: "service account token without service account", raw: true, mutate: func(p *corev1.Pod) {
			p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "", ""
			p.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr(int32(0644)),
				Sources:     []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3600))}}},
			}}}}
		}, want: []want{forbidden("spec.volumes[0].projected.sources[0].serviceAccountToken")}},
		{name: "mirror pod without node", mutate: func(p *corev1.Pod) {
			p.Annotations = map[string]string{"kubernetes.io/config.mirror": "abc"}
		}, want: []want{invalid("metadata.annotations[kubernetes.io/config.mirror]")}},
		{name: "bad deletion cost", mutate: func(p *corev1.Pod) {
			p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": "+1"}
		}, want: []want{invalidMsg("metadata.annotations[controller.kubernetes.io/pod-deletion-cost]", "must be a 32bit integer")}},
		{name: "name not a DNS subdomain", mutate: func(p *corev1.Pod) { p.Name = "Web" }, want: []want{invalid("metadata.name")}},
		{name: "name missing", mutate: func(p *corev1.Pod) { p.Name = "" }, want: []want{required("metadata.name")}},
		{name: "namespace missing", mutate: func(p *corev1.Pod) { p.Namespace = "" }, want: []want{required("metadata.namespace")}},
		{name: "invalid generateName", mutate: func(p *corev1.Pod) { p.GenerateName = "Web-" }, want: []want{invalid("metadata.generateName")}},
		{name: "label value too long", mutate: func(p *corev1.Pod) { p.Labels["app"] = strings.Repeat("a", 64) }, want: []want{invalid("metadata.labels")}},
		{name: "annotations too large", mutate: func(p *corev1.Pod) {
			p.Annotations = map[string]string{"big": strings.Repeat("x", 300*1024)}
		}, want: []want{tooLong("metadata.annotations")}},
		{name: "unqualified finalizer", mutate: func(p *corev1.Pod) { p.Finalizers = []string{"cleanup"} }, want: []want{invalidMsg("metadata.finalizers[0]", "neither a standard finalizer name nor is it fully qualified")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			tt.mutate(p)
			if !tt.raw {
				defaults.Apply(p)
			}
			checkErrors(t, "Pod()", Pod(p), tt.want...)
		})
	}
}

// podUpdateCase is an update of storedPod: old, if set, adjusts the stored
// pod, and mutate turns a copy of it into the update.
type podUpdateCase struct {
	name   string
	old    func(p *corev1.Pod)
	mutate func(p *corev1.Pod)
	want   []want
}

// runPodUpdateCases checks validate, the pod update validation named call,
// on each of tests.
func runPodUpdateCases(t *testing.T, call string, validate func(p, old *corev1.Pod) field.ErrorList, tests []podUpdateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod()
			if tt.old != nil {
				tt.old(old)
			}
			p := old.DeepCopy()
			tt.mutate(p)
			checkErrors(t, call, validate(p, old), tt.want...)
		})
	}
}

func TestPodUpdate(t *testing.T) {
	tests := []podUpdateCase{
		{name: "image change", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.27" }},
		{name: "label change", mutate: func(p *corev1.Pod) { p.Labels["tier"] = "front" }},
		{name: "port change", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 }, want: []want{
			forbiddenMsg("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
		}},
		{name: "resources change", old: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
		}, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("200m")
		}, want: []want{forbiddenMsg("spec", "Requests")}},
		{name: "added container", mutate: func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name = "second"
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, want: []want{forbiddenMsg("spec.containers", "pod updates may not add or remove containers")}},
		{name: "active deadline raised", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(30)) }, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(60)) },
			want: []want{invalidMsg("spec.activeDeadlineSeconds", "must be less than or equal to previous value")}},
		{name: "active deadline lowered", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(30)) }, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(10)) }},
		{name: "active deadline set", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(10)) }},
		{name: "active deadline removed", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(30)) }, mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			want: []want{invalidMsg("spec.activeDeadlineSeconds", "must not update from a positive integer to nil value")}},
		{name: "toleration added", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}},
		{name: "toleration removed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] },
			want: []want{forbiddenMsg("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")}},
		{name: "tolerationSeconds changed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr(int64(60)) }},
		{name: "name changed", mutate: func(p *corev1.Pod) { p.Name = "web2" }, want: []want{invalidMsg("metadata.name", "field is immutable")}},
		{name: "resourceVersion missing", mutate: func(p *corev1.Pod) { p.ResourceVersion = "" }, want: []want{invalidMsg("metadata.resourceVersion", "must be specified for an update")}},
		{name: "grace period changed", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(60)) }, want: []want{forbidden("spec")}},
		{name: "negative grace period set to 1", old: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(-1)) }, mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(1)) }},
		{name: "scheduling gate removed", old: func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }, mutate: func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }},
		{name: "scheduling gate added", mutate: func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} },
			want: []want{forbidden("spec.schedulingGates[0].name")}},
		{name: "gated pod gains node selector", old: func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} },
			mutate: func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a"} }},
		{name: "gated pod changes node selector", old: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
			p.Spec.NodeSelector = map[string]string{"zone": "a"}
		}, mutate: func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "b"} }, want: []want{invalid("spec.nodeSelector")}},
		{name: "mirror annotation added", old: func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, mutate: func(p *corev1.Pod) {
			p.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
		}, want: []want{forbidden("metadata.annotations[kubernetes.io/config.mirror]")}},
	}
	runPodUpdateCases(t, "PodUpdate()", PodUpdate, tests)
}

func TestPodStatusUpdate(t *testing.T) {
	running := func(p *corev1.Pod) {
		p.Spec.NodeName = "node-1"
		p.Status = corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      "10.0.0.5",
			PodIPs:     []corev1.PodIP{{IP: "10.0.0.5"}},
			HostIP:     "192.168.1.10",
			HostIPs:    []corev1.HostIP{{IP: "192.168.1.10"}},
			QOSClass:   corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: "example.com/ready", Status: corev1.ConditionTrue}},
		}
	}
	tests := []podUpdateCase{
		{name: "running", old: func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Status.QOSClass = corev1.PodQOSBestEffort
		}, mutate: running},
		{name: "dual-stack pod IPs", old: running, mutate: func(p *corev1.Pod) { p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00::5"}) }},
		{name: "invalid pod IP", old: running, mutate: func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.300"}} },
			want: []want{invalid("status.podIPs[0]")}},
		{name: "two IPv4 pod IPs", old: running, mutate: func(p *corev1.Pod) { p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "10.0.0.6"}) },
			want: []want{invalidMsg("status.podIPs", "may specify no more than one IP for each IP family")}},
		{name: "host IP mismatch", old: running, mutate: func(p *corev1.Pod) { p.Status.HostIPs = []corev1.HostIP{{IP: "192.168.1.11"}} },
			want: []want{invalidMsg("status.hostIPs[0].ip", "must be equal to `hostIP`")}},
		{name: "node name changed", old: running, mutate: func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, want: []want{forbidden("status.nodeName")}},
		{name: "qos class changed", old: running, mutate: func(p *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed }, want: []want{invalidMsg("status.qosClass", "field is immutable")}},
		{name: "invalid condition type", old: running, mutate: func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "bad type!", Status: corev1.ConditionTrue})
		}, want: []want{invalid("metadata.conditions[2].Type")}},
		{name: "terminated container revived", old: func(p *corev1.Pod) {
			running(p)
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "nginx", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
		}, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}, want: []want{forbidden("status.containerStatuses[0].state")}},
		{name: "failed container restarts under OnFailure", old: func(p *corev1.Pod) {
			running(p)
			p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "nginx", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}
		}, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}},
	}
	runPodUpdateCases(t, "PodStatusUpdate()", PodStatusUpdate, tests)
}

func TestBinding(t *testing.T) {
	tests := []struct {
		name string
		in   corev1.Binding
		want []want
	}{
		{name: "valid", in: corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}},
		{name: "no kind", in: corev1.Binding{Target: corev1.ObjectReference{Name: "node-1"}}},
		{name: "target name missing", in: corev1.Binding{Target: corev1.ObjectReference{Kind: "Node"}}, want: []want{required("target.name")}},
		{name: "target not a node", in: corev1.Binding{Target: corev1.ObjectReference{Kind: "Pod", Name: "x"}}, want: []want{notSupported("target.kind")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, "Binding()", Binding(&tt.in), tt.want...)
		})
	}
}

func TestEviction(t *testing.T) {
	bogus := metav1.DeletionPropagation("Sometimes")
	tests := []struct {
		name string
		in   policyv1.Eviction
		want []want
	}{
		{name: "valid", in: policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}},
		{name: "with delete options", in: policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}}},
		{name: "name missing", in: policyv1.Eviction{}, want: []want{required("metadata.name")}},
		{name: "bad propagation policy", in: policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web"}, DeleteOptions: &metav1.DeleteOptions{PropagationPolicy: &bogus}},
			want: []want{notSupported("propagationPolicy")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, "Eviction()", Eviction(&tt.in), tt.want...)
		})
	}
}
