package validation

import (
	"fmt"
	"net"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

var (
	supportedHostPathTypes = []corev1.HostPathType{
		corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory,
		corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket,
	}
	supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	supportedVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

// volumes validates pod volumes: unique DNS label names and exactly one valid
// source each. It returns the valid volumes by name for mount checks.
func volumes(vols []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOptions) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	byName := map[string]corev1.VolumeSource{}
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		p := fldPath.Index(i)
		el := volumeSource(&v.VolumeSource, p, v.Name, podMeta, opts)
		if v.Name == "" {
			el = append(el, field.Required(p.Child("name"), ""))
		} else {
			el = append(el, dnsLabel(v.Name, p.Child("name"))...)
		}
		if names[v.Name] {
			el = append(el, field.Duplicate(p.Child("name"), v.Name))
		}
		if len(el) == 0 {
			names[v.Name] = true
			byName[v.Name] = v.VolumeSource
		} else {
			errs = append(errs, el...)
		}
	}
	return byName, errs
}

// volumeSource validates the single source of a volume.
func volumeSource(src *corev1.VolumeSource, p *field.Path, volName string, podMeta *metav1.ObjectMeta, opts podOptions) field.ErrorList {
	var errs field.ErrorList
	n := 0
	// add counts one source; a second one is Forbidden under its own name.
	add := func(set bool, name string, validate func() field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
			return
		}
		n++
		errs = append(errs, validate()...)
	}
	add(src.EmptyDir != nil, "emptyDir", func() field.ErrorList {
		if l := src.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) < 0 {
			return field.ErrorList{field.Forbidden(p.Child("emptyDir").Child("sizeLimit"), "SizeLimit field must be a valid resource quantity")}
		}
		return nil
	})
	add(src.HostPath != nil, "hostPath", func() field.ErrorList { return hostPathSource(src.HostPath, p.Child("hostPath")) })
	add(src.GitRepo != nil, "gitRepo", func() field.ErrorList {
		var e field.ErrorList
		if src.GitRepo.Repository == "" {
			e = append(e, field.Required(p.Child("gitRepo", "repository"), ""))
		}
		return append(e, localDescendingPath(src.GitRepo.Directory, p.Child("gitRepo", "directory"))...)
	})
	add(src.GCEPersistentDisk != nil, "gcePersistentDisk", func() field.ErrorList {
		e := requiredStrings(p.Child("persistentDisk"), "pdName", src.GCEPersistentDisk.PDName)
		return append(e, partition(src.GCEPersistentDisk.Partition, p.Child("persistentDisk", "partition"))...)
	})
	add(src.AWSElasticBlockStore != nil, "awsElasticBlockStore", func() field.ErrorList {
		e := requiredStrings(p.Child("awsElasticBlockStore"), "volumeID", src.AWSElasticBlockStore.VolumeID)
		return append(e, partition(src.AWSElasticBlockStore.Partition, p.Child("awsElasticBlockStore", "partition"))...)
	})
	add(src.Secret != nil, "secret", func() field.ErrorList {
		sp := p.Child("secret")
		e := requiredStrings(sp, "secretName", src.Secret.SecretName)
		return append(e, modeAndItems(src.Secret.DefaultMode, src.Secret.Items, sp)...)
	})
	add(src.NFS != nil, "nfs", func() field.ErrorList {
		np := p.Child("nfs")
		e := requiredStrings(np, "server", src.NFS.Server, "path", src.NFS.Path)
		if !path.IsAbs(src.NFS.Path) {
			e = append(e, field.Invalid(np.Child("path"), src.NFS.Path, "must be an absolute path"))
		}
		return e
	})
	add(src.ISCSI != nil, "iscsi", func() field.ErrorList {
		ip := p.Child("iscsi")
		e := requiredStrings(ip, "targetPortal", src.ISCSI.TargetPortal, "iqn", src.ISCSI.IQN)
		if src.ISCSI.Lun < 0 || src.ISCSI.Lun > 255 {
			e = append(e, field.Invalid(ip.Child("lun"), src.ISCSI.Lun, utilvalidation.InclusiveRangeError(0, 255)))
		}
		if (src.ISCSI.DiscoveryCHAPAuth || src.ISCSI.SessionCHAPAuth) && src.ISCSI.SecretRef == nil {
			e = append(e, field.Required(ip.Child("secretRef"), ""))
		}
		return e
	})
	add(src.Glusterfs != nil, "glusterfs", func() field.ErrorList {
		return requiredStrings(p.Child("glusterfs"), "endpoints", src.Glusterfs.EndpointsName, "path", src.Glusterfs.Path)
	})
	add(src.Flocker != nil, "flocker", func() field.ErrorList {
		fp := p.Child("flocker")
		var e field.ErrorList
		if src.Flocker.DatasetName == "" && src.Flocker.DatasetUUID == "" {
			e = append(e, field.Required(fp, "one of datasetName and datasetUUID is required"))
		}
		if src.Flocker.DatasetName != "" && src.Flocker.DatasetUUID != "" {
			e = append(e, field.Invalid(fp, "resource", "datasetName and datasetUUID can not be specified simultaneously"))
		}
		if strings.Contains(src.Flocker.DatasetName, "/") {
			e = append(e, field.Invalid(fp.Child("datasetName"), src.Flocker.DatasetName, "must not contain '/'"))
		}
		return e
	})
	add(src.PersistentVolumeClaim != nil, "persistentVolumeClaim", func() field.ErrorList {
		return requiredStrings(p.Child("persistentVolumeClaim"), "claimName", src.PersistentVolumeClaim.ClaimName)
	})
	add(src.RBD != nil, "rbd", func() field.ErrorList {
		e := field.ErrorList(nil)
		if len(src.RBD.CephMonitors) == 0 {
			e = append(e, field.Required(p.Child("rbd", "monitors"), ""))
		}
		return append(e, requiredStrings(p.Child("rbd"), "image", src.RBD.RBDImage)...)
	})
	add(src.Cinder != nil, "cinder", func() field.ErrorList {
		e := requiredStrings(p.Child("cinder"), "volumeID", src.Cinder.VolumeID)
		if ref := src.Cinder.SecretRef; ref != nil && ref.Name == "" {
			e = append(e, field.Required(p.Child("cinder", "secretRef", "name"), ""))
		}
		return e
	})
	add(src.CephFS != nil, "cephFS", func() field.ErrorList {
		if len(src.CephFS.Monitors) == 0 {
			return field.ErrorList{field.Required(p.Child("cephfs", "monitors"), "")}
		}
		return nil
	})
	add(src.Quobyte != nil, "quobyte", func() field.ErrorList { return quobyteSource(src.Quobyte, p.Child("quobyte")) })
	// "downwarAPI" is Kubernetes' own spelling of this path.
	add(src.DownwardAPI != nil, "downwarAPI", func() field.ErrorList {
		dp := p.Child("downwardAPI")
		e := fileMode(src.DownwardAPI.DefaultMode, dp.Child("defaultMode"))
		for i := range src.DownwardAPI.Items {
			e = append(e, downwardAPIFile(&src.DownwardAPI.Items[i], dp)...)
		}
		return e
	})
	add(src.FC != nil, "fc", func() field.ErrorList { return fcSource(src.FC, p.Child("fc")) })
	add(src.FlexVolume != nil, "flexVolume", func() field.ErrorList { return flexSource(src.FlexVolume, p.Child("flexVolume")) })
	add(src.ConfigMap != nil, "configMap", func() field.ErrorList {
		cp := p.Child("configMap")
		e := requiredStrings(cp, "name", src.ConfigMap.Name)
		return append(e, modeAndItems(src.ConfigMap.DefaultMode, src.ConfigMap.Items, cp)...)
	})
	add(src.AzureFile != nil, "azureFile", func() field.ErrorList {
		return requiredStrings(p.Child("azureFile"), "secretName", src.AzureFile.SecretName, "shareName", src.AzureFile.ShareName)
	})
	add(src.VsphereVolume != nil, "vsphereVolume", func() field.ErrorList {
		return requiredStrings(p.Child("vsphereVolume"), "volumePath", src.VsphereVolume.VolumePath)
	})
	add(src.PhotonPersistentDisk != nil, "photonPersistentDisk", func() field.ErrorList {
		return requiredStrings(p.Child("photonPersistentDisk"), "pdID", src.PhotonPersistentDisk.PdID)
	})
	add(src.PortworxVolume != nil, "portworxVolume", func() field.ErrorList {
		return requiredStrings(p.Child("portworxVolume"), "volumeID", src.PortworxVolume.VolumeID)
	})
	add(src.AzureDisk != nil, "azureDisk", func() field.ErrorList {
		return requiredStrings(p.Child("azureDisk"), "diskName", src.AzureDisk.DiskName, "diskURI", src.AzureDisk.DataDiskURI)
	})
	add(src.StorageOS != nil, "storageos", func() field.ErrorList {
		sp := p.Child("storageos")
		var e field.ErrorList
		if src.StorageOS.VolumeName == "" {
			e = append(e, field.Required(sp.Child("volumeName"), ""))
		} else {
			e = append(e, dnsLabel(src.StorageOS.VolumeName, sp.Child("volumeName"))...)
		}
		if src.StorageOS.VolumeNamespace != "" {
			e = append(e, dnsLabel(src.StorageOS.VolumeNamespace, sp.Child("volumeNamespace"))...)
		}
		return e
	})
	add(src.Projected != nil, "projected", func() field.ErrorList { return projectedSource(src.Projected, p.Child("projected")) })
	add(src.ScaleIO != nil, "scaleIO", func() field.ErrorList {
		return requiredStrings(p.Child("scaleIO"), "gateway", src.ScaleIO.Gateway, "system", src.ScaleIO.System, "volumeName", src.ScaleIO.VolumeName)
	})
	add(src.CSI != nil, "csi", func() field.ErrorList { return csiSource(src.CSI, p.Child("csi")) })
	add(src.Ephemeral != nil, "ephemeral", func() field.ErrorList {
		e := ephemeralSource(src.Ephemeral, p.Child("ephemeral"))
		if podMeta != nil && podMeta.Name != "" && volName != "" {
			claim := podMeta.Name + "-" + volName
			for _, msg := range NameIsDNSSubdomain(claim, false) {
				e = append(e, field.Invalid(p.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", claim, msg)))
			}
		}
		return e
	})
	// Image volumes need the ImageVolume feature, off by default in v1.32;
	// Kubernetes drops the field, which leaves the volume without a source.
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a volume type"))
	}
	return errs
}

// requiredStrings reports each empty value of name/value pairs as Required
// under parent.
func requiredStrings(parent *field.Path, pairs ...string) field.ErrorList {
	var errs field.ErrorList
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			errs = append(errs, field.Required(parent.Child(pairs[i]), ""))
		}
	}
	return errs
}

func partition(v int32, p *field.Path) field.ErrorList {
	if v < 0 || v > 255 {
		return field.ErrorList{field.Invalid(p, v, utilvalidation.InclusiveRangeError(1, 255))}
	}
	return nil
}

func fileMode(mode *int32, p *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(p, *mode, fileModeErrorMsg)}
	}
	return nil
}

func hostPathSource(hp *corev1.HostPathVolumeSource, p *field.Path) field.ErrorList {
	if hp.Path == "" {
		return field.ErrorList{field.Required(p.Child("path"), "")}
	}
	errs := pathNoBacksteps(hp.Path, p.Child("path"))
	if hp.Type != nil {
		ok := false
		for _, t := range supportedHostPathTypes {
			ok = ok || t == *hp.Type
		}
		if !ok {
			errs = append(errs, field.NotSupported(p.Child("type"), hp.Type, supportedHostPathTypes))
		}
	}
	return errs
}

// modeAndItems validates the defaultMode and items of the secret or
// configMap volume source at p.
func modeAndItems(defaultMode *int32, items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	errs := fileMode(defaultMode, p.Child("defaultMode"))
	for i := range items {
		errs = append(errs, keyToPath(&items[i], p.Child("items").Index(i))...)
	}
	return errs
}

func keyToPath(kp *corev1.KeyToPath, p *field.Path) field.ErrorList {
	errs := requiredStrings(p, "key", kp.Key, "path", kp.Path)
	errs = append(errs, localNonReservedPath(kp.Path, p.Child("path"))...)
	return append(errs, fileMode(kp.Mode, p.Child("mode"))...)
}

func downwardAPIFile(f *corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	errs := requiredStrings(p, "path", f.Path)
	errs = append(errs, localNonReservedPath(f.Path, p.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		errs = append(errs, objectFieldSelector(f.FieldRef, volumeFieldPaths, p.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			errs = append(errs, field.Invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		errs = append(errs, resourceFieldSelector(f.ResourceFieldRef, p.Child("resourceFieldRef"), true)...)
	default:
		errs = append(errs, field.Required(p, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, fileMode(f.Mode, p.Child("mode"))...)
}

func projectedSource(pr *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	errs := fileMode(pr.DefaultMode, p.Child("defaultMode"))
	paths := map[string]bool{}
	claim := func(path, value string) {
		if path == "" {
			return
		}
		if paths[path] {
			errs = append(errs, field.Invalid(p, value, "conflicting duplicate paths"))
		}
		paths[path] = true
	}
	// keys validates a secret or configMap projection at kp and claims the
	// paths of its items.
	keys := func(name string, items []corev1.KeyToPath, kp *field.Path) {
		errs = append(errs, requiredStrings(kp, "name", name)...)
		for j := range items {
			errs = append(errs, keyToPath(&items[j], kp.Child("items").Index(j))...)
			claim(items[j].Path, name)
		}
	}
	for i, s := range pr.Sources {
		n := 0
		sp := p.Child("sources").Index(i)
		if s.Secret != nil {
			n++
			keys(s.Secret.Name, s.Secret.Items, sp.Child("secret"))
		}
		if s.ConfigMap != nil {
			n++
			keys(s.ConfigMap.Name, s.ConfigMap.Items, sp.Child("configMap"))
		}
		if s.DownwardAPI != nil {
			n++
			for j := range s.DownwardAPI.Items {
				errs = append(errs, downwardAPIFile(&s.DownwardAPI.Items[j], sp.Child("downwardAPI"))...)
				claim(s.DownwardAPI.Items[j].Path, s.DownwardAPI.Items[j].Path)
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			tp := sp.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 10*60 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds > 1<<32 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
			}
			if t.Path == "" {
				errs = append(errs, field.Required(p.Child("path"), ""))
			} else {
				errs = append(errs, localNonReservedPath(t.Path, p.Child("path"))...)
			}
		}
		if b := s.ClusterTrustBundle; b != nil {
			n++
			bp := sp.Child("clusterTrustBundle")
			switch {
			case b.Name != nil && b.SignerName != nil:
				errs = append(errs, field.Invalid(bp, b, "only one of name and signerName may be used"))
			case b.Name == nil && b.SignerName == nil:
				errs = append(errs, field.Required(bp, "either name or signerName must be specified"))
			}
			if b.Path == "" {
				errs = append(errs, field.Required(bp.Child("path"), ""))
			}
			errs = append(errs, localNonReservedPath(b.Path, bp.Child("path"))...)
			claim(b.Path, b.Path)
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

func quobyteSource(q *corev1.QuobyteVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	const hostPorts = "must be a host:port pair or multiple pairs separated by commas"
	switch {
	case q.Registry == "":
		errs = append(errs, field.Required(p.Child("registry"), hostPorts))
	case len(q.Tenant) >= 65:
		errs = append(errs, field.Required(p.Child("tenant"), "must be a UUID and may not exceed a length of 64 characters"))
	default:
		for _, hp := range strings.Split(q.Registry, ",") {
			if _, _, err := net.SplitHostPort(hp); err != nil {
				errs = append(errs, field.Invalid(p.Child("registry"), q.Registry, hostPorts))
			}
		}
	}
	return append(errs, requiredStrings(p, "volume", q.Volume)...)
}

func fcSource(fc *corev1.FCVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(fc.TargetWWNs) < 1 && len(fc.WWIDs) < 1 {
		errs = append(errs, field.Required(p.Child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
	}
	if len(fc.TargetWWNs) != 0 && len(fc.WWIDs) != 0 {
		errs = append(errs, field.Invalid(p.Child("targetWWNs"), fc.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
	}
	if len(fc.TargetWWNs) != 0 {
		if fc.Lun == nil {
			errs = append(errs, field.Required(p.Child("lun"), "lun is required if targetWWNs is specified"))
		} else if *fc.Lun < 0 || *fc.Lun > 255 {
			errs = append(errs, field.Invalid(p.Child("lun"), fc.Lun, utilvalidation.InclusiveRangeError(0, 255)))
		}
	}
	return errs
}

func flexSource(fv *corev1.FlexVolumeSource, p *field.Path) field.ErrorList {
	errs := requiredStrings(p, "driver", fv.Driver)
	for _, k := range sortedKeys(fv.Options) {
		ns := k
		if parts := strings.SplitN(k, "/", 2); len(parts) == 2 {
			ns = parts[0]
		}
		norm := "." + strings.ToLower(ns)
		if strings.HasSuffix(norm, ".kubernetes.io") || strings.HasSuffix(norm, ".k8s.io") {
			errs = append(errs, field.Invalid(p.Child("options").Key(k), k, "kubernetes.io and k8s.io namespaces are reserved"))
		}
	}
	return errs
}

func csiSource(c *corev1.CSIVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	dp := p.Child("driver")
	if c.Driver == "" {
		errs = append(errs, field.Required(dp, ""))
	}
	if len(c.Driver) > 63 {
		errs = append(errs, field.TooLong(dp, "", 63))
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(strings.ToLower(c.Driver)) {
		errs = append(errs, field.Invalid(dp, c.Driver, msg))
	}
	if ref := c.NodePublishSecretRef; ref != nil {
		if ref.Name == "" {
			errs = append(errs, field.Required(p.Child("nodePublishSecretRef", "name"), ""))
		} else {
			errs = append(errs, nameErrors(NameIsDNSSubdomain, ref.Name, false, p.Child("name"))...)
		}
	}
	return errs
}

func ephemeralSource(e *corev1.EphemeralVolumeSource, p *field.Path) field.ErrorList {
	if e.VolumeClaimTemplate == nil {
		return field.ErrorList{field.Required(p.Child("volumeClaimTemplate"), "")}
	}
	tp := p.Child("volumeClaimTemplate")
	errs := templateObjectMeta(&e.VolumeClaimTemplate.ObjectMeta, tp.Child("metadata"))
	return append(errs, persistentVolumeClaimSpec(&e.VolumeClaimTemplate.Spec, tp.Child("spec"))...)
}

// persistentVolumeClaimSpec validates the parts of a claim spec that pods and
// StatefulSets embed: access modes, a positive storage request, the class
// name and the volume mode.
func persistentVolumeClaimSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("accessModes"), "at least 1 access mode is required"))
	}
	if s.Selector != nil {
		errs = append(errs, labelSelector(s.Selector, p.Child("selector"))...)
	}
	rwop, other := false, false
	for _, m := range s.AccessModes {
		known := false
		for _, sm := range supportedAccessModes {
			known = known || sm == m
		}
		if !known {
			errs = append(errs, field.NotSupported(p.Child("accessModes"), m, supportedAccessModes))
		} else if m == corev1.ReadWriteOncePod {
			rwop = true
		} else {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(p.Child("accessModes"), "may not use ReadWriteOncePod with other access modes"))
	}
	sp := p.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sp, ""))
	} else if q.Cmp(resource.Quantity{}) <= 0 {
		errs = append(errs, field.Invalid(sp, q.String(), notPositive))
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, nameErrors(NameIsDNSSubdomain, *s.StorageClassName, false, p.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && *s.VolumeMode != corev1.PersistentVolumeBlock && *s.VolumeMode != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *s.VolumeMode, supportedVolumeModes))
	}
	return errs
}
