package auditsink_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/audit/auditsink"
)

func TestCheckSpec(t *testing.T) {
	tests := []struct {
		spec    string
		mention string // in the error; "" when the spec is valid
	}{
		{"off", ""},
		{"stderr", ""},
		{"file:/var/log/stacker/audit.jsonl", ""},
		{"nats://127.0.0.1:4222", ""},
		{"nats://a:4222,nats://user:s3cret@b:4222?topic=compliance.audit", ""},
		{"redis://:s3cret@cache:6379/0?topic=stacker.audit", ""},
		{"rediss://cache:6380/2", ""},
		{"kafka://b1:9092,b2:9092?topic=stacker.audit", ""},

		{"", "is not off, stderr"},
		{"bus", "is not off, stderr"},
		{"file:", "names no file"},
		{"memory://", "in-process"},
		{"memory://?topic=stacker.audit", "in-process"},
		{"amqp://rabbit:5672", `unknown scheme "amqp"`},
		{"nats://", "empty address"},
		{"nats://bad host:4222", "want host:port"},
		{"nats://host:99999", "bad port"},
		{"kafka://user:s3cret@b1:9092", "no credentials"},
		{"nats://host?topic=", "topic must be given once"},
		{"redis://host:6379/0?topic=", "topic must be given once"},
		{"nats://host?topic=stacker.*", "not a valid subject"},
		{"kafka://b1?topic=stacker audit", "not a valid topic"},
		{"redis://:s3cret@host:6379/notadb", "invalid database"},
		{"nats://user:s3cret@host:bad", "bad port"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			err := auditsink.CheckSpec(tc.spec)
			if tc.mention == "" {
				if err != nil {
					t.Fatalf("CheckSpec: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckSpec succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// The file sink writes one JSON line per record, every buffered record
// written by Close, in a file only its owner may read.
func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := auditsink.Open(t.Context(), "file:"+path, nil, nil)
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

func TestOpenOff(t *testing.T) {
	if sink, err := auditsink.Open(t.Context(), "off", nil, nil); sink != nil || err != nil {
		t.Fatalf("Open(off) = %v, %v; want no sink", sink, err)
	}
}

// record is a record with every field set, told apart by its request id.
func record(id string) audit.Record {
	return audit.Record{
		Time:          time.Date(2026, 11, 30, 8, 15, 0, 0, time.UTC),
		Subject:       "cm-17",
		RequestID:     "req-" + id,
		Traceparent:   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		OperationName: "CaseBoard",
		DocumentHash:  audit.DocumentHash("query CaseBoard { cases { nodes { id } } }"),
		Fields:        map[string]map[string][]string{"Patient": {id: {"email", "fullName"}}, "Document": {"9" + id: {"title"}}},
	}
}
