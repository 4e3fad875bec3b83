package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/capstan-io/capstan/raftstore"
	"github.com/capstan-io/capstan/raftstore/storebench"
)

func benchCommand() *command {
	return &command{name: "bench", summary: "measure Capstan's performance", subs: []*command{benchStoreCommand()}}
}

// outputOptions selects human or JSON output.
type outputOptions struct {
	Output string
}

func (o *outputOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", o.Output, `Output format: "table" or "json".`)
}

func (o *outputOptions) Validate() error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("--output %q must be table or json", o.Output)
	}
	return nil
}

// benchStoreOptions are the flags of `capstan bench store`.
type benchStoreOptions struct {
	outputOptions
	cfg      storebench.Config
	baseline bool
}

func (o *benchStoreOptions) AddFlags(fs *pflag.FlagSet) {
	o.outputOptions.AddFlags(fs)
	fs.IntVar(&o.cfg.Members, "members", o.cfg.Members, "Members in the cluster.")
	fs.StringVar(&o.cfg.DataDir, "data-dir", o.cfg.DataDir, "Where the members keep their data (default: a temporary directory, removed afterwards).")
	fs.StringVar(&o.cfg.LogStore, "raft-log-store", o.cfg.LogStore, `Raft log store: "wal" or "boltdb".`)
	fs.IntVar(&o.cfg.ValueSize, "value-size", o.cfg.ValueSize, "Bytes per written value.")
	fs.IntSliceVar(&o.cfg.Concurrency, "writers", o.cfg.Concurrency, "Concurrent writers, one run per value.")
	fs.IntVar(&o.cfg.Readers, "readers", o.cfg.Readers, "Concurrent linearizable readers on a follower (0 skips the read run).")
	fs.DurationVar(&o.cfg.Duration, "duration", o.cfg.Duration, "Length of each run.")
	fs.BoolVar(&o.cfg.ViaFollower, "via-follower", o.cfg.ViaFollower, "Send writes to a follower, which forwards them to the leader.")
	fs.BoolVar(&o.baseline, "baseline", o.baseline, "Also measure bare hashicorp/raft with a trivial state machine on the same log store, for comparison.")
}

func (o *benchStoreOptions) Validate() error {
	errs := []error{o.outputOptions.Validate()}
	if o.cfg.LogStore != raftstore.LogStoreWAL && o.cfg.LogStore != raftstore.LogStoreBolt {
		errs = append(errs, fmt.Errorf("--raft-log-store %q must be wal or boltdb", o.cfg.LogStore))
	}
	if err := o.cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func benchStoreCommand() *command {
	o := &benchStoreOptions{outputOptions: outputOptions{Output: "table"}, cfg: storebench.DefaultConfig()}
	return &command{
		name:    "store",
		summary: "start a raftstore cluster on loopback (fsync on) and measure writes/s and linearizable reads/s",
		flags:   o.AddFlags,
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return usagef("%v", err)
			}
			reports := []storebench.Report{}
			rep, err := storebench.Run(ctx, o.cfg)
			if err != nil {
				return err
			}
			reports = append(reports, rep)
			if o.baseline {
				base, err := storebench.RunBaseline(ctx, o.cfg)
				if err != nil {
					return fmt.Errorf("baseline: %w", err)
				}
				reports = append(reports, base)
			}
			if o.Output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if len(reports) == 1 {
					return enc.Encode(reports[0])
				}
				return enc.Encode(reports)
			}
			for _, rep := range reports {
				fmt.Fprintf(out, "%d members, log store %s, %d-byte values, %s per run, writes via %s\n",
					rep.Members, rep.LogStore, rep.ValueSize, o.cfg.Duration.Round(time.Millisecond), map[bool]string{true: "a follower", false: "the leader"}[rep.ViaFollower])
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "OP\tCLIENTS\tOPS/S\tP50 MS\tP99 MS\tERRORS\t")
				for _, r := range rep.Results {
					fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t\n", r.Op, r.Clients, r.PerSecond, r.P50, r.P99, r.Errors)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
}
