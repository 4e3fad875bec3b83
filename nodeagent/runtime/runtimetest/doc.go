// Package runtimetest provides Fake, an in-memory runtime.Runtime for the tests of packages that
// use the runtime (pod workers, the kubelet API, recovery) and for hollow nodes. Tests drive it
// with Exit, OOMKill, WriteLog, SetPullError and InjectError, and inspect Calls.
package runtimetest
