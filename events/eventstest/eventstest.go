// Package eventstest is the conformance suite every events.Bus adapter
// passes, the broker-restart scenario, and the helpers their tests share
// (test loggers, free ports, broker processes). Only tests import it.
package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
)

// Wait bounds every wait of the suite for something that should happen
// promptly; it is generous because brokers run beside the test under -race.
const Wait = 20 * time.Second

// Adapter describes a Bus adapter to the conformance suite.
type Adapter struct {
	// New opens a Bus with opts, whose Topic is unique to the calling test.
	// The suite closes it; New may also register a t.Cleanup that does.
	New func(t *testing.T, opts events.Options) events.Bus
	// PublishRaw puts payload on topic exactly as given, bypassing
	// Event.Encode, the way a misbehaving service would. Payloads of one
	// test must reach subscribers in the order they were put (Kafka: the
	// same partition). bus is the Bus of the test, for adapters whose broker
	// is the Bus itself.
	PublishRaw func(t *testing.T, bus events.Bus, topic string, payload []byte)
	// Replicas says two Buses opened on one topic share their events (every
	// broker adapter); the in-process bus has no replicas.
	Replicas bool
	// OrderPerCase says the adapter keeps order only among the events of one
	// case (Kafka, which orders per partition); otherwise the suite checks
	// that all events of one publisher keep their order.
	OrderPerCase bool
}

// Run runs the conformance suite against a. Subtests run one after the
// other: the leak check counts goroutines.
func Run(t *testing.T, a Adapter) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, a) })
	t.Run("Replicas", func(t *testing.T) { testReplicas(t, a) })
	t.Run("ManySubscribers", func(t *testing.T) { testManySubscribers(t, a) })
	t.Run("CancelEndsSubscription", func(t *testing.T) { testCancel(t, a) })
	t.Run("SlowSubscriberDropped", func(t *testing.T) { testSlowSubscriber(t, a) })
	t.Run("Close", func(t *testing.T) { testClose(t, a) })
	t.Run("InvalidPublish", func(t *testing.T) { testInvalidPublish(t, a) })
	t.Run("MalformedPayloads", func(t *testing.T) { testMalformed(t, a) })
	t.Run("NoGoroutineLeak", func(t *testing.T) { testNoLeak(t, a) })
}

// Topic returns a topic name unique to this run, so tests sharing a broker
// do not see each other's events.
func Topic(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "stacker.events.test." + hex.EncodeToString(b[:])
}

// Event returns a valid document.uploaded event of caseID whose DocumentID
// is seq, so tests can tell events apart and check their order.
func Event(caseID, seq int64) events.Event {
	return events.Event{
		Type:       events.TypeDocumentUploaded,
		CaseID:     caseID,
		DocumentID: seq,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, int(seq), time.UTC),
	}
}

func open(t *testing.T, a Adapter, opts events.Options) events.Bus {
	t.Helper()
	if opts.Topic == "" {
		opts.Topic = Topic(t)
	}
	b := a.New(t, opts)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func subscribe(t *testing.T, ctx context.Context, b events.Bus) events.Subscription {
	t.Helper()
	sub, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return sub
}

func publish(t *testing.T, b events.Bus, e events.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := b.Publish(ctx, e); err != nil {
		t.Fatalf("Publish(%+v): %v", e, err)
	}
}

// Receive reads n events from sub, failing the test if they do not arrive
// within Wait or the subscription ends first.
func Receive(t testing.TB, sub events.Subscription, n int) []events.Event {
	t.Helper()
	got := make([]events.Event, 0, n)
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	for len(got) < n {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, sub.Err())
			}
			got = append(got, e)
		case <-timer.C:
			t.Fatalf("received %d of %d events within %v", len(got), n, Wait)
		}
	}
	return got
}

// WaitClosed reads sub until its channel closes, failing the test if that
// takes longer than Wait, and returns the events still buffered.
func WaitClosed(t testing.TB, sub events.Subscription) []events.Event {
	t.Helper()
	var got []events.Event
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				return got
			}
			got = append(got, e)
		case <-timer.C:
			t.Fatalf("subscription still open after %v (%d events read: %+v)", Wait, len(got), got)
		}
	}
}

// WaitFor polls cond until it holds, failing the test after Wait.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SameEvent reports whether a and b are the same event (times compared as
// instants).
func SameEvent(a, b events.Event) bool {
	if a.Type != b.Type || a.CaseID != b.CaseID || a.DocumentID != b.DocumentID ||
		a.AppointmentID != b.AppointmentID || a.NoteID != b.NoteID || !a.OccurredAt.Equal(b.OccurredAt) || len(a.Changed) != len(b.Changed) {
		return false
	}
	for i := range a.Changed {
		if a.Changed[i] != b.Changed[i] {
			return false
		}
	}
	return true
}

func testRoundTrip(t *testing.T, a Adapter) {
	b := open(t, a, events.Options{})
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("Ping on an open Bus: %v", err)
	}
	sub := subscribe(t, t.Context(), b)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	want := []events.Event{
		{Type: events.TypeCaseUpdated, CaseID: 7, Changed: []string{"status", "assigneeId"}, OccurredAt: at},
		{Type: events.TypeDocumentUploaded, CaseID: 7, DocumentID: 31, OccurredAt: at.Add(time.Second)},
		{Type: events.TypeAppointmentScheduled, CaseID: 7, AppointmentID: 12, OccurredAt: at.Add(2 * time.Second)},
		{Type: events.TypeAppointmentRescheduled, CaseID: 7, AppointmentID: 12, OccurredAt: at.Add(3 * time.Second)},
		{Type: events.TypeAppointmentCancelled, CaseID: 7, AppointmentID: 12, OccurredAt: at.Add(4 * time.Second)},
	}
	for _, e := range want {
		publish(t, b, e)
	}
	got := Receive(t, sub, len(want))
	for i := range want {
		if !SameEvent(got[i], want[i]) {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	st := b.Stats()
	if n := uint64(len(want)); st.Received != n || st.Delivered != n || st.Subscribers != 1 || st.Malformed != 0 || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want %d received, %d delivered, 1 subscriber", st, n, n)
	}
}

func testReplicas(t *testing.T, a Adapter) {
	if !a.Replicas {
		t.Skip("this adapter has no replicas: its events stay in one process")
	}
	topic := Topic(t)
	r1 := open(t, a, events.Options{Topic: topic})
	r2 := open(t, a, events.Options{Topic: topic})
	s1 := subscribe(t, t.Context(), r1)
	s2 := subscribe(t, t.Context(), r2)
	publish(t, r1, Event(1, 1))
	publish(t, r2, Event(2, 2))
	for i, sub := range []events.Subscription{s1, s2} {
		got := Receive(t, sub, 2)
		seqs := []int64{got[0].DocumentID, got[1].DocumentID}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		if seqs[0] != 1 || seqs[1] != 2 {
			t.Errorf("replica %d got events %v, want 1 and 2 (one from each replica)", i+1, seqs)
		}
	}
}

// testManySubscribers: several publishers at once, many subscribers (on two
// replicas when the adapter has them); every subscriber gets every event
// once and in order.
func testManySubscribers(t *testing.T, a Adapter) {
	const publishers, perPublisher, subscribers = 3, 40, 12
	topic := Topic(t)
	buses := []events.Bus{open(t, a, events.Options{Topic: topic})}
	if a.Replicas {
		buses = append(buses, open(t, a, events.Options{Topic: topic}))
	}
	subs := make([]events.Subscription, subscribers)
	for i := range subs {
		subs[i] = subscribe(t, t.Context(), buses[i%len(buses)])
	}

	// Publisher p publishes on bus p%len(buses) for cases p*100+1..p*100+3;
	// DocumentID numbers its events 1..perPublisher.
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			b := buses[p%len(buses)]
			for seq := int64(1); seq <= perPublisher; seq++ {
				if err := b.Publish(t.Context(), Event(int64(p)*100+seq%3+1, seq)); err != nil {
					errs <- fmt.Errorf("publisher %d: %w", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for i, sub := range subs {
		got := Receive(t, sub, publishers*perPublisher)
		seen := make(map[[2]int64]bool)
		last := make(map[int64]int64) // order key -> last seq
		for _, e := range got {
			k := [2]int64{e.CaseID, e.DocumentID}
			if seen[k] {
				t.Fatalf("subscriber %d got case %d seq %d twice", i, e.CaseID, e.DocumentID)
			}
			seen[k] = true
			key := e.CaseID / 100 // the publisher
			if a.OrderPerCase {
				key = e.CaseID
			}
			if e.DocumentID <= last[key] {
				t.Fatalf("subscriber %d: seq %d of case %d after seq %d: out of order", i, e.DocumentID, e.CaseID, last[key])
			}
			last[key] = e.DocumentID
		}
	}
	var delivered uint64
	for _, b := range buses {
		st := b.Stats()
		delivered += st.Delivered
		if st.Dropped != 0 {
			t.Errorf("Stats = %+v: nobody should have been dropped", st)
		}
	}
	if want := uint64(publishers * perPublisher * subscribers); delivered != want {
		t.Errorf("delivered %d events in all, want %d", delivered, want)
	}
}

func testCancel(t *testing.T, a Adapter) {
	b := open(t, a, events.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	leaving := subscribe(t, ctx, b)
	staying := subscribe(t, t.Context(), b)

	publish(t, b, Event(1, 1))
	Receive(t, leaving, 1)
	Receive(t, staying, 1)

	cancel()
	if rest := WaitClosed(t, leaving); len(rest) != 0 {
		t.Errorf("got %d events after cancel, want none", len(rest))
	}
	if err := leaving.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", err)
	}
	if n := b.Stats().Subscribers; n != 1 {
		t.Errorf("%d subscribers after one left, want 1", n)
	}

	publish(t, b, Event(1, 2))
	if got := Receive(t, staying, 1); got[0].DocumentID != 2 {
		t.Errorf("staying subscriber got seq %d, want 2", got[0].DocumentID)
	}
	if err := staying.Err(); err != nil {
		t.Errorf("staying subscriber Err() = %v, want nil", err)
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	if _, err := b.Subscribe(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe with an ended context: err = %v, want context.Canceled", err)
	}
}

// testSlowSubscriber: a subscriber that never reads is dropped once its
// buffer is full, while the publisher goes on and another subscriber gets
// every event. Publishing waits for the fast subscriber after each event, so
// the test does not depend on how fast the broker bursts.
func testSlowSubscriber(t *testing.T, a Adapter) {
	const buffer = 8
	b := open(t, a, events.Options{BufferSize: buffer})
	slow := subscribe(t, t.Context(), b)
	fast := subscribe(t, t.Context(), b)

	for seq := int64(1); seq <= 10*buffer; seq++ {
		publish(t, b, Event(1, seq))
		if got := Receive(t, fast, 1); got[0].DocumentID != seq {
			t.Fatalf("fast subscriber got seq %d, want %d", got[0].DocumentID, seq)
		}
	}

	kept := WaitClosed(t, slow)
	if !errors.Is(slow.Err(), events.ErrSlowConsumer) {
		t.Errorf("slow subscriber Err() = %v, want ErrSlowConsumer", slow.Err())
	}
	if len(kept) != buffer {
		t.Errorf("slow subscriber could still read %d buffered events, want %d", len(kept), buffer)
	}
	for i, e := range kept {
		if e.DocumentID != int64(i+1) {
			t.Errorf("slow subscriber's buffered event %d has seq %d, want %d", i, e.DocumentID, i+1)
		}
	}
	if err := fast.Err(); err != nil {
		t.Errorf("fast subscriber Err() = %v, want nil", err)
	}
	if st := b.Stats(); st.Dropped != 1 || st.Subscribers != 1 {
		t.Errorf("Stats = %+v, want 1 dropped and 1 subscriber left", st)
	}
}

func testClose(t *testing.T, a Adapter) {
	b := open(t, a, events.Options{})
	s1 := subscribe(t, t.Context(), b)
	s2 := subscribe(t, t.Context(), b)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, sub := range []events.Subscription{s1, s2} {
		WaitClosed(t, sub)
		if !errors.Is(sub.Err(), events.ErrClosed) {
			t.Errorf("subscription %d Err() = %v, want ErrClosed", i, sub.Err())
		}
	}
	if err := b.Publish(t.Context(), Event(1, 1)); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Publish after Close: err = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(t.Context()); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
	if err := b.Ping(t.Context()); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Ping after Close: err = %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testInvalidPublish(t *testing.T, a Adapter) {
	b := open(t, a, events.Options{})
	sub := subscribe(t, t.Context(), b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []events.Event{
		{Type: "case.deleted", CaseID: 1, OccurredAt: at},
		{Type: events.TypeCaseUpdated, OccurredAt: at},
		{Type: events.TypeDocumentUploaded, CaseID: 1, OccurredAt: at},
		{Type: events.TypeAppointmentScheduled, CaseID: 1, OccurredAt: at},
		{Type: events.TypeAppointmentCancelled, CaseID: 1, OccurredAt: at},
		{Type: events.TypeAppointmentRescheduled, CaseID: 1, OccurredAt: at},
		{Type: events.TypeCaseUpdated, CaseID: 1},
	} {
		if err := b.Publish(t.Context(), e); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("Publish(%+v): err = %v, want ErrMalformed", e, err)
		}
	}
	publish(t, b, Event(1, 1))
	if got := Receive(t, sub, 1); got[0].DocumentID != 1 {
		t.Errorf("first event received has seq %d, want the valid one (1)", got[0].DocumentID)
	}
}

// MalformedPayloads are payloads Decode must refuse; the suite puts each on
// the broker.
var MalformedPayloads = []string{
	``,
	`not json`,
	`{"type":"case.updated","case_id":7`,
	`[]`,
	`{"type":"case.updated","occurred_at":"2026-01-01T00:00:00Z"}`,
	`{"type":"case.deleted","case_id":7,"occurred_at":"2026-01-01T00:00:00Z"}`,
	`{"type":"case.updated","case_id":"7","occurred_at":"2026-01-01T00:00:00Z"}`,
	`{"type":"case.updated","case_id":7,"occurred_at":"yesterday"}`,
	`{"type":"case.updated","case_id":7}`,
	`{"type":"document.uploaded","case_id":7,"occurred_at":"2026-01-01T00:00:00Z"}`,
	`{"type":"appointment.scheduled","case_id":7,"appointment_id":-1,"occurred_at":"2026-01-01T00:00:00Z"}`,
	`{"type":"case.updated","case_id":7,"occurred_at":"2026-01-01T00:00:00Z"} {"type":"case.updated"}`,
}

func testMalformed(t *testing.T, a Adapter) {
	topic := Topic(t)
	b := open(t, a, events.Options{Topic: topic})
	sub := subscribe(t, t.Context(), b)
	for _, p := range MalformedPayloads {
		a.PublishRaw(t, b, topic, []byte(p))
	}
	// A valid payload put the same way arrives after all the malformed ones.
	a.PublishRaw(t, b, topic, []byte(`{"type":"case.updated","case_id":7,"changed":["status"],"occurred_at":"2026-01-01T00:00:00Z","extra":"ignored"}`))
	got := Receive(t, sub, 1)
	if got[0].Type != events.TypeCaseUpdated || got[0].CaseID != 7 || len(got[0].Changed) != 1 {
		t.Errorf("got %+v, want the valid case.updated of case 7", got[0])
	}
	if st := b.Stats(); st.Malformed != uint64(len(MalformedPayloads)) || st.Received != 1 {
		t.Errorf("Stats = %+v, want %d malformed and 1 received", st, len(MalformedPayloads))
	}
	// The subscription goes on.
	publish(t, b, Event(7, 2))
	if got := Receive(t, sub, 1); got[0].DocumentID != 2 {
		t.Errorf("after the malformed payloads got seq %d, want 2", got[0].DocumentID)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

// testNoLeak: subscribers that come and go (leaving, dropped) leave no
// goroutine of this module behind while the Bus stays open, and closing the
// Bus ends every goroutine started since it warmed up (broker clients start
// and end goroutines of their own while open, so those are counted only
// after Close). Each adapter's TestMain checks that nothing at all is left.
func testNoLeak(t *testing.T, a Adapter) {
	b := open(t, a, events.Options{BufferSize: 1})
	warm := subscribe(t, t.Context(), b)
	publish(t, b, Event(1, 1))
	Receive(t, warm, 1)
	snapshot := goleak.IgnoreCurrent()
	before := ownGoroutines()

	const n = 25
	leaveCtx, leave := context.WithCancel(t.Context())
	defer leave()
	leaving := make([]events.Subscription, n)
	dropped := make([]events.Subscription, n)
	for i := range n {
		leaving[i] = subscribe(t, leaveCtx, b)
		dropped[i] = subscribe(t, t.Context(), b)
	}
	leave()
	for _, sub := range leaving {
		WaitClosed(t, sub)
	}
	// Two events for a buffer of one: the subscribers that never read are
	// dropped.
	publish(t, b, Event(1, 2))
	Receive(t, warm, 1)
	publish(t, b, Event(1, 3))
	Receive(t, warm, 1)
	// warm may get the event before the delivery has reached everyone:
	// reading a buffer now would make room in it.
	WaitFor(t, "the idle subscribers to be dropped", func() bool { return b.Stats().Subscribers == 1 })
	for _, sub := range dropped {
		WaitClosed(t, sub)
		if !errors.Is(sub.Err(), events.ErrSlowConsumer) {
			t.Fatalf("Err() = %v, want ErrSlowConsumer", sub.Err())
		}
	}
	var left []string
	deadline := time.Now().Add(Wait)
	for {
		left = left[:0]
		for id, stack := range ownGoroutines() {
			if _, ok := before[id]; !ok {
				left = append(left, stack)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("%d goroutines of this module outlived their subscribers:\n%s", len(left), strings.Join(left, "\n\n"))
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, snapshot)
}

// ownGoroutines returns the stacks of the goroutines running code of this
// module, by goroutine id.
func ownGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	own := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/stacker/stacker/") {
			continue
		}
		header, _, _ := strings.Cut(g, "[")
		own[strings.TrimSpace(header)] = g
	}
	return own
}
