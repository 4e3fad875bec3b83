// Package fault holds the chaos suite's faults. Each is a type with Inject and Heal that acts
// on a Target, the running cluster as the chaos runner exposes it; a fault value is used for
// one injection and remembers what it hit until Heal.
//
// The runner calls Inject, waits the scenario's hold time, calls Heal, and then waits for the
// cluster to be healthy again. Inject returns the time the fault took effect (the clock of the
// run's history), which the availability measurement starts from.
package fault
