package nodeipam

import "errors"

// ErrFull means every block of the cluster CIDR is assigned; the node waits for one to be freed.
var ErrFull = errors.New("nodeipam: no pod CIDR left in the cluster CIDR")
