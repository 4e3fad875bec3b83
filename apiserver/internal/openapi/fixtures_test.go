package openapi

// testResources is a representative resource list: core pods with their
// special subresources, cluster-scoped namespaces and nodes, apps deployments
// with scale and status, configmaps and batch jobs.
func testResources() []Resource {
	all := []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbDelete, VerbDeleteCollection}
	status := Subresource{Name: "status", Verbs: []string{VerbGet, VerbUpdate, VerbPatch}}
	return []Resource{
		{
			Version: "v1", Kind: "Pod", Resource: "pods", ListKind: "PodList", Namespaced: true, Verbs: all,
			Subresources: []Subresource{
				status,
				{Name: "log", Verbs: []string{VerbGet}},
				{Name: "exec", Verbs: []string{VerbGet, VerbCreate}},
				{Name: "attach", Verbs: []string{VerbGet, VerbCreate}},
				{Name: "portforward", Verbs: []string{VerbGet, VerbCreate}},
				{Name: "binding", Version: "v1", Kind: "Binding", Verbs: []string{VerbCreate}},
				{Name: "eviction", Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{VerbCreate}},
			},
		},
		{
			Version: "v1", Kind: "Namespace", Resource: "namespaces", ListKind: "NamespaceList",
			Verbs:        []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbDelete},
			Subresources: []Subresource{status},
		},
		{Version: "v1", Kind: "Node", Resource: "nodes", ListKind: "NodeList", Verbs: all, Subresources: []Subresource{status}},
		{Version: "v1", Kind: "ConfigMap", Resource: "configmaps", Namespaced: true, Verbs: all},
		{
			Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ListKind: "DeploymentList", Namespaced: true, Verbs: all,
			Subresources: []Subresource{
				status,
				{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{VerbGet, VerbUpdate, VerbPatch}},
			},
		},
		{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", ListKind: "JobList", Namespaced: true, Verbs: all, Subresources: []Subresource{status}},
	}
}
