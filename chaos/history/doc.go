// Package history records what the chaos suite's clients saw: every operation with its call and
// return times and outcome, every watch stream with its events, the faults injected and the
// final state each master reported. The checkers in package check read it; package report
// saves it when a check fails.
//
// Times are nanoseconds since the run started, on the monotonic clock, so they order events of
// every goroutine of the run. A History is plain data: it can be written to JSON and read back
// to check a failed run again offline.
package history
