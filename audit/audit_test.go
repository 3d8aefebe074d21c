package audit_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
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
}

// The file sink writes one JSON line per record, every buffered record
// written by Close.
func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := audit.OpenSink("file:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := audit.New(sink, audit.Options{Buffer: 16})
	for _, id := range []string{"1", "2", "3"} {
		if err := tr.Write(record(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b)
	}
	var r audit.Record
	if err := json.Unmarshal([]byte(lines[2]), &r); err != nil || r.RequestID != "req-3" {
		t.Fatalf("line 3 = %s (%v)", lines[2], err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if err := tr.Write(record("4")); err != nil {
		t.Fatalf("open mode after Close: %v", err)
	}
}

func TestCheckSpec(t *testing.T) {
	for spec, ok := range map[string]bool{"off": true, "stderr": true, "file:/var/log/a.jsonl": true, "file:": false, "bus": false, "": false} {
		if err := audit.CheckSpec(spec); (err == nil) != ok {
			t.Errorf("CheckSpec(%q) = %v", spec, err)
		}
	}
}
