package defaults

import (
	"maps"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// defaultServiceAccountName is the service account the ServiceAccount
	// admission plugin assigns to pods that name none.
	defaultServiceAccountName = "default"
	// mirrorPodAnnotation marks the API copy of a static pod.
	mirrorPodAnnotation = "kubernetes.io/config.mirror"
	// milliScale is the scale resource quantities are rounded up to.
	milliScale = -3
)

// systemPriorityClasses are the PriorityClasses every Kubernetes cluster has;
// the Priority admission plugin resolves them without a lookup.
var systemPriorityClasses = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

// Pod sets the defaults of a Pod: those of its PodSpec, the ones Kubernetes
// applies to Pods but not to pod templates (requests copied from limits,
// enableServiceLinks, host ports under hostNetwork), the ones admission plugins
// add (serviceAccountName "default" for non-mirror pods, priority and
// preemptionPolicy) and the podIP/podIPs and hostIP/hostIPs pairing of the
// status. It never sets status.phase. The not-ready/unreachable tolerations are
// added at creation only, by the pod strategy (see Tolerations).
func Pod(p *corev1.Pod) {
	requestsFromLimits(p.Spec.Containers)
	requestsFromLimits(p.Spec.InitContainers)
	if p.Spec.EnableServiceLinks == nil {
		p.Spec.EnableServiceLinks = ptrTo(corev1.DefaultEnableServiceLinks)
	}
	if p.Spec.HostNetwork {
		hostNetworkPorts(p.Spec.Containers)
		hostNetworkPorts(p.Spec.InitContainers)
	}
	if _, mirror := p.Annotations[mirrorPodAnnotation]; !mirror && p.Spec.ServiceAccountName == "" && p.Spec.DeprecatedServiceAccount == "" {
		p.Spec.ServiceAccountName = defaultServiceAccountName
	}
	PodSpec(&p.Spec)
	podPriority(&p.Spec)
	podStatus(&p.Status)
}

// PodTemplateSpec sets the defaults of a pod template: those of its PodSpec.
// Pod-only defaults (see Pod) are not applied, as in Kubernetes.
func PodTemplateSpec(t *corev1.PodTemplateSpec) {
	PodSpec(&t.Spec)
}

// PodSpec sets the defaults Kubernetes gives every PodSpec, whether in a Pod or
// in a template: dnsPolicy ClusterFirst, restartPolicy Always, an empty
// securityContext, terminationGracePeriodSeconds 30, schedulerName
// default-scheduler, the serviceAccount/serviceAccountName pairing, and the
// defaults of its volumes and containers.
func PodSpec(s *corev1.PodSpec) {
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptrTo(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	// The v1 conversion reads the deprecated field when the new one is empty
	// and always writes the new one back into the deprecated field.
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName

	for i := range s.Volumes {
		Volume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		Container(&s.InitContainers[i])
	}
	for i := range s.Containers {
		Container(&s.Containers[i])
	}
	for i := range s.EphemeralContainers {
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		Container(&c)
		s.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	resourceList(s.Overhead)
	if s.Resources != nil {
		resourceList(s.Resources.Limits)
		resourceList(s.Resources.Requests)
	}
}

// Container sets the defaults of a container: imagePullPolicy (Always for an
// image tagged latest or untagged, IfNotPresent otherwise), the termination
// message path and policy, port protocols, the API version of downward API
// field references, resource quantities rounded up to milli units, and the
// defaults of probes and lifecycle handlers.
func Container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		if imageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			objectFieldSelector(vf.FieldRef)
		}
	}
	resourceList(c.Resources.Limits)
	resourceList(c.Resources.Requests)
	probe(c.LivenessProbe)
	probe(c.ReadinessProbe)
	probe(c.StartupProbe)
	if c.Lifecycle != nil {
		lifecycleHandler(c.Lifecycle.PostStart)
		lifecycleHandler(c.Lifecycle.PreStop)
	}
}

// imageTag returns the tag the kubelet would pull for image: the explicit tag,
// "latest" when there is neither tag nor digest, and "" for a digest-only or
// unparsable reference.
func imageTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	var tag, digest string
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	if tag == "" && digest == "" {
		return "latest"
	}
	return tag
}

func probe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	httpGetAction(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptrTo("")
	}
}

func lifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		httpGetAction(h.HTTPGet)
	}
}

func httpGetAction(a *corev1.HTTPGetAction) {
	if a == nil {
		return
	}
	if a.Path == "" {
		a.Path = "/"
	}
	if a.Scheme == "" {
		a.Scheme = corev1.URISchemeHTTP
	}
}

func objectFieldSelector(s *corev1.ObjectFieldSelector) {
	if s.APIVersion == "" {
		s.APIVersion = "v1"
	}
}

// resourceList rounds every quantity up to milli units, as Kubernetes does to
// keep API compatibility.
func resourceList(rl corev1.ResourceList) {
	for name, q := range rl {
		q.RoundUp(milliScale)
		rl[name] = q
	}
}

// requestsFromLimits sets every resource request a container lacks to its
// limit.
func requestsFromLimits(containers []corev1.Container) {
	for i := range containers {
		r := &containers[i].Resources
		if r.Limits == nil {
			continue
		}
		if r.Requests == nil {
			r.Requests = make(corev1.ResourceList, len(r.Limits))
		}
		for name, q := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				r.Requests[name] = q.DeepCopy()
			}
		}
	}
}

// hostNetworkPorts sets each unset host port to its container port.
func hostNetworkPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			p := &containers[i].Ports[j]
			if p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

// podPriority resolves the priority the Priority admission plugin gives a pod
// without a PriorityClass (0) or with a system PriorityClass. Other classes
// need a lookup and are left to the registry.
func podPriority(s *corev1.PodSpec) {
	if s.Priority == nil {
		if s.PriorityClassName == "" {
			s.Priority = ptrTo(int32(0))
		} else if v, ok := systemPriorityClasses[s.PriorityClassName]; ok {
			s.Priority = ptrTo(v)
		}
	}
	if s.PreemptionPolicy == nil && s.Priority != nil {
		s.PreemptionPolicy = ptrTo(corev1.PreemptLowerPriority)
	}
}

// Tolerations adds the tolerations the DefaultTolerationSeconds admission
// plugin gives every new pod that does not already tolerate the not-ready and
// unreachable NoExecute taints: each for seconds (Kubernetes uses 300,
// Capstan 30 unless configured).
func Tolerations(ts []corev1.Toleration, seconds int64) []corev1.Toleration {
	notReady, unreachable := false, false
	for _, t := range ts {
		noExecute := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		if !noExecute {
			continue
		}
		if t.Key == corev1.TaintNodeNotReady || t.Key == "" {
			notReady = true
		}
		if t.Key == corev1.TaintNodeUnreachable || t.Key == "" {
			unreachable = true
		}
	}
	if !notReady {
		ts = append(ts, noExecuteToleration(corev1.TaintNodeNotReady, seconds))
	}
	if !unreachable {
		ts = append(ts, noExecuteToleration(corev1.TaintNodeUnreachable, seconds))
	}
	return ts
}

// noExecuteToleration returns the toleration of the NoExecute taint key for
// seconds.
func noExecuteToleration(key string, seconds int64) corev1.Toleration {
	return corev1.Toleration{
		Key:               key,
		Operator:          corev1.TolerationOpExists,
		Effect:            corev1.TaintEffectNoExecute,
		TolerationSeconds: ptrTo(seconds),
	}
}

// podUpdate carries the priority and preemption policy of the stored pod into
// an update that omits them, as the Priority admission plugin does.
func podUpdate(p, old *corev1.Pod) {
	if p.Spec.Priority == nil && old.Spec.Priority != nil {
		p.Spec.Priority = ptrTo(*old.Spec.Priority)
	}
	if p.Spec.PreemptionPolicy == nil && old.Spec.PreemptionPolicy != nil {
		p.Spec.PreemptionPolicy = ptrTo(*old.Spec.PreemptionPolicy)
	}
}

// podStatus pairs podIP with podIPs[0] and hostIP with hostIPs[0], as the v1
// conversion does, and rounds the reported resources.
func podStatus(s *corev1.PodStatus) {
	if len(s.PodIPs) == 0 && s.PodIP != "" {
		s.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
	}
	if len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	}
	if len(s.HostIPs) == 0 && s.HostIP != "" {
		s.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	}
	if len(s.HostIPs) > 0 {
		s.HostIP = s.HostIPs[0].IP
	}
	for _, statuses := range [][]corev1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range statuses {
			resourceList(statuses[i].AllocatedResources)
			if r := statuses[i].Resources; r != nil {
				resourceList(r.Limits)
				resourceList(r.Requests)
			}
		}
	}
}

// Volume sets the defaults of a pod volume: an emptyDir when no source is
// given, file mode 0644 (420) for secret, configMap, downwardAPI and projected
// sources, an empty hostPath type, one hour for projected service account
// tokens, and the defaults of the remaining in-tree sources and of ephemeral
// volume claim templates.
func Volume(v *corev1.Volume) {
	if volumeSourceEmpty(&v.VolumeSource) {
		v.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	src := &v.VolumeSource
	if src.HostPath != nil && src.HostPath.Type == nil {
		src.HostPath.Type = ptrTo(corev1.HostPathUnset)
	}
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = ptrTo(corev1.SecretVolumeSourceDefaultMode)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = ptrTo(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if d := src.DownwardAPI; d != nil {
		if d.DefaultMode == nil {
			d.DefaultMode = ptrTo(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		downwardAPIFiles(d.Items)
	}
	if p := src.Projected; p != nil {
		if p.DefaultMode == nil {
			p.DefaultMode = ptrTo(corev1.ProjectedVolumeSourceDefaultMode)
		}
		for i := range p.Sources {
			if d := p.Sources[i].DownwardAPI; d != nil {
				downwardAPIFiles(d.Items)
			}
			if t := p.Sources[i].ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
				t.ExpirationSeconds = ptrTo(int64(3600))
			}
		}
	}
	if s := src.ISCSI; s != nil && s.ISCSIInterface == "" {
		s.ISCSIInterface = "default"
	}
	if s := src.RBD; s != nil {
		if s.RBDPool == "" {
			s.RBDPool = "rbd"
		}
		if s.RadosUser == "" {
			s.RadosUser = "admin"
		}
		if s.Keyring == "" {
			s.Keyring = "/etc/ceph/keyring"
		}
	}
	if s := src.AzureDisk; s != nil {
		if s.CachingMode == nil {
			s.CachingMode = ptrTo(corev1.AzureDataDiskCachingReadWrite)
		}
		if s.FSType == nil {
			s.FSType = ptrTo("ext4")
		}
		if s.ReadOnly == nil {
			s.ReadOnly = ptrTo(false)
		}
		if s.Kind == nil {
			s.Kind = ptrTo(corev1.AzureSharedBlobDisk)
		}
	}
	if s := src.ScaleIO; s != nil {
		if s.StorageMode == "" {
			s.StorageMode = "ThinProvisioned"
		}
		if s.FSType == "" {
			s.FSType = "xfs"
		}
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
		PersistentVolumeClaimSpec(&e.VolumeClaimTemplate.Spec)
	}
}

// volumeSourceEmpty reports whether no volume source is set.
func volumeSourceEmpty(s *corev1.VolumeSource) bool {
	return s.HostPath == nil && s.EmptyDir == nil && s.GCEPersistentDisk == nil &&
		s.AWSElasticBlockStore == nil && s.GitRepo == nil && s.Secret == nil && s.NFS == nil &&
		s.ISCSI == nil && s.Glusterfs == nil && s.PersistentVolumeClaim == nil && s.RBD == nil &&
		s.FlexVolume == nil && s.Cinder == nil && s.CephFS == nil && s.Flocker == nil &&
		s.DownwardAPI == nil && s.FC == nil && s.AzureFile == nil && s.ConfigMap == nil &&
		s.VsphereVolume == nil && s.Quobyte == nil && s.AzureDisk == nil &&
		s.PhotonPersistentDisk == nil && s.Projected == nil && s.PortworxVolume == nil &&
		s.ScaleIO == nil && s.StorageOS == nil && s.CSI == nil && s.Ephemeral == nil && s.Image == nil
}

func downwardAPIFiles(files []corev1.DownwardAPIVolumeFile) {
	for i := range files {
		if files[i].FieldRef != nil {
			objectFieldSelector(files[i].FieldRef)
		}
	}
}

// PersistentVolumeClaimSpec sets volumeMode Filesystem and rounds the requested
// resources, as Kubernetes does for claims and claim templates.
func PersistentVolumeClaimSpec(s *corev1.PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		s.VolumeMode = ptrTo(corev1.PersistentVolumeFilesystem)
	}
	resourceList(s.Resources.Limits)
	resourceList(s.Resources.Requests)
}

// PersistentVolumeClaim sets the defaults of a claim, including status.phase
// Pending; StatefulSet volumeClaimTemplates get them too.
func PersistentVolumeClaim(c *corev1.PersistentVolumeClaim) {
	if c.Status.Phase == "" {
		c.Status.Phase = corev1.ClaimPending
	}
	PersistentVolumeClaimSpec(&c.Spec)
}

// ReplicationController sets the defaults of a ReplicationController: selector
// and labels from the template labels, one replica, and the template's
// defaults.
func ReplicationController(rc *corev1.ReplicationController) {
	if rc.Spec.Template != nil && rc.Spec.Template.Labels != nil {
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = maps.Clone(rc.Spec.Template.Labels)
		}
		if len(rc.Labels) == 0 {
			rc.Labels = maps.Clone(rc.Spec.Template.Labels)
		}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = ptrTo(int32(1))
	}
	if rc.Spec.Template != nil {
		PodTemplateSpec(rc.Spec.Template)
	}
}

// Namespace sets the kubernetes.io/metadata.name label to the namespace's name
// and status.phase Active. The "kubernetes" finalizer is added by Create only,
// because the namespace controller removes it during deletion.
func Namespace(ns *corev1.Namespace) {
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

// namespaceCreate ensures a new namespace carries the "kubernetes" finalizer.
func namespaceCreate(ns *corev1.Namespace) {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// Node sets the defaults of a Node: allocatable equal to capacity when unset,
// and podCIDR paired with podCIDRs[0] as the v1 conversion does.
func Node(n *corev1.Node) {
	if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
	resourceList(n.Status.Capacity)
	resourceList(n.Status.Allocatable)
}

// Secret sets type Opaque when unset and merges stringData into data (the
// write-only field never reaches storage, as with the v1 conversion).
func Secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

// Endpoints sets protocol TCP on every port that has none.
func Endpoints(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if e.Subsets[i].Ports[j].Protocol == "" {
				e.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
}

// Service sets the defaults of a Service: type ClusterIP, sessionAffinity None
// (and the 10800 s ClientIP timeout), port protocol TCP, targetPort equal to
// port, externalTrafficPolicy Cluster for externally reachable services,
// internalTrafficPolicy Cluster, allocateLoadBalancerNodePorts true and ingress
// ipMode VIP for LoadBalancers, clusterIPs initialised from clusterIP, and
// ipFamilyPolicy (SingleStack, or RequireDualStack for selectorless headless
// services and two-family requests). Cluster IPs, node ports and ipFamilies
// are allocated by the registry, not here.
func Service(s *corev1.Service) {
	spec := &s.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptrTo(corev1.DefaultClientIPServiceAffinitySeconds)},
			}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(s) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil {
		switch spec.Type {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			spec.InternalTrafficPolicy = ptrTo(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = ptrTo(true)
		}
		for i := range s.Status.LoadBalancer.Ingress {
			ing := &s.Status.LoadBalancer.Ingress[i]
			if ing.IP != "" && ing.IPMode == nil {
				ing.IPMode = ptrTo(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.Type != corev1.ServiceTypeExternalName && spec.IPFamilyPolicy == nil {
		switch {
		case len(spec.IPFamilies) == 2 || len(spec.ClusterIPs) == 2:
			spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicyRequireDualStack)
		case spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0:
			spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicyRequireDualStack)
		default:
			spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicySingleStack)
		}
	}
}

// externallyAccessible reports whether traffic from outside the cluster can
// reach the service, which is when externalTrafficPolicy applies.
func externallyAccessible(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer ||
		s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

func needsClusterIP(s *corev1.Service) bool {
	return s.Spec.Type != corev1.ServiceTypeExternalName
}

func needsNodePort(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeLoadBalancer && (s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts))
}

func needsHealthCheckNodePort(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// serviceUpdate reconciles clusterIP with clusterIPs for clients that send only
// one of them and carries allocated values the update omits.
func serviceUpdate(s, old *corev1.Service) {
	spec, prev := &s.Spec, &old.Spec
	if len(prev.ClusterIPs) > 0 && len(spec.ClusterIPs) == 0 && prev.ClusterIP == spec.ClusterIP {
		spec.ClusterIPs = prev.ClusterIPs
	}
	if prev.ClusterIP != spec.ClusterIP && sameStrings(prev.ClusterIPs, spec.ClusterIPs) {
		if prev.ClusterIP != "" && spec.ClusterIP == "" {
			spec.ClusterIPs = nil
		} else {
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
	}

	if needsClusterIP(old) && needsClusterIP(s) {
		if spec.ClusterIP == "" {
			spec.ClusterIP = prev.ClusterIP
		}
		if len(spec.ClusterIPs) == 0 && len(prev.ClusterIPs) > 0 {
			spec.ClusterIPs = append([]string(nil), prev.ClusterIPs...)
		}
	}
	if needsNodePort(old) && needsNodePort(s) {
		used := map[int32]bool{}
		inNew := map[int32]bool{}
		for _, p := range spec.Ports {
			if p.NodePort != 0 {
				inNew[p.NodePort] = true
			}
		}
		byName := map[string]int32{}
		for _, p := range prev.Ports {
			if p.NodePort != 0 && inNew[p.NodePort] {
				used[p.NodePort] = true
			}
			byName[p.Name] = p.NodePort
		}
		for i := range spec.Ports {
			p := &spec.Ports[i]
			if p.NodePort == 0 {
				if v := byName[p.Name]; !used[v] {
					p.NodePort = v
				}
			}
		}
	}
	if needsHealthCheckNodePort(old) && needsHealthCheckNodePort(s) && spec.HealthCheckNodePort == 0 {
		spec.HealthCheckNodePort = prev.HealthCheckNodePort
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ptrTo[T any](v T) *T {
	return &v
}
