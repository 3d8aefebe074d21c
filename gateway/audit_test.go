package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/internal/testsync"
)

// auditRecords reads the audit file's records, by operation name.
func auditRecords(t *testing.T, path string) map[string][]audit.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]audit.Record{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("an audit line is not a record: %s: %v", sc.Bytes(), err)
		}
		out[r.OperationName] = append(out[r.OperationName], r)
	}
	return out
}

// waitRecord waits for the record of operation op (records are written
// after the response, by the trail's goroutine).
func waitRecord(t *testing.T, path, op string) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rs := auditRecords(t, path)[op]; len(rs) > 0 {
			return rs
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("no audit record for %s; file:\n%s", op, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var patientPII = []string{"firstName", "lastName", "fullName", "dateOfBirth", "email", "phone", "city"}

// auditPage is one random case-board page: its filter, page size, cursor
// and which of the patient's personal fields it selects.
type auditPage struct {
	status []string
	first  int
	after  string
	fields []string
}

func (p auditPage) query(op string) string {
	var args []string
	if len(p.status) > 0 {
		args = append(args, "status: ["+strings.Join(p.status, ", ")+"]")
	}
	args = append(args, fmt.Sprintf("first: %d", p.first))
	if p.after != "" {
		args = append(args, fmt.Sprintf("after: %q", p.after))
	}
	return fmt.Sprintf(`query %s { cases(%s) {
  pageInfo { endCursor }
  nodes { id status patient { id %s insurer { name } }
    appointments { doctor { name clinic { city } } }
    documents { id title kind } } } }`, op, strings.Join(args, ", "), strings.Join(p.fields, " "))
}

// wantAudited is what a response shows of the @pii fields, read from its
// JSON: type -> id -> fields (sorted) with a non-null value.
func wantAudited(t *testing.T, data json.RawMessage) (map[string]map[string][]string, []string) {
	t.Helper()
	var d struct {
		Cases struct {
			Nodes []struct {
				Patient   map[string]any
				Documents []map[string]any
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]string{}
	var personal []string // the names, emails and phones shown
	add := func(typ string, obj map[string]any, fields []string) {
		id, _ := obj["id"].(string)
		for _, f := range fields {
			v, ok := obj[f]
			if !ok || v == nil {
				continue
			}
			if want[typ] == nil {
				want[typ] = map[string][]string{}
			}
			if !contains(want[typ][id], f) {
				want[typ][id] = append(want[typ][id], f)
			}
			if typ == "Patient" && (f == "firstName" || f == "lastName" || f == "fullName" || f == "email" || f == "phone") {
				personal = append(personal, v.(string))
			}
		}
	}
	for _, n := range d.Cases.Nodes {
		if n.Patient != nil {
			add("Patient", n.Patient, patientPII)
		}
		for _, doc := range n.Documents {
			add("Document", doc, []string{"title"})
		}
	}
	for _, ids := range want {
		for id := range ids {
			ids[id] = sortedCopy(ids[id])
		}
	}
	return want, personal
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestAuditCaseBoard: across random case-board pages and filters, each
// response that shows personal data leaves exactly one audit record, naming
// exactly the entities and @pii fields the response contained; a response
// with none leaves none; and no name, email or phone number shown reaches
// the audit trail or the logs.
func TestAuditCaseBoard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	debug := freeAddr(t)
	e := startStacker(t, map[string]string{"STACKER_AUDIT": "file:" + path, "STACKER_DEBUG_ADDR": debug})
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	statuses := []string{"NEW", "IN_REVIEW", "WAITING_FOR_DOCUMENTS", "CLOSED"}

	var personal []string
	after := ""
	for i := range 8 {
		p := auditPage{first: 1 + rng.IntN(30)}
		for _, s := range statuses {
			if rng.IntN(2) == 0 {
				p.status = append(p.status, s)
			}
		}
		for _, f := range patientPII {
			if rng.IntN(3) > 0 {
				p.fields = append(p.fields, f)
			}
		}
		if i%2 == 1 {
			p.after = after // the next page of the last filter
			p.status = nil
		}
		op := fmt.Sprintf("AuditPage%d", i)
		var data json.RawMessage
		e.mustDo(t, p.query(op), nil, &data)
		var cur struct {
			Cases struct{ PageInfo struct{ EndCursor *string } }
		}
		_ = json.Unmarshal(data, &cur)
		if cur.Cases.PageInfo.EndCursor != nil {
			after = *cur.Cases.PageInfo.EndCursor
		}
		want, shown := wantAudited(t, data)
		personal = append(personal, shown...)
		if len(want) == 0 {
			continue // an empty page: checked below that no record came
		}
		rs := waitRecord(t, path, op)
		if len(rs) != 1 {
			t.Fatalf("%s: %d records, want one", op, len(rs))
		}
		r := rs[0]
		if !reflect.DeepEqual(r.Fields, want) {
			t.Errorf("%s (%s): audited\n%v\nthe response showed\n%v", op, p.query(op), r.Fields, want)
		}
		if r.Subject != audit.Anonymous || r.RequestID == "" || r.DocumentHash != audit.DocumentHash(p.query(op)) || r.Time.IsZero() {
			t.Errorf("%s: record %+v", op, r)
		}
	}

	// No personal field, no record; the trail writes in order, so once the
	// next record is there this one would be too.
	var data json.RawMessage
	e.mustDo(t, `query AuditNone { cases(first: 5) { nodes { id status patient { id } documents { kind } appointments { doctor { clinic { city } } } } } }`, nil, &data)
	e.mustDo(t, `query AuditAfterNone { cases(first: 1) { nodes { patient { fullName } } } }`, nil, &data)
	waitRecord(t, path, "AuditAfterNone")
	if rs := auditRecords(t, path)["AuditNone"]; len(rs) != 0 {
		t.Errorf("a response with no personal data was audited: %+v", rs)
	}

	if len(personal) == 0 {
		t.Fatal("the pages showed no names, emails or phone numbers")
	}

	// The operators' listener counts what the trail wrote: every line.
	n := 0
	for _, rs := range auditRecords(t, path) {
		n += len(rs)
	}
	var stats struct{ Counters map[string]int64 }
	readStats := func() bool {
		resp, err := e.HTTP.Get("http://" + debug + "/debug/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&stats)
		// A line is in the file just before the trail counts it.
		return stats.Counters["audit_records_written"] >= int64(n)
	}
	testsync.WaitFor(t, "the trail to count its records", readStats)
	if stats.Counters["audit_records_written"] != int64(n) || stats.Counters["audit_records_lost"] != 0 {
		t.Errorf("/debug/stats counters %v, want %d written and none lost", stats.Counters, n)
	}
	trail, _ := os.ReadFile(path)
	logs := e.Logs.String()
	for _, v := range personal {
		if strings.Contains(string(trail), v) {
			t.Errorf("the audit trail holds a value shown: %q", v)
		}
		if strings.Contains(logs, v) {
			t.Errorf("the logs hold a value shown: %q", v)
		}
	}
}

// TestAuditSlowSinkClosed: a sink that stops taking records (a pipe nobody
// reads) never stalls a query; once the buffer is full the closed failure
// mode withholds personal data: the personal fields are null with
// AUDIT_UNAVAILABLE, or, for the response whose record found the buffer
// full, the whole response is (and the loss is logged loudly).
func TestAuditSlowSinkClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	// A reader that never reads: the pipe fills, then every write blocks.
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := startStacker(t, map[string]string{"STACKER_AUDIT": "file:" + path, "STACKER_AUDIT_FAIL": "closed", "STACKER_AUDIT_BUFFER": "1"})
	// Cleanups run last first: the reader closes before the gateway stops,
	// so the blocked write fails and the trail drains.
	t.Cleanup(func() { reader.Close() })

	q := `query AuditFill { cases(first: 100) { nodes { id patient { id fullName email phone } documents { id title } } } }`
	for i := range 500 {
		start := time.Now()
		var data json.RawMessage
		errs := e.do(t, q, nil, &data)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("query %d took %v behind a blocked audit sink", i, d)
		}
		if len(errs) == 0 {
			continue
		}
		// The first refusal: the whole response, when the buffer filled
		// while it ran (its record was lost, loudly), or its personal fields
		// alone, when the buffer was full before they came up.
		for _, err := range errs {
			if err.Extensions["code"] != "AUDIT_UNAVAILABLE" && err.Extensions["code"] != "TOO_MANY_ERRORS" {
				t.Fatalf("query %d: error %s, want AUDIT_UNAVAILABLE", i, jsonString(err))
			}
		}
		logs := e.Logs.String()
		if whole := len(errs) == 1 && (len(data) == 0 || string(data) == "null"); whole {
			if !strings.Contains(logs, "AUDIT RECORD LOST") || !strings.Contains(logs, "the buffer is full") {
				t.Fatalf("no loud log line for the lost record:\n%s", logs)
			}
		} else if !strings.Contains(logs, "AUDIT_UNAVAILABLE") {
			t.Fatalf("personal data withheld without a log line:\n%.2000s", logs)
		}

		// The buffer stays full (nobody reads the pipe): from now on the
		// personal fields are withheld before they are resolved, each null
		// with AUDIT_UNAVAILABLE at its path, and the rest of the screen
		// renders.
		var board struct {
			Cases struct {
				Nodes []struct {
					ID      string
					Status  string
					Patient *struct{ ID, City string }
				}
			}
		}
		errs = e.do(t, `query AuditWithheld { cases(first: 3) { nodes { id status patient { id city } } } }`, nil, &board)
		if len(board.Cases.Nodes) != 3 {
			t.Fatalf("the rest of the screen is missing: %+v %s", board, jsonString(errs))
		}
		var paths []string
		for i, n := range board.Cases.Nodes {
			// city is non-null: withheld, it nulls its patient.
			if n.ID == "" || n.Status == "" || n.Patient != nil {
				t.Errorf("node %d: %+v, want id and status, the patient nulled by its withheld city", i, n)
			}
			paths = append(paths, fmt.Sprintf("cases.nodes.%d.patient.city", i))
		}
		var got []string
		for _, err := range errs {
			if err.Extensions["code"] != "AUDIT_UNAVAILABLE" {
				t.Errorf("error %s, want AUDIT_UNAVAILABLE", jsonString(err))
			}
			got = append(got, err.pathString())
		}
		if slices.Sort(got); !slices.Equal(got, paths) {
			t.Errorf("errors at %q, want %q", got, paths)
		}
		return
	}
	t.Fatal("500 audited queries behind a blocked sink and the buffer never filled")
}

// TestAuditBusNATS: with STACKER_AUDIT naming a NATS subject, a response
// that shows personal data puts exactly one record on the subject, naming
// the entities and @pii fields the response contained and none of their
// values.
func TestAuditBusNATS(t *testing.T) {
	url := natsTopic(t)
	topic := url[strings.Index(url, "topic=")+len("topic="):]
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	e := startStacker(t, map[string]string{"STACKER_AUDIT": url, "STACKER_AUDIT_FAIL": "closed"})

	p := auditPage{first: 10, fields: patientPII}
	var data json.RawMessage
	e.mustDo(t, p.query("AuditBus"), nil, &data)
	want, personal := wantAudited(t, data)
	if len(want) == 0 || len(personal) == 0 {
		t.Fatalf("the page showed no personal data: %s", data)
	}
	// The trail writes in order: once the next query's record is there,
	// a second record of the first would have been too.
	e.mustDo(t, `query AuditBusAfter { cases(first: 1) { nodes { patient { fullName } } } }`, nil, &data)

	var got []audit.Record
	for len(got) < 2 {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("%d records on %s: %v", len(got), topic, err)
		}
		for _, v := range personal {
			if strings.Contains(string(m.Data), v) {
				t.Errorf("the record on the bus holds a value shown: %q", v)
			}
			if strings.Contains(e.Logs.String(), v) {
				t.Errorf("the logs hold a value shown: %q", v)
			}
		}
		var r audit.Record
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("a message on %s is not a record: %s: %v", topic, m.Data, err)
		}
		got = append(got, r)
	}
	if got[0].OperationName != "AuditBus" || got[1].OperationName != "AuditBusAfter" {
		t.Fatalf("records of %q and %q, want AuditBus then AuditBusAfter", got[0].OperationName, got[1].OperationName)
	}
	r := got[0]
	if !reflect.DeepEqual(r.Fields, want) {
		t.Errorf("audited\n%v\nthe response showed\n%v", r.Fields, want)
	}
	if r.Subject != audit.Anonymous || r.RequestID == "" || r.DocumentHash != audit.DocumentHash(p.query("AuditBus")) || r.Time.IsZero() {
		t.Errorf("record %+v", r)
	}
}

// freeAddr is a loopback address with a port free now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
