package replicaset

import "errors"

var (
	// ErrTemplateNoLabels is returned when a ReplicaSet's pod template has no
	// labels: pods created from it could never match a selector.
	ErrTemplateNoLabels = errors.New("replicaset: unable to create pods, no labels")
)
