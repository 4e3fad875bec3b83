// Command capstan is Capstan's one binary: a subcommand per component.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is a subcommand, or a group of them when run is nil.
type command struct {
	name    string
	summary string
	subs    []*command
	// flags adds the command's flags; run receives the remaining arguments.
	flags func(fs *pflag.FlagSet)
	run   func(ctx context.Context, args []string, out io.Writer) error
	// noArgs refuses positional arguments, and validate checks the parsed flags, before run;
	// their errors are usage errors.
	noArgs   bool
	validate func() error
}

// usageError is an error in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

func root() *command {
	return &command{name: "capstan", summary: "a Kubernetes-compatible container orchestrator with a built-in Raft store", subs: []*command{
		agentCommand(),
		benchCommand(),
		chaosCommand(),
		serverCommand(),
		adminRootCommand(),
		upCommand(),
		downCommand(),
		versionCommand(),
	}}
}

// run executes the command line and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, root(), nil, args, stdout)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "capstan: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, c *command, path []string, args []string, out io.Writer) error {
	path = append(path, c.name)
	if c.run == nil {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(out, groupUsage(c, path))
			if len(args) == 0 {
				return usagef("%s needs a subcommand", strings.Join(path, " "))
			}
			return nil
		}
		for _, sub := range c.subs {
			if sub.name == args[0] {
				return dispatch(ctx, sub, path, args[1:], out)
			}
		}
		return usagef("unknown command %q for %q; run '%s --help'", args[0], strings.Join(path, " "), strings.Join(path, " "))
	}
	fs := pflag.NewFlagSet(strings.Join(path, " "), pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: %s [flags]\n\n%s\n\nFlags:\n%s", strings.Join(path, " "), c.summary, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usagef("%v", err)
	}
	if c.noArgs {
		if err := noArgs(fs.Args()); err != nil {
			return err
		}
	}
	if c.validate != nil {
		if err := c.validate(); err != nil {
			return usagef("%v", err)
		}
	}
	return c.run(ctx, fs.Args(), out)
}

func groupUsage(c *command, path []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s <command> [flags]\n\n%s\n\nCommands:\n", strings.Join(path, " "), c.summary)
	subs := append([]*command(nil), c.subs...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	for _, s := range subs {
		fmt.Fprintf(&b, "  %-12s %s\n", s.name, s.summary)
	}
	return b.String()
}

// noArgs rejects positional arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}
