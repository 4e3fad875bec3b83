package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
)

// byCreation orders ReplicaSets oldest first, by name when created together.
type byCreation []*appsv1.ReplicaSet

// Len implements sort.Interface.
func (o byCreation) Len() int { return len(o) }

// Swap implements sort.Interface.
func (o byCreation) Swap(i, j int) { o[i], o[j] = o[j], o[i] }

// Less implements sort.Interface.
func (o byCreation) Less(i, j int) bool {
	if o[i].CreationTimestamp.Equal(&o[j].CreationTimestamp) {
		return o[i].Name < o[j].Name
	}
	return o[i].CreationTimestamp.Before(&o[j].CreationTimestamp)
}

// bySizeOlder orders ReplicaSets largest first, older first among equals; it
// is the order for scaling down proportionally.
type bySizeOlder []*appsv1.ReplicaSet

// Len implements sort.Interface.
func (o bySizeOlder) Len() int { return len(o) }

// Swap implements sort.Interface.
func (o bySizeOlder) Swap(i, j int) { o[i], o[j] = o[j], o[i] }

// Less implements sort.Interface.
func (o bySizeOlder) Less(i, j int) bool {
	if rsReplicas(o[i]) == rsReplicas(o[j]) {
		return byCreation(o).Less(i, j)
	}
	return rsReplicas(o[i]) > rsReplicas(o[j])
}

// bySizeNewer orders ReplicaSets largest first, newer first among equals; it
// is the order for scaling up proportionally.
type bySizeNewer []*appsv1.ReplicaSet

// Len implements sort.Interface.
func (o bySizeNewer) Len() int { return len(o) }

// Swap implements sort.Interface.
func (o bySizeNewer) Swap(i, j int) { o[i], o[j] = o[j], o[i] }

// Less implements sort.Interface.
func (o bySizeNewer) Less(i, j int) bool {
	if rsReplicas(o[i]) == rsReplicas(o[j]) {
		return byCreation(o).Less(j, i)
	}
	return rsReplicas(o[i]) > rsReplicas(o[j])
}

// byRevision orders ReplicaSets by revision, oldest first, falling back to
// creation order when revisions tie or cannot be parsed.
type byRevision []*appsv1.ReplicaSet

// Len implements sort.Interface.
func (o byRevision) Len() int { return len(o) }

// Swap implements sort.Interface.
func (o byRevision) Swap(i, j int) { o[i], o[j] = o[j], o[i] }

// Less implements sort.Interface.
func (o byRevision) Less(i, j int) bool {
	r1, err1 := revision(o[i])
	r2, err2 := revision(o[j])
	if err1 != nil || err2 != nil || r1 == r2 {
		return byCreation(o).Less(i, j)
	}
	return r1 < r2
}
