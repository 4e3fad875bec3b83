package check

import (
	"context"
	"fmt"
	"io"

	"github.com/capstan-io/capstan/chaos/history"
)

// Checker checks one invariant of a history. Check must not modify h and must return when ctx
// ends (reporting what it could not check in Result.Notes).
type Checker interface {
	// Name is the checker's stable name, used as a key in reports.
	Name() string
	// Check examines h.
	Check(ctx context.Context, h *history.History) Result
}

// Violation is one broken invariant.
type Violation struct {
	// Checker names the checker that found it.
	Checker string `json:"checker"`
	// Key is the object concerned, when there is one.
	Key string `json:"key,omitempty"`
	// At is the history time it concerns (ns since the start), when there is one.
	At int64 `json:"at,omitempty"`
	// Message explains it to a person.
	Message string `json:"message"`
}

func (v Violation) String() string {
	if v.Key != "" {
		return fmt.Sprintf("%s: %s: %s", v.Checker, v.Key, v.Message)
	}
	return fmt.Sprintf("%s: %s", v.Checker, v.Message)
}

// Artifact is a file a checker offers for a failed run, such as porcupine's visualization.
type Artifact struct {
	// Name is the file name, without directories.
	Name string
	// Write writes the file's content.
	Write func(w io.Writer) error
}

// Result is what a checker found.
type Result struct {
	Checker    string      `json:"checker"`
	Violations []Violation `json:"violations,omitempty"`
	// Checked counts what was verified (operations, streams, lists...).
	Checked int `json:"checked"`
	// Unverified counts what could not be verified, for lack of watch coverage or time.
	Unverified int `json:"unverified,omitempty"`
	// Notes say what the counts mean and what was skipped.
	Notes []string `json:"notes,omitempty"`
	// Artifacts are written next to the report when the run has violations.
	Artifacts []Artifact `json:"-"`
}

// OK reports whether the checker found no violation.
func (r Result) OK() bool { return len(r.Violations) == 0 }

func (r *Result) violate(key string, at int64, format string, args ...any) {
	r.Violations = append(r.Violations, Violation{Checker: r.Checker, Key: key, At: at, Message: fmt.Sprintf(format, args...)})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// maxViolations bounds the violations one checker reports; the count of the rest is noted.
const maxViolations = 200

// trim caps the violations and notes how many were dropped.
func (r *Result) trim() {
	if n := len(r.Violations); n > maxViolations {
		r.Violations = r.Violations[:maxViolations]
		r.note("%d more violations not listed", n-maxViolations)
	}
}

// All returns every checker with default settings.
func All() []Checker {
	return []Checker{
		&Linearizability{},
		LostWrites{},
		ResourceVersions{},
		Watches{},
		ListReplay{},
		Conflicts{},
		Convergence{},
		Deployments{},
		Bindings{},
		Recovery{},
	}
}

// Run runs checkers over h.
func Run(ctx context.Context, h *history.History, checkers []Checker) []Result {
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		r := c.Check(ctx, h)
		r.Checker = c.Name()
		for i := range r.Violations {
			r.Violations[i].Checker = c.Name()
		}
		r.trim()
		out = append(out, r)
	}
	return out
}
