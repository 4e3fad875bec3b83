// Package eventttl deletes Events once they are older than their time to live (one hour by
// default), which etcd does for Kubernetes with a lease on every event. Capstan's store has no
// leases, so the leader sweeps: an Event's age is counted from the last time it was seen
// (lastTimestamp, series.lastObservedTime, eventTime or creation), so a recurring event stays
// while it recurs.
package eventttl
