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
// With -floor-url it measures the floor (`stacker floor`: the same answer
// without a gateway) in turn with the gateway, floor first in every pair,
// so both see the same machine within seconds of each other, and ends with
// the gateway's figures over the floor's (see Comparison).
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

	targets := []target{{name: cfg.name, url: cfg.url, stats: cfg.stackerStats}}
	if cfg.floorURL != "" {
		targets = []target{
			{name: "floor", url: cfg.floorURL, stats: cfg.floorStats},
			{name: "gateway", url: cfg.url, stats: cfg.stackerStats},
		}
	}
	for _, tg := range targets {
		fmt.Fprintf(stderr, "load: POST %s, concurrency %d, duration %s, max requests %d, runs %d\n",
			tg.url, cfg.concurrency, cfg.duration, cfg.maxRequests, cfg.runs)
	}

	if cfg.warmup > 0 {
		for _, tg := range targets {
			fmt.Fprintf(stderr, "load: warming up %s for %s\n", tg.url, cfg.warmup)
			warm := spec
			warm.url, warm.duration, warm.maxRequests = tg.url, cfg.warmup, 0
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
	}

	reports := make([][]Report, len(targets))
	for i := range cfg.runs {
		for j, tg := range targets {
			s := spec
			s.url = tg.url
			r, err := measure(ctx, s, statsClient, tg.stats, cfg.demoStats)
			if err != nil {
				return fmt.Errorf("load: %srun %d/%d: %w", prefix(tg.name), i+1, cfg.runs, err)
			}
			r.Run, r.Runs, r.Target = i+1, cfg.runs, tg.name
			reports[j] = append(reports[j], r)
			if !cfg.jsonOut {
				r.WriteText(stdout)
			}
		}
	}

	if len(targets) == 2 {
		return writeComparison(stdout, cfg.jsonOut, reports[1], reports[0])
	}
	med := Median(reports[0])
	if cfg.jsonOut {
		return writeJSON(stdout, runsJSON{reports[0], med})
	}
	if cfg.runs > 1 {
		med.WriteText(stdout)
	}
	return nil
}

// target is one endpoint under load and its process's stats URL ("": none).
// name is -name alone, "floor" or "gateway" in a comparison.
type target struct {
	name, url, stats string
}

// prefix is name followed by a space, or nothing.
func prefix(name string) string {
	if name == "" {
		return ""
	}
	return name + " "
}

// writeComparison ends a comparison: the medians of both and the gateway's
// figures over the floor's. The JSON keeps the single-target shape (runs,
// median: the gateway's) and adds the floor's and the comparison beside it.
func writeComparison(w io.Writer, jsonOut bool, gateway, floor []Report) error {
	gm, fm := Median(gateway), Median(floor)
	c := Compare(gm, fm)
	if jsonOut {
		return writeJSON(w, struct {
			runsJSON
			Floor      runsJSON   `json:"floor"`
			Comparison Comparison `json:"comparison"`
		}{runsJSON{gateway, gm}, runsJSON{floor, fm}, c})
	}
	fm.WriteText(w)
	gm.WriteText(w)
	c.WriteText(w, gm, fm)
	return nil
}

// runsJSON is the -json report of one target.
type runsJSON struct {
	Runs   []Report `json:"runs"`
	Median Report   `json:"median"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("load: writing report: %w", err)
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
