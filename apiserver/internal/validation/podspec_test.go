package validation

import (
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestPodSpecDetails covers the less common volume sources and the security,
// DNS and scheduling settings of a pod template spec.
func TestPodSpecDetails(t *testing.T) {
	vol := func(src corev1.VolumeSource) func(s *corev1.PodSpec) {
		return func(s *corev1.PodSpec) { s.Volumes = []corev1.Volume{{Name: "v", VolumeSource: src}} }
	}
	tests := []struct {
		name   string
		mutate func(s *corev1.PodSpec)
		want   []want
	}{
		{name: "valid", mutate: func(s *corev1.PodSpec) {}},
		{name: "nfs relative path", mutate: vol(corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "data"}}),
			want: []want{invalidMsg("spec.volumes[0].nfs.path", "must be an absolute path")}},
		{name: "csi without driver", mutate: vol(corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{}}),
			want: []want{required("spec.volumes[0].csi.driver"), invalid("spec.volumes[0].csi.driver")}},
		{name: "ephemeral without claim template", mutate: vol(corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}),
			want: []want{required("spec.volumes[0].ephemeral.volumeClaimTemplate")}},
		{name: "ephemeral claim without storage", mutate: vol(corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
		}}}), want: []want{required("spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources[storage]")}},
		{name: "projected duplicate paths", mutate: vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "a"}, Items: []corev1.KeyToPath{{Key: "k", Path: "p"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "b"}, Items: []corev1.KeyToPath{{Key: "k", Path: "p"}}}},
		}}}), want: []want{invalidMsg("spec.volumes[0].projected", "conflicting duplicate paths")}},
		{name: "iscsi lun out of range", mutate: vol(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "10.0.0.1:3260", IQN: "iqn.2001-04.com.example:storage", Lun: 300}}),
			want: []want{invalid("spec.volumes[0].iscsi.lun")}},
		{name: "fc without targets", mutate: vol(corev1.VolumeSource{FC: &corev1.FCVolumeSource{}}), want: []want{required("spec.volumes[0].fc.targetWWNs")}},
		{name: "rbd without monitors", mutate: vol(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDImage: "img"}}), want: []want{required("spec.volumes[0].rbd.monitors")}},
		{name: "flex reserved option", mutate: vol(corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{Driver: "d", Options: map[string]string{"kubernetes.io/x": "y"}}}),
			want: []want{invalid("spec.volumes[0].flexVolume.options[kubernetes.io/x]")}},
		{name: "unknown host path type", mutate: vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: ptr(corev1.HostPathType("Pipe"))}}),
			want: []want{notSupported("spec.volumes[0].hostPath.type")}},
		{name: "git repo absolute directory", mutate: vol(corev1.VolumeSource{GitRepo: &corev1.GitRepoVolumeSource{Repository: "https://example.com/r.git", Directory: "/abs"}}),
			want: []want{invalid("spec.volumes[0].gitRepo.directory")}},
		{name: "cephfs without monitors", mutate: vol(corev1.VolumeSource{CephFS: &corev1.CephFSVolumeSource{}}), want: []want{required("spec.volumes[0].cephfs.monitors")}},
		{name: "azure disk without uri", mutate: vol(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d"}}), want: []want{required("spec.volumes[0].azureDisk.diskURI")}},
		{name: "quobyte bad registry", mutate: vol(corev1.VolumeSource{Quobyte: &corev1.QuobyteVolumeSource{Registry: "noport", Volume: "v"}}),
			want: []want{invalid("spec.volumes[0].quobyte.registry")}},
		{name: "block device from emptyDir", mutate: func(s *corev1.PodSpec) {
			vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})(s)
			s.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: "v", DevicePath: "/dev/xvda"}}
		}, want: []want{invalidMsg("spec.containers[0].volumeDevices[0].name", "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode")}},
		{name: "bidirectional propagation unprivileged", mutate: func(s *corev1.PodSpec) {
			vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})(s)
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v", MountPropagation: ptr(corev1.MountPropagationBidirectional)}}
		}, want: []want{forbidden("spec.containers[0].volumeMounts.mountPropagation")}},
		{name: "recursive read-only on writable mount", mutate: func(s *corev1.PodSpec) {
			vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})(s)
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v", RecursiveReadOnly: ptr(corev1.RecursiveReadOnlyEnabled)}}
		}, want: []want{forbidden("spec.containers[0].volumeMounts.recursiveReadOnly")}},
		{name: "envFrom without source", mutate: func(s *corev1.PodSpec) { s.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "APP_"}} },
			want: []want{invalidMsg("spec.containers[0].envFrom", "must specify one of: `configMapRef` or `secretRef`")}},
		{name: "resource fieldRef bad divisor", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("10m")}}}}
		}, want: []want{invalid("spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor")}},
		{name: "seccomp localhost without profile", mutate: func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}
		}, want: []want{required("spec.securityContext.seccompProfile.localhostProfile")}},
		{name: "apparmor profile padded", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr(" p ")}}
		}, want: []want{invalid("spec.containers[0].securityContext.appArmorProfile.localhostProfile")}},
		{name: "unmasked proc mount in host user namespace", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext = &corev1.SecurityContext{ProcMount: ptr(corev1.UnmaskedProcMount)}
		}, want: []want{invalid("spec.containers[0].securityContext.procMount")}},
		{name: "privileged without privilege escalation", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true), AllowPrivilegeEscalation: ptr(false)}
		}, want: []want{invalid("spec.containers[0].securityContext")}},
		{name: "host network in user namespace", mutate: func(s *corev1.PodSpec) {
			s.HostUsers = ptr(false)
			s.HostNetwork = true
		}, want: []want{forbidden("spec.hostNetwork")}},
		{name: "windows options on linux pod", mutate: func(s *corev1.PodSpec) {
			s.OS = &corev1.PodOS{Name: corev1.Linux}
			s.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{}
		}, want: []want{forbidden("spec.securityContext.windowsOptions")}},
		{name: "run as user on windows pod", mutate: func(s *corev1.PodSpec) {
			s.OS = &corev1.PodOS{Name: corev1.Windows}
			s.SecurityContext.RunAsUser = ptr(int64(1000))
		}, want: []want{forbidden("spec.securityContext.runAsUser")}},
		{name: "unknown OS", mutate: func(s *corev1.PodSpec) { s.OS = &corev1.PodOS{Name: "plan9"} }, want: []want{notSupported("spec.os")}},
		{name: "too many nameservers", mutate: func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"}}
		}, want: []want{invalid("spec.dnsConfig.nameservers")}},
		{name: "invalid search domain", mutate: func(s *corev1.PodSpec) { s.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"bad_domain"}} },
			want: []want{invalid("spec.dnsConfig.searches[0]")}},
		{name: "invalid readiness gate", mutate: func(s *corev1.PodSpec) { s.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "bad gate"}} },
			want: []want{invalid("spec.readinessGates[0].conditionType")}},
		{name: "duplicate scheduling gate", mutate: func(s *corev1.PodSpec) {
			s.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/a"}, {Name: "example.com/a"}}
		}, want: []want{duplicate("spec.schedulingGates[1]")}},
		{name: "duplicate spread constraint", mutate: func(s *corev1.PodSpec) {
			c := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{c, c}
		}, want: []want{duplicate("spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}")}},
		{name: "invalid host alias", mutate: func(s *corev1.PodSpec) {
			s.HostAliases = []corev1.HostAlias{{IP: "not-an-ip", Hostnames: []string{"db"}}}
		},
			want: []want{invalid("spec.hostAliases[0].ip")}},
		{name: "hugepages without cpu or memory", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Limits = corev1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}
			s.Containers[0].Resources.Requests = corev1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}
		}, want: []want{forbidden("spec.containers[0].resources")}},
		{name: "hugepages not a page multiple", mutate: func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Limits = corev1.ResourceList{"hugepages-2Mi": resource.MustParse("3Mi"), corev1.ResourceMemory: resource.MustParse("1Gi")}
			s.Containers[0].Resources.Requests = corev1.ResourceList{"hugepages-2Mi": resource.MustParse("3Mi")}
		}, want: []want{invalid("spec.containers[0].resources.limits[hugepages-2Mi]"), invalid("spec.containers[0].resources.requests[hugepages-2Mi]")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := validTemplate()
			tt.mutate(&tmpl.Spec)
			defaults.PodTemplateSpec(&tmpl)
			checkErrors(t, "PodSpec()", PodSpec(&tmpl.Spec, field.NewPath("spec")), tt.want...)
		})
	}
}
