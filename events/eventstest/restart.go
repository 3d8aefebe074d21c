package eventstest

import (
	"context"
	"testing"
	"time"

	"github.com/stacker/stacker/events"
)

// Restart describes a broker that a test stops and starts again at the same
// address, for RunRestart.
type Restart struct {
	// New opens a Bus on the broker with opts.
	New func(t *testing.T, opts events.Options) events.Bus
	// Stop takes the broker away abruptly and returns once bus has seen it
	// go (adapters that cannot tell may return at once).
	Stop func(t *testing.T, bus events.Bus)
	// Start brings the broker back at the same address.
	Start func(t *testing.T)
	// NoGap says the adapter loses nothing across the restart: a Publish
	// made while the broker is away succeeds once it is back (or at once,
	// buffered) and is delivered, and so is everything published after it.
	// At-most-once brokers that resubscribe some time after they come back
	// set it false; the scenario then publishes probe events until one
	// arrives before it checks delivery again.
	NoGap bool
}

// restart-scenario event numbering: seqs 1..before before the stop, outageSeq
// while the broker is away, probes from probeSeq, then after+1.. to check.
const (
	before    = 5
	outageSeq = 100
	probeSeq  = 1000
	after     = 20
)

// RunRestart checks that a subscription survives its broker going away and
// coming back: events published after the restart arrive, none twice, in
// order, and the subscription never ends. All events are of one case, so
// every adapter keeps their order.
func RunRestart(t *testing.T, r Restart) {
	b := r.New(t, events.Options{Topic: Topic(t), MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	t.Cleanup(func() { _ = b.Close() })
	sub := subscribe(t, t.Context(), b)
	rd := &restartReader{t: t, sub: sub, seen: make(map[int64]bool), backCh: make(chan struct{})}

	for seq := int64(1); seq <= before; seq++ {
		publish(t, b, Event(1, seq))
	}
	rd.expect(1, before)

	r.Stop(t, b)
	t.Log("broker stopped")
	waitPing(t, b, false)
	outage := make(chan error, 1)
	outageWait := Wait
	if !r.NoGap {
		outageWait = 3 * time.Second // this Publish must end while the broker is away
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), outageWait)
		defer cancel()
		outage <- b.Publish(ctx, Event(1, outageSeq))
	}()
	if !r.NoGap {
		// Let the at-most-once publish fail or succeed while the broker is
		// still away, so its fate does not depend on the restart's timing.
		select {
		case err := <-outage:
			t.Logf("Publish while the broker was away: %v", err)
			outage <- err
		case <-time.After(Wait):
			t.Fatalf("Publish while the broker was away did not return within %v", Wait)
		}
	}
	r.Start(t)
	t.Log("broker started again")

	var err error
	select {
	case err = <-outage:
	case <-time.After(Wait):
		t.Fatalf("Publish made while the broker was away did not return within %v of its restart", Wait)
	}

	if r.NoGap {
		if err != nil {
			t.Fatalf("Publish while the broker was away: %v, want it to succeed once the broker is back", err)
		}
		for seq := int64(before + 1); seq <= before+after; seq++ {
			publish(t, b, Event(1, seq))
		}
		rd.expect(outageSeq, outageSeq)
		rd.expect(before+1, before+after)
	} else {
		// Probe until the subscription is back: one probe every 50ms.
		probed := make(chan struct{})
		go func() {
			defer close(probed)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for seq := int64(probeSeq); ; seq++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = b.Publish(ctx, Event(1, seq)) // errors while reconnecting are expected
				cancel()
				select {
				case <-rd.back():
					return
				case <-tick.C:
				case <-t.Context().Done():
					return
				}
			}
		}()
		rd.waitBack()
		<-probed
		for seq := int64(before + 1); seq <= before+after; seq++ {
			publish(t, b, Event(1, seq))
		}
		rd.expect(before+1, before+after)
	}

	waitPing(t, b, true)
	if err := sub.Err(); err != nil {
		t.Errorf("subscription Err() = %v after the restart, want nil (still open)", err)
	}
	if st := b.Stats(); st.Dropped != 0 || st.Subscribers != 1 {
		t.Errorf("Stats = %+v, want the one subscriber, never dropped", st)
	}
}

// restartReader reads the scenario's subscription, failing on a duplicate.
type restartReader struct {
	t        *testing.T
	sub      events.Subscription
	seen     map[int64]bool
	backCh   chan struct{}
	lastSeen int64
}

// back is closed once the subscription has received an event published
// after the restart.
func (r *restartReader) back() <-chan struct{} { return r.backCh }

// next reads one event, failing on a duplicate or after Wait.
func (r *restartReader) next() events.Event {
	r.t.Helper()
	select {
	case e, ok := <-r.sub.Events():
		if !ok {
			r.t.Fatalf("subscription ended: %v", r.sub.Err())
		}
		if r.seen[e.DocumentID] {
			r.t.Fatalf("seq %d delivered twice", e.DocumentID)
		}
		r.seen[e.DocumentID] = true
		return e
	case <-time.After(Wait):
		r.t.Fatalf("no event within %v (last seq %d)", Wait, r.lastSeen)
		return events.Event{}
	}
}

// expect reads seqs from..to in order; probes still arriving before them are
// skipped (each at most once).
func (r *restartReader) expect(from, to int64) {
	r.t.Helper()
	for want := from; want <= to; {
		e := r.next()
		if e.DocumentID >= probeSeq || (e.DocumentID == outageSeq && from != outageSeq) {
			continue // a late probe, or the at-most-once outage publish that made it
		}
		if e.DocumentID != want {
			r.t.Fatalf("got seq %d, want %d (a gap or reordering)", e.DocumentID, want)
		}
		r.lastSeen = want
		want++
	}
}

// waitBack reads until the first probe (or the outage publish) arrives and
// tells the prober to stop.
func (r *restartReader) waitBack() {
	r.t.Helper()
	for {
		e := r.next()
		if e.DocumentID >= probeSeq || e.DocumentID == outageSeq {
			r.t.Logf("subscription back: seq %d arrived", e.DocumentID)
			close(r.backCh)
			return
		}
		r.t.Fatalf("unexpected seq %d before the first probe", e.DocumentID)
	}
}

// waitPing waits until b's Ping succeeds (up) or fails (not up), each Ping
// bounded by a second so one to a vanished broker cannot hang the test.
func waitPing(t *testing.T, b events.Bus, up bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := b.Ping(ctx)
		cancel()
		if (err == nil) == up {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping = %v for %v, want up=%v", err, Wait, up)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
