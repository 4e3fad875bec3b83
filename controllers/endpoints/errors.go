package endpoints

import "errors"

var (
	// ErrSlicesNotObserved is wrapped by the error Sync returns when the
	// EndpointSlice informer has not yet shown the slices an earlier sync of
	// the same service created or deleted; acting on that cache could create
	// duplicates, so the service is retried.
	ErrSlicesNotObserved = errors.New("endpoints: endpoint slice informer has not observed earlier writes")
)
