// Package loadtest is Stacker's closed-loop load generator, run as
// `go run . load [flags]`.
//
// Each of -c workers sends the same pre-marshalled GraphQL request, reads the
// whole response and only then sends the next, so the offered load follows
// the gateway's speed instead of overrunning it: the figures describe what
// Stacker sustains at that concurrency, not how a queue grows. A warmup whose
// requests are discarded comes first, so connection setup and cold caches do
// not count. Around every measured run it reads Stacker's process stats and
// the demo services' request counters, so one report gives throughput, exact
// latency percentiles, errors by kind, upstream fan-out per query and
// Stacker's CPU and memory cost. With -runs N it repeats the measured run and
// also prints the median of each figure, which is how figures are quoted.
//
// Every run is bounded: it stops at -d or after -n requests, whichever comes
// first, and at once when its context ends. Targets must be loopback
// addresses unless -allow-remote is given, because load may only be put on
// this machine.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// statsTimeout bounds one read of a stats endpoint; they answer from memory,
// so anything slower means the endpoint is wrong, not busy.
const statsTimeout = 5 * time.Second

// Run parses args (the flags after "load"), puts the configured load on the
// target and writes one report per measured run, plus their median, to
// stdout; progress notes go to stderr. It returns an error for bad flags, a
// refused target, an unreadable stats endpoint, or when ctx ends before the
// runs are done. -h prints the usage and returns nil.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}

	client := newLoadClient(cfg.concurrency, cfg.timeout)
	defer client.CloseIdleConnections()
	// Stats reads get their own client so they never wait for, or take, one
	// of the load connections.
	statsClient := &http.Client{Timeout: statsTimeout, Transport: newTransport(2)}
	defer statsClient.CloseIdleConnections()

	spec := loadSpec{
		client:      client,
		url:         cfg.url,
		body:        cfg.body,
		header:      cfg.header,
		concurrency: cfg.concurrency,
		duration:    cfg.duration,
		maxRequests: cfg.maxRequests,
	}

	fmt.Fprintf(stderr, "load: POST %s, concurrency %d, duration %s, max requests %d, runs %d\n",
		cfg.url, cfg.concurrency, cfg.duration, cfg.maxRequests, cfg.runs)

	if cfg.warmup > 0 {
		fmt.Fprintf(stderr, "load: warming up for %s\n", cfg.warmup)
		warm := spec
		warm.duration, warm.maxRequests = cfg.warmup, 0
		t, _, err := runLoad(ctx, warm)
		if err != nil {
			return fmt.Errorf("load: warmup: %w", err)
		}
		if n := t.errs.Total(); n > 0 {
			// Not fatal (errors are a measured figure), but a target that
			// fails during warmup usually means a wrong URL or query.
			fmt.Fprintf(stderr, "load: warmup: %d of %d requests failed; first: %s\n", n, t.requests, t.sample)
		}
	}

	reports := make([]Report, 0, cfg.runs)
	for i := range cfg.runs {
		r, err := measure(ctx, spec, statsClient, cfg.stackerStats, cfg.demoStats)
		if err != nil {
			return fmt.Errorf("load: run %d/%d: %w", i+1, cfg.runs, err)
		}
		r.Run, r.Runs = i+1, cfg.runs
		reports = append(reports, r)
		if !cfg.jsonOut {
			r.WriteText(stdout)
		}
	}

	med := Median(reports)
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := struct {
			Runs   []Report `json:"runs"`
			Median Report   `json:"median"`
		}{reports, med}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("load: writing report: %w", err)
		}
		return nil
	}
	if cfg.runs > 1 {
		med.WriteText(stdout)
	}
	return nil
}

// measure runs one measured load between two stats snapshots. The snapshots
// are taken while no load request is in flight (warmup and the previous run
// have fully finished), so the counter deltas belong to this run alone.
func measure(ctx context.Context, spec loadSpec, statsClient *http.Client, stackerURL, demoURL string) (Report, error) {
	before, err := takeSnapshot(ctx, statsClient, stackerURL, demoURL)
	if err != nil {
		return Report{}, fmt.Errorf("stats before: %w", err)
	}
	t, elapsed, err := runLoad(ctx, spec)
	if err != nil {
		return Report{}, err
	}
	after, err := takeSnapshot(ctx, statsClient, stackerURL, demoURL)
	if err != nil {
		return Report{}, fmt.Errorf("stats after: %w", err)
	}
	return buildReport(spec.concurrency, t, elapsed, before, after), nil
}
