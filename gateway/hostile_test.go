package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/internal/testsync"
)

// The regression tests of the hardening review: what a hostile or careless
// client found, and what it finds now.

// 14,000 repeats of one field (154 KB, under the token limit) cost 17-28 s
// of validation; they are refused before validation now, over every
// transport, and reach no service.
func TestQuadraticValidationIsRefused(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_BATCH_MAX": "10", "STACKER_MAX_BODY_BYTES": "4194304"})
	doc := `{ cases(first: 1) { nodes { ` + strings.Repeat("__typename ", 14000) + `} } }`
	e.Demo.ResetCounts()

	t.Run("POST", func(t *testing.T) {
		_, body, _ := post(t, e.URL, map[string]any{"query": doc}, nil)
		if code := firstCode(body); code != "TOO_MANY_FIELDS" {
			t.Errorf("code %q: %.300v", code, body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		_, body := get(t, e.URL, doc)
		if code := firstCode(body); code != "TOO_MANY_FIELDS" {
			t.Errorf("code %q: %.300v", code, body)
		}
	})
	t.Run("batch", func(t *testing.T) {
		items := make([]map[string]any, 10)
		for i := range items {
			items[i] = map[string]any{"query": doc}
		}
		b, _ := json.Marshal(items)
		resp, err := http.Post(e.URL, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answers []map[string]any
		json.NewDecoder(resp.Body).Decode(&answers)
		if len(answers) != 10 {
			t.Fatalf("%d answers", len(answers))
		}
		for i, a := range answers {
			if code := firstCode(a); code != "TOO_MANY_FIELDS" {
				t.Errorf("item %d: code %q", i, code)
			}
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		c := dialWS(t, e.Base)
		c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": doc}})
		m := c.next()
		if !strings.Contains(fmt.Sprint(m["payload"]), "TOO_MANY_FIELDS") {
			t.Errorf("got %.300v", m)
		}
	})
	if calls := e.Demo.Snapshot(); len(calls) != 0 {
		t.Errorf("refused documents reached the services: %v", calls)
	}
}

// The worst documents BenchmarkValidateWorstCase measures must be within the
// limits, or the benchmark would measure a refusal.
func TestWorstCaseDocumentsAreWithinTheLimits(t *testing.T) {
	e := startStacker(t, nil)
	for name, doc := range worstCaseDocuments() {
		t.Run(name, func(t *testing.T) {
			_, body, _ := post(t, e.URL, map[string]any{"query": doc}, nil)
			code := firstCode(body)
			refused := strings.Contains(name, "refused")
			switch {
			case refused && code != "TOO_MANY_FIELDS":
				t.Errorf("not refused: %.300v", body)
			case !refused && code != "" && code != "GRAPHQL_VALIDATION_FAILED":
				t.Errorf("refused by a limit: %.300v", body)
			}
		})
	}
}

// A variable's default was not costed: sent without variables, this ran and
// answered 7 MB.
func TestCostCountsVariableDefaults(t *testing.T) {
	e := startStacker(t, nil)
	var q strings.Builder
	q.WriteString(`query Q($n: Int = 1000) {`)
	for i := range 12 {
		fmt.Fprintf(&q, " c%d: cases(first: $n) { nodes { id patient { fullName } appointments { doctor { name } } } }", i)
	}
	q.WriteString(" }")
	e.Demo.ResetCounts()
	_, body, _ := post(t, e.URL, map[string]any{"query": q.String()}, nil)
	if code := firstCode(body); code != "QUERY_TOO_COMPLEX" {
		t.Errorf("code %q: %.300v", code, body)
	}
	if calls := e.Demo.Snapshot(); len(calls) != 0 {
		t.Errorf("the operation ran: %v", calls)
	}
}

// Documents that fail to validate are never stored as persisted queries.
func TestPersistedQueriesStoreOnlyValidDocuments(t *testing.T) {
	e := startStacker(t, nil)
	bad := `{ cases { nodez { id } } }`
	if _, body, _ := post(t, e.URL, map[string]any{"query": bad, "extensions": apq(sha(bad))}, nil); firstCode(body) != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("invalid document: %v", body)
	}
	if _, body, _ := post(t, e.URL, map[string]any{"extensions": apq(sha(bad))}, nil); firstCode(body) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("an invalid document was stored: %v", body)
	}
	good := `{ case(id: 1) { id } }`
	post(t, e.URL, map[string]any{"query": good, "extensions": apq(sha(good))}, nil)
	if _, body, _ := post(t, e.URL, map[string]any{"extensions": apq(sha(good))}, nil); body["data"] == nil {
		t.Errorf("a valid document was not stored: %v", body)
	}
	// Malformed extensions are request errors with a code.
	for _, ext := range []any{"x", map[string]any{"version": 2, "sha256Hash": sha(good)}, map[string]any{"version": 1, "sha256Hash": sha("other")}} {
		if _, body, _ := post(t, e.URL, map[string]any{"query": good, "extensions": map[string]any{"persistedQuery": ext}}, nil); firstCode(body) != "BAD_REQUEST" {
			t.Errorf("%v: %v", ext, body)
		}
	}
}

// A request that sends its headers and one byte of body was held for 400 s;
// now it has STACKER_READ_TIMEOUT to arrive.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_READ_TIMEOUT": "200ms"})
	conn := rawConn(t, e.Base)
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: stacker\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server still holds the connection of a stalled body")
		}
		return // closed without an answer: also cut off
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// Clients that never read a large answer pinned it in memory; now the write
// deadline ends the request and frees it.
func TestUnreadAnswerIsCutOff(t *testing.T) {
	e := startStacker(t, map[string]string{
		"STACKER_WRITE_TIMEOUT": "100ms", "STACKER_READ_TIMEOUT": "1s", "STACKER_OPERATION_TIMEOUT": "5s",
		"STACKER_MAX_COST": "1000000", "STACKER_LOG_LEVEL": "debug",
	})
	var q strings.Builder
	q.WriteString("{")
	for i := range 20 { // about 7 MB
		fmt.Fprintf(&q, " c%d: cases(first: 1000) { nodes { id status priority specialty summary createdAt updatedAt patient { fullName email phone city dateOfBirth } } }", i)
	}
	q.WriteString(" }")
	body, _ := json.Marshal(map[string]any{"query": q.String()})
	conn := rawConn(t, e.Base)
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096) // a client that reads nothing: keep its window small
	}
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: stacker\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// The access log line is written when the handler returns, which it
	// does only once its write fails: without a write deadline it waits for
	// the client forever (this test then times out).
	testsync.WaitFor(t, "the request to end while its client reads nothing", func() bool {
		return strings.Contains(e.Logs.String(), "msg=request method=POST path=/graphql")
	})
}

// get sends a query over GET and decodes the JSON answer.
func get(t *testing.T, endpoint, query string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(endpoint + "?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET answer is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

func rawConn(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A 66 KB GET ran where a 66 KB POST got 413: the body limit bounds the
// query string too.
func TestGETObeysTheBodyLimit(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_MAX_BODY_BYTES": "65536"})
	doc := `{ case(id: 1) { id } }` + " #" + strings.Repeat("x", 66<<10)
	status, body := get(t, e.URL, doc)
	if status != http.StatusRequestURITooLong || firstCode(body) != "REQUEST_TOO_LARGE" {
		t.Errorf("%d %v", status, body)
	}
	if status, _, _ := post(t, e.URL, map[string]any{"query": doc}, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST: %d", status)
	}
}

// 7,000 unknown fields answered a megabyte of errors: a response carries at
// most STACKER_MAX_ERRORS, and says how many it left out.
func TestErrorsAreCapped(t *testing.T) {
	e := startStacker(t, nil)
	var q strings.Builder
	q.WriteString("{ cases { nodes {")
	for i := range 500 {
		fmt.Fprintf(&q, " f%d", i)
	}
	q.WriteString(" } } }")
	_, body, _ := post(t, e.URL, map[string]any{"query": q.String()}, nil)
	errs, _ := body["errors"].([]any)
	if len(errs) != 101 {
		t.Fatalf("%d errors", len(errs))
	}
	last := errs[100].(map[string]any)
	if last["message"] != "too many errors: 400 more were left out" || firstCode(map[string]any{"errors": []any{last}}) != "TOO_MANY_ERRORS" {
		t.Errorf("last error %v", last)
	}
}

// A 900 KB name was echoed whole in the answer.
func TestEchoedNamesAreClipped(t *testing.T) {
	e := startStacker(t, nil)
	status, body, _ := post(t, e.URL, map[string]any{"query": `{ cases { nodes { x` + strings.Repeat("y", 900<<10) + ` } } }`}, nil)
	if raw := jsonString(body); status != http.StatusOK || len(raw) > 2000 || firstCode(body) != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("%d, %d bytes: %.300s", status, len(raw), raw)
	}
}

// Production refuses to start without trusted documents unless told, and
// then says so in the log.
func TestProductionRequiresTrustedDocuments(t *testing.T) {
	_, err := config.Load(func(k string) string { return map[string]string{"STACKER_ENV": "production"}[k] })
	if err == nil || !strings.Contains(err.Error(), "STACKER_TRUSTED_DOCUMENTS") {
		t.Fatalf("production without trusted documents: %v", err)
	}
	e := startStacker(t, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"})
	if !strings.Contains(e.Logs.String(), "level=WARN") || !strings.Contains(e.Logs.String(), "STACKER_TRUSTED_DOCUMENTS=off") {
		t.Errorf("no warning at startup:\n%s", e.Logs.String())
	}
}

// With suggestions off, nothing names a member of the schema the client did
// not write, and introspection is a request error with its own code.
func TestProductionSuggestsNothing(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"})
	for _, q := range []string{
		`{ cases(frist: 1) { totalCount } }`,
		`{ cases(status: [NEWW]) { totalCount } }`,
		`mutation { updateCase(input: {id: 1, statuss: NEW}) { case { id } } }`,
		`{ ...F } fragment F on Quary { cases { totalCount } }`,
		`{ cases { nodez { id } } }`,
	} {
		_, body, _ := post(t, e.URL, map[string]any{"query": q}, nil)
		if s := fmt.Sprint(body); body["errors"] == nil || strings.Contains(s, "Did you mean") {
			t.Errorf("%s: %v", q, s)
		}
	}
	_, body, _ := post(t, e.URL, map[string]any{"query": `{ __schema { types { name } } }`}, nil)
	if firstCode(body) != "INTROSPECTION_DISABLED" || body["data"] != nil {
		t.Errorf("introspection: %v", body)
	}
}

// Request errors say what is wrong and carry a code.
func TestRequestErrorsAreClear(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name     string
		body     map[string]any
		wantCode string
		wantMsg  string
	}{
		{"float ID", map[string]any{"query": `query($id: ID!) { case(id: $id) { id } }`, "variables": map[string]any{"id": 4.5}},
			"BAD_USER_INPUT", "variable $id got an invalid value: ID cannot represent the non-integer 4.5"},
		{"float ID under @skip", map[string]any{"query": `query($id: ID!) { case(id: $id) @skip(if: true) { id } }`, "variables": map[string]any{"id": 4.5}},
			"BAD_USER_INPUT", "ID cannot represent the non-integer 4.5"},
		{"fractional Int", map[string]any{"query": `query($n: Int) { cases(first: $n) { totalCount } }`, "variables": map[string]any{"n": 2.5}},
			"BAD_USER_INPUT", "Int cannot represent the non-integer 2.5"},
		{"two operations, no name", map[string]any{"query": `query A { cases { totalCount } } query B { cases { totalCount } }`},
			"BAD_REQUEST", "the document has 2 operations; operationName must say which one to run"},
		{"unknown operation name", map[string]any{"query": `query A { cases { totalCount } }`, "operationName": "B"},
			"BAD_REQUEST", `the document has no operation named "B"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, body, _ := post(t, e.URL, tc.body, nil)
			if firstCode(body) != tc.wantCode || !strings.Contains(fmt.Sprint(body["errors"]), tc.wantMsg) || body["data"] != nil {
				t.Errorf("got %v", body)
			}
		})
	}
	// 1e3 and 1.0 are whole numbers: accepted for Int.
	for _, n := range []string{"1e1", "10.0"} {
		raw := `{"query":"query($n: Int) { cases(first: $n) { nodes { id } } }","variables":{"n":` + n + `}}`
		resp, err := http.Post(e.URL, "application/json", strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data struct{ Cases struct{ Nodes []any } }
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if len(out.Data.Cases.Nodes) != 10 {
			t.Errorf("first: %s gave %d cases", n, len(out.Data.Cases.Nodes))
		}
	}
}

// Requests no subscription transport serves get the GraphQL-over-HTTP
// answer in JSON, not gqlgen's "transport not supported" in text/plain.
func TestUnclaimedRequestsGetJSON(t *testing.T) {
	e := startStacker(t, nil)
	for _, h := range []map[string]string{
		{"Accept": "text/event-stream"},             // a GET for SSE, which only POST serves
		{"Upgrade": "h2c", "Connection": "Upgrade"}, // not a WebSocket
	} {
		req, _ := http.NewRequest("GET", e.URL+"?query="+url.QueryEscape(`{ case(id: 1) { id } }`), nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") || !json.Valid(raw) {
			t.Errorf("%v: %d %s %q", h, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
	}
}
