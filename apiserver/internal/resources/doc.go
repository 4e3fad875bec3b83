// Package resources lists the resources Capstan serves and what is specific to each: scope,
// discovery names, defaulting, validation, status and scale subresources, field selectors,
// graceful deletion and the allocations some of them make (service IPs and node ports).
// Adding a resource is one entry in All and, if it needs one, a strategy function here.
package resources
