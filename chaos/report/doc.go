// Package report turns a checked chaos run into its outputs: report.json (the machine-readable
// result), summary.txt (for people) and, when an invariant was violated, history.json and the
// checkers' artifacts such as porcupine's linearizability.html, so the failure can be studied
// and re-checked offline.
package report
