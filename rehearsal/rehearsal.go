// Package rehearsal is the rolling-restart rehearsal: three (or more)
// gateway replicas behind haproxy, sharing Redis (persisted queries) and
// NATS (events), the demo services in a process of their own, a
// closed-loop load of case boards and mutations, and graphql-ws
// subscribers spread over the replicas by haproxy. It restarts the replicas
// one at a time (SIGTERM, wait for the exit, start again, wait for /readyz
// and for haproxy to send to it again) and reports what the clients saw:
// failed queries and mutations, subscribers that did not come back, and
// events a subscriber missed after it had resubscribed. `stacker rehearse`
// runs it (scripts/rehearse.sh); its test runs a short one in CI.
package rehearsal

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Options of a rehearsal. Zero values take the defaults Main's flags show.
type Options struct {
	Binary   string // the stacker binary: `demo` and `serve`
	Haproxy  string // haproxy's path
	Dir      string // configuration and one log per process
	Replicas int
	// Queries and Mutations are the load's workers, each with one request
	// in flight; Subscribers the WebSocket clients.
	Queries, Mutations, Subscribers int
	// MutationPause is each mutation worker's think time.
	MutationPause time.Duration
	// Warmup is the load before the first restart; Settle after the last
	// replica is back, before the load stops.
	Warmup, Settle time.Duration
	// ShutdownDelay is the replicas' STACKER_SHUTDOWN_DELAY: longer than
	// haproxy takes to see /readyz fail (a check every 500ms).
	ShutdownDelay time.Duration
	RedisURL      string
	NATSURL       string // without ?topic=: each rehearsal takes a topic of its own
	Progress      io.Writer
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Replicas, 3)
	def(&o.Queries, 2)
	def(&o.Mutations, 2)
	def(&o.Subscribers, 6)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&o.MutationPause, 10*time.Millisecond)
	defDur(&o.Warmup, 3*time.Second)
	defDur(&o.Settle, 3*time.Second)
	defDur(&o.ShutdownDelay, 2*time.Second)
	if o.RedisURL == "" {
		o.RedisURL = "redis://127.0.0.1:6379/0"
	}
	if o.NATSURL == "" {
		o.NATSURL = "nats://127.0.0.1:4222"
	}
	if o.Haproxy == "" {
		o.Haproxy = "haproxy"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Run runs a rehearsal and returns its report; an error means the
// rehearsal itself could not run (a process did not start or stop), not
// that clients saw failures: those are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	say := func(format string, a ...any) {
		fmt.Fprintf(o.Progress, "%s rehearsal: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop(15 * time.Second)
		}
	}()
	eventsURL := fmt.Sprintf("%s?topic=stacker.rehearsal.%d", o.NATSURL, time.Now().UnixNano())
	demo, serviceURLs, err := startDemo(ctx, o.Dir, o.Binary, eventsURL)
	if err != nil {
		return nil, err
	}
	procs = append(procs, demo)

	replicas := make([]*replica, o.Replicas)
	for i := range replicas {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		replicas[i] = &replica{name: fmt.Sprintf("r%d", i+1), port: port, env: append([]string{
			"STACKER_REDIS_URL=" + o.RedisURL,
			"STACKER_EVENTS_URL=" + eventsURL,
			"STACKER_SHUTDOWN_DELAY=" + o.ShutdownDelay.String(),
			"STACKER_SHUTDOWN_TIMEOUT=10s",
			"STACKER_LOG_LEVEL=info",
		}, serviceURLs...)}
	}
	// Each replica's process is added to procs as it starts, so that the
	// deferred stop finds the current one after restarts too.
	stopReplicas := func() {
		for _, r := range replicas {
			if r.proc != nil {
				r.proc.stop(15 * time.Second)
			}
		}
	}
	defer stopReplicas()
	var names []string
	for _, r := range replicas {
		if err := r.start(o.Dir, o.Binary); err != nil {
			return nil, err
		}
		names = append(names, r.name)
	}
	for _, r := range replicas {
		if err := r.waitReady(ctx, hc, 60*time.Second); err != nil {
			return nil, err
		}
	}
	lbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	statsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	lb, err := startHaproxy(ctx, o.Dir, o.Haproxy, haproxyConfig(lbPort, statsPort, replicas))
	if err != nil {
		return nil, err
	}
	procs = append(procs, lb)
	if err := waitUp(ctx, hc, lb, statsPort, 30*time.Second, names...); err != nil {
		return nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/graphql", lbPort)
	say("%d replicas up behind haproxy at %s; load and %d subscribers start", len(replicas), url, o.Subscribers)

	// The load and the subscribers, until stopLoad / stopSubs.
	rep := &Report{Replicas: len(replicas), Subscribers: o.Subscribers}
	rec := &recorder{}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	lc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var wg sync.WaitGroup
	for range o.Queries {
		wg.Go(func() { queryWorker(loadCtx, lc, url, rec) })
	}
	for w := range o.Mutations {
		wg.Go(func() { mutationWorker(loadCtx, lc, url, w, o.Mutations, 1000, o.MutationPause, rec) })
	}
	subs := make([]*subscriber, o.Subscribers)
	var swg sync.WaitGroup
	for i := range subs {
		subs[i] = &subscriber{id: i + 1, query: subscriptionQueries[i%len(subscriptionQueries)]}
		swg.Go(func() { subs[i].run(subCtx, wsURL(url)) })
	}
	stopAll := func() {
		stopLoad()
		wg.Wait()
		stopSubs()
		swg.Wait()
	}
	defer stopAll()
	if err := waitMarkers(ctx, subs, 30*time.Second); err != nil {
		return nil, fmt.Errorf("before the restarts: %w", err)
	}
	if err := sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}

	rep.Start = time.Now()
	for _, r := range replicas {
		rs := Restart{Replica: r.name, Signalled: time.Now()}
		if err := r.proc.stop(o.ShutdownDelay + 30*time.Second); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				return nil, err
			}
			rs.ExitErr = err.Error()
		}
		rs.Exited = time.Now()
		if err := r.start(o.Dir, o.Binary); err != nil {
			return nil, err
		}
		if err := r.waitReady(ctx, hc, 60*time.Second); err != nil {
			return nil, err
		}
		rs.Ready = time.Now()
		if err := waitUp(ctx, hc, lb, statsPort, 30*time.Second, r.name); err != nil {
			return nil, err
		}
		rs.InRotation = time.Now()
		rep.Restarts = append(rep.Restarts, rs)
		say("%s restarted: exited %.1fs after SIGTERM, ready %.1fs later, in haproxy's rotation after %.1fs more",
			r.name, rs.Exited.Sub(rs.Signalled).Seconds(), rs.Ready.Sub(rs.Exited).Seconds(), rs.InRotation.Sub(rs.Ready).Seconds())
	}
	rep.End = time.Now()
	if err := waitMarkers(ctx, subs, 30*time.Second); err != nil {
		say("%v", err) // reported below as subscribers not back
	}
	if err := sleep(ctx, o.Settle); err != nil {
		return nil, err
	}
	stopLoad()
	wg.Wait()
	loadStopped := time.Now()
	// The last events reach the subscribers, or the check says which did
	// not.
	poll(ctx, nil, "the last events", 10*time.Second, func() bool {
		return rep.check(rec, subs, loadStopped).Missed == 0
	})
	stopSubs()
	swg.Wait()
	*rep = *rep.check(rec, subs, loadStopped)
	return rep, nil
}

// waitMarkers waits until every subscriber's current connection has
// delivered its first event (see epoch).
func waitMarkers(ctx context.Context, subs []*subscriber, timeout time.Duration) error {
	return poll(ctx, nil, "first event on every subscriber's connection", timeout, func() bool {
		for _, s := range subs {
			s.mu.Lock()
			ok := len(s.epochs) > 0 && !s.epochs[len(s.epochs)-1].marker.IsZero() && s.epochs[len(s.epochs)-1].ended.IsZero()
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Main is the `rehearse` command: it runs a rehearsal with this binary as
// the gateway and prints the report. The exit status is 1 when the
// clients saw a failure.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.IntVar(&o.Replicas, "replicas", 3, "gateway replicas behind haproxy, each restarted once")
	fs.IntVar(&o.Queries, "queries", 2, "workers loading the case board, one request in flight each")
	fs.IntVar(&o.Mutations, "mutations", 2, "workers sending updateCase, one request in flight each")
	fs.DurationVar(&o.MutationPause, "mutation-pause", 10*time.Millisecond, "each mutation worker's pause between mutations")
	fs.IntVar(&o.Subscribers, "subscribers", 6, "graphql-ws subscribers (reconnecting) through haproxy")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "load before the first restart")
	fs.DurationVar(&o.Settle, "settle", 3*time.Second, "load after the last replica is back")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 2*time.Second, "the replicas' STACKER_SHUTDOWN_DELAY")
	fs.StringVar(&o.Haproxy, "haproxy", "haproxy", "haproxy binary")
	fs.StringVar(&o.RedisURL, "redis", "redis://127.0.0.1:6379/0", "Redis for persisted queries (STACKER_REDIS_URL)")
	fs.StringVar(&o.NATSURL, "nats", "nats://127.0.0.1:4222", "NATS for events, without ?topic= (a topic per run)")
	fs.StringVar(&o.Dir, "dir", "", "where configuration and process logs go (default: a new temporary directory, kept)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o.Binary = bin
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "stacker-rehearsal-"); err != nil {
			return err
		}
	}
	o.Progress = stderr
	fmt.Fprintf(stderr, "logs in %s\n", o.Dir)
	rep, err := Run(ctx, o)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if !rep.OK() {
		return errors.New("the clients saw failures (above)")
	}
	return nil
}
