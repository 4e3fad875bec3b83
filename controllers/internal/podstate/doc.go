// Package podstate answers the questions controllers ask about a single pod:
// is it active, is it ready, since when, and is it available once a
// minReadySeconds window is taken into account.
//
// The definitions follow Kubernetes exactly (pkg/api/v1/pod and
// pkg/controller): a pod is active while its phase is neither Succeeded nor
// Failed and it carries no deletionTimestamp; it is ready when its Ready
// condition is True; it is available when it is ready and has been ready for
// strictly more than minReadySeconds (or minReadySeconds is zero).
//
// Every function is pure: the current time is a parameter, so callers decide
// which clock to use and tests need no sleeps.
package podstate
