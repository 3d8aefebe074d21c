package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/internal/testsync"
)

// blockingSink holds every Write until release is closed.
type blockingSink struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *blockingSink) Write(audit.Record) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil
}

type failingSink struct{}

func (failingSink) Write(audit.Record) error { return errors.New("disk full") }

func record(id string) audit.Record {
	return audit.Record{RequestID: "req-" + id, OperationName: "Board", Fields: map[string]map[string][]string{"Patient": {id: {"email"}}}}
}

func TestFieldsFromSchema(t *testing.T) {
	s := gqlparser.MustLoadSchema(&ast.Source{Input: `
directive @pii on FIELD_DEFINITION
interface Person { name: String @pii }
type Patient implements Person { id: ID! name: String email: String @pii city: String }
type Query { p: Patient }`})
	f := audit.NewFields(s)
	if got, want := f.List(), []string{"Patient.email", "Patient.name"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	if f.Has("Patient", "city") {
		t.Fatal("Patient.city is not @pii")
	}
}

func TestCollectorTake(t *testing.T) {
	c := audit.NewCollector()
	if c.Take() != nil {
		t.Fatal("an empty collector takes nil")
	}
	var wg sync.WaitGroup
	for _, f := range []string{"phone", "email", "email", "fullName"} {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add("Patient", "7", f) }()
	}
	wg.Wait()
	c.Add("Document", "3", "title")
	want := map[string]map[string][]string{"Patient": {"7": {"email", "fullName", "phone"}}, "Document": {"3": {"title"}}}
	if got := c.Take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	if c.Take() != nil {
		t.Fatal("Take empties the collector")
	}
}

// A sink that blocks costs Write nothing: once the buffer is full, records
// are lost loudly (a log line with no values, a counter), in open mode
// without an error and in closed mode with ErrUnavailable.
func TestBufferFullTakesFailurePath(t *testing.T) {
	for _, mode := range []string{audit.FailOpen, audit.FailClosed} {
		t.Run(mode, func(t *testing.T) {
			logs := &testsync.Buffer{}
			sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{})}
			tr := audit.New(sink, audit.Options{Buffer: 2, Mode: mode, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			defer tr.Close()
			defer close(sink.release)
			if err := tr.Write(record("1")); err != nil {
				t.Fatal(err)
			}
			<-sink.entered // the drain holds record 1; the buffer is empty
			for _, id := range []string{"2", "3"} {
				if err := tr.Write(record(id)); err != nil {
					t.Fatalf("record %s: %v", id, err)
				}
			}
			start := time.Now()
			err := tr.Write(record("4"))
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Write waited %v on a blocked sink", d)
			}
			if mode == audit.FailClosed && !errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("closed mode: Write = %v, want ErrUnavailable", err)
			}
			if mode == audit.FailOpen && err != nil {
				t.Fatalf("open mode: Write = %v, want nil", err)
			}
			if tr.Lost() != 1 {
				t.Fatalf("lost = %d, want 1", tr.Lost())
			}
			if got, want := tr.Refusing(), mode == audit.FailClosed; got != want {
				t.Fatalf("Refusing with a full buffer = %v, want %v", got, want)
			}
			if l := logs.String(); !strings.Contains(l, "AUDIT RECORD LOST") || !strings.Contains(l, "req-4") || !strings.Contains(l, "the buffer is full") {
				t.Fatalf("no loud log line for the lost record:\n%s", l)
			}
		})
	}
}

// A failing sink is counted and logged; closed mode then refuses.
func TestSinkFailure(t *testing.T) {
	logs := &testsync.Buffer{}
	tr := audit.New(failingSink{}, audit.Options{Buffer: 4, Mode: audit.FailClosed, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	defer tr.Close()
	_ = tr.Write(record("1"))
	// The loss is counted before its line is logged: wait for the line.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "disk full") {
		if time.Now().After(deadline) {
			t.Fatalf("the sink's error is not logged:\n%s", logs)
		}
		time.Sleep(time.Millisecond)
	}
	if tr.Lost() != 1 {
		t.Fatalf("lost = %d, want 1", tr.Lost())
	}
	if err := tr.Write(record("2")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Write after a sink failure = %v, want ErrUnavailable", err)
	}
	if !tr.Refusing() || tr.Written() != 0 {
		t.Fatalf("after a sink failure: Refusing %v, Written %d; want true, 0", tr.Refusing(), tr.Written())
	}
	if !strings.Contains(logs.String(), "disk full") {
		t.Fatalf("the sink's error is not logged:\n%s", logs)
	}
}

// A trail that keeps its records refuses nothing and counts them.
func TestHealthyTrail(t *testing.T) {
	tr := audit.New(audit.NewLineSink(&testsync.Buffer{}), audit.Options{Buffer: 4, Mode: audit.FailClosed})
	for _, id := range []string{"1", "2", "3"} {
		if err := tr.Write(record(id)); err != nil {
			t.Fatal(err)
		}
	}
	testsync.WaitFor(t, "three records written", func() bool { return tr.Written() == 3 })
	if tr.Refusing() || tr.Lost() != 0 {
		t.Fatalf("healthy trail: Refusing %v, Lost %d", tr.Refusing(), tr.Lost())
	}
	tr.Close()
	if !tr.Refusing() {
		t.Fatal("a closed trail in closed mode takes no more records: Refusing must say so")
	}
}

// fakePublisher records what it is given; with stall, it waits for the
// end of Publish's context instead.
type fakePublisher struct {
	stall    bool
	payloads [][]byte
	closed   bool
}

func (p *fakePublisher) Publish(ctx context.Context, payload []byte) error {
	if p.stall {
		<-ctx.Done()
		return ctx.Err()
	}
	p.payloads = append(p.payloads, payload)
	return nil
}

func (p *fakePublisher) Close() error { p.closed = true; return nil }

// The bus sink publishes the bytes the line sink writes, newline aside; a
// publisher that stalls fails the Write at the sink's timeout; Close
// closes the publisher.
func TestBusSink(t *testing.T) {
	r := record("7")
	r.Time = time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	var line bytes.Buffer
	if err := audit.NewLineSink(&line).Write(r); err != nil {
		t.Fatal(err)
	}

	p := &fakePublisher{}
	sink := audit.NewBusSink(p, time.Second)
	if err := sink.Write(r); err != nil {
		t.Fatal(err)
	}
	if len(p.payloads) != 1 || string(p.payloads[0])+"\n" != line.String() {
		t.Fatalf("published %q, want the line %q without its newline", p.payloads, line.String())
	}
	if err := sink.Close(); err != nil || !p.closed {
		t.Fatalf("Close = %v, publisher closed %v", err, p.closed)
	}

	const timeout = 50 * time.Millisecond
	stalled := audit.NewBusSink(&fakePublisher{stall: true}, timeout)
	start := time.Now()
	err := stalled.Write(r)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write to a stalled broker = %v, want a deadline error", err)
	}
	if d := time.Since(start); d < timeout || d > timeout+time.Second {
		t.Fatalf("Write to a stalled broker returned after %v, want about %v", d, timeout)
	}
}
