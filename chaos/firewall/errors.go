package firewall

import "errors"

// Errors of the package.
var (
	// ErrHostNamespace is returned when asked to change rules in the host's network namespace.
	ErrHostNamespace = errors.New("firewall: refusing to change the host's network namespace; run in a private one (capstan chaos run --netns)")
	// ErrUnavailable is returned when nft is missing or the process may not use it.
	ErrUnavailable = errors.New("firewall: nftables is unavailable (needs root and the nft command)")
)
