package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/idempotency"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/sentryreport"
	"github.com/stacker/stacker/upstream"
)

const (
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	testTraceparent = "00-" + testTraceID + "-00f067aa0ba902b7-01"
)

// jsonLines are the log's lines that are JSON objects with msg (or, in
// the ecs format, message) equal to message; every line must parse.
func jsonLines(t *testing.T, logs string, message string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, line)
		}
		if m["msg"] == message || m["message"] == message {
			out = append(out, m)
		}
	}
	return out
}

// One ECS access line per operation, with the caller's subject, the
// client's request and trace ids, the upstream calls (the case board's
// eight) and the codes of its errors.
func TestAccessLineECS(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, map[string]string{"STACKER_LOG_FORMAT": "ecs"}))
	token := roleToken(t, p, k, "alice", "admin")
	for _, tc := range []struct {
		name      string
		down      string // a service answering 503
		calls     float64
		wantCodes []any
	}{
		{"case board", "", 8, []any{}},
		{"case board with the patients service down", "patients", -1, []any{"UPSTREAM_UNAVAILABLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Faults.set(tc.down, 503)
			defer e.Faults.set(tc.down, 0)
			rid := "access-" + strings.ReplaceAll(tc.name, " ", "-")
			h := http.Header{"Authorization": {"Bearer " + token}, "X-Request-Id": {rid}, "Traceparent": {testTraceparent}}
			e.doWith(t, h, caseBoardQuery(t), nil, nil)
			var mine []map[string]any
			for _, l := range jsonLines(t, e.Logs.String(), "operation") {
				if l["http.request.id"] == rid {
					mine = append(mine, l)
				}
			}
			if len(mine) != 1 {
				t.Fatalf("%d access lines for the request, want 1:\n%s", len(mine), e.Logs)
			}
			l := mine[0]
			want := map[string]any{
				"graphql.operation.name": "CaseBoard", "graphql.operation.type": "query",
				"graphql.document.hash": audit.DocumentHash(caseBoardQuery(t)), "trace.id": testTraceID, "user.id": "alice",
				"error.code": tc.wantCodes, "service.name": "stacker", "log.level": "info",
			}
			if tc.calls >= 0 {
				want["stacker.upstream.calls"] = tc.calls
			}
			for k, v := range want {
				if jsonString(l[k]) != jsonString(v) {
					t.Errorf("%s = %v, want %v", k, l[k], v)
				}
			}
			if d, ok := l["event.duration"].(float64); !ok || d <= 0 {
				t.Errorf("event.duration = %v, want nanoseconds", l["event.duration"])
			}
			if _, err := time.Parse(time.RFC3339Nano, l["@timestamp"].(string)); err != nil {
				t.Errorf("@timestamp: %v", err)
			}
		})
	}
}

// sentryStandIn is a loopback HTTP endpoint standing in for Sentry: the
// DSN points at it, and it decodes every envelope it receives.
type sentryStandIn struct {
	DSN string
	mu  sync.Mutex
	raw []string         // every envelope's text
	evs []map[string]any // every event item's payload
}

func newSentryStandIn(t *testing.T) *sentryStandIn {
	t.Helper()
	s := &sentryStandIn{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.raw = append(s.raw, string(body))
		// An envelope: a header line, then per item a header line and
		// a payload line (its length in the item header, or to the line's
		// end).
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		sc.Scan()
		for sc.Scan() {
			var item struct{ Type string }
			if err := json.Unmarshal(sc.Bytes(), &item); err != nil {
				t.Errorf("item header: %v: %s", err, sc.Text())
				return
			}
			sc.Scan()
			if item.Type == "event" {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Errorf("event: %v", err)
				}
				s.evs = append(s.evs, ev)
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	s.DSN = "http://public@" + strings.TrimPrefix(srv.URL, "http://") + "/1"
	return s
}

func (s *sentryStandIn) events() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

func (s *sentryStandIn) envelopes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.raw, "\n")
}

// plantedPanic serves e's demo services through a gateway handler whose
// resolvers report to reporter and log to logs, with a panic planted in
// every patient's email field: a gqlgen field middleware, which only
// gqlgen's executor runs, so the compiled path is off.
func plantedPanic(t *testing.T, e *testEnv, logs io.Writer, reporter resolvers.ErrorReporter) string {
	t.Helper()
	log := NewLogger(config.Config{Log: config.Log{Format: "json"}}, logs)
	hc := upstream.NewHTTPClient(upstream.Options{Logger: log})
	t.Cleanup(hc.CloseIdleConnections)
	clients, err := loaders.NewClients(e.URLs, hc, func(string) upstream.Policy { return upstream.Policy{Logger: log} })
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolvers.New(resolvers.Deps{Clients: clients, Logger: log, Reporter: reporter})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(func(string) string { return "" })
	cfg.Server.CompiledExecution = false
	h := newGraphQLHandler(res, cfg, nil, idempotency.NewMemory(10, 1<<20), nil, nil, nil, nil, log)
	h.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc.Object == "Patient" && fc.Field.Name == "email" {
			panic("resolver bug")
		}
		return next(ctx)
	})
	srv := httptest.NewServer(withRequestID(h, true))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newSentryReporter(t *testing.T, s *sentryStandIn) *sentryreport.Reporter {
	t.Helper()
	r, err := sentryreport.New(sentryreport.Options{DSN: s.DSN, Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A panic reaches Sentry with the request id, trace id, operation name and
// the stack's frames, and without the operation's variables.
func TestSentryReportsPanic(t *testing.T) {
	e := startStacker(t, nil) // for its demo services
	s := newSentryStandIn(t)
	r := newSentryReporter(t, s)
	var logs testsync.Buffer
	u := plantedPanic(t, e, &logs, r)
	pe := &testEnv{URL: u, HTTP: http.DefaultClient}
	h := http.Header{"X-Request-Id": {"sentry-1"}, "Traceparent": {testTraceparent}}
	errs := pe.doWith(t, h, `query Patient($id: ID!) { patient(id: $id) { id email } }`, map[string]any{"id": "7"}, nil)
	if len(errs) != 1 || errs[0].Extensions["code"] != "INTERNAL" {
		t.Fatalf("errors = %s", jsonString(errs))
	}
	r.Close(5 * time.Second)
	evs := s.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1; envelopes:\n%s", len(evs), s.envelopes())
	}
	ev := evs[0]
	tags, _ := ev["tags"].(map[string]any)
	for k, v := range map[string]string{"request_id": "sentry-1", "trace_id": testTraceID, "operation": "Patient", "code": "INTERNAL", "path": "patient.email"} {
		if tags[k] != v {
			t.Errorf("tag %s = %v, want %s", k, tags[k], v)
		}
	}
	if ev["transaction"] != "Patient" {
		t.Errorf("transaction = %v", ev["transaction"])
	}
	ex := jsonString(ev["exception"])
	if !strings.Contains(ex, `"panic"`) || !strings.Contains(ex, "plantedPanic") {
		t.Errorf("exception lacks the panic's frames: %s", ex)
	}
	for _, never := range []string{"resolver bug", `"request"`, `"user"`, `"breadcrumbs"`, `"variables"`} {
		if strings.Contains(s.envelopes(), never) {
			t.Errorf("the envelope holds %s:\n%s", never, s.envelopes())
		}
	}
}

// Seeded patients' names, emails and phone numbers, sent as variables,
// returned in answers, carried through failing calls, refused arguments
// and a panic, appear in no log line and no Sentry envelope.
func TestPIINeverLoggedOrReported(t *testing.T) {
	s := newSentryStandIn(t)
	e := startStacker(t, map[string]string{"STACKER_LOG_FORMAT": "json", "SENTRY_DSN": s.DSN})
	var personal []string
	var ps []struct{ first, last, email, phone string }
	for id := int64(1); id <= 3; id++ {
		p, ok := e.Store.Patient(id)
		if !ok {
			t.Fatalf("no seeded patient %d", id)
		}
		personal = append(personal, p.FirstName, p.LastName, p.Email, p.Phone)
		ps = append(ps, struct{ first, last, email, phone string }{p.FirstName, p.LastName, p.Email, p.Phone})
	}
	const search = `query Search($q: String!) { searchPatients(query: $q) { id firstName lastName email phone } }`
	for _, p := range ps {
		for _, q := range []string{p.first + " " + p.last, p.email, p.phone} {
			e.do(t, search, map[string]any{"q": q}, nil)
			e.do(t, `query Patient($id: ID!) { patient(id: $id) { id } }`, map[string]any{"id": q}, nil) // BAD_USER_INPUT
		}
	}
	var found struct{ SearchPatients []struct{ Email string } }
	e.mustDo(t, search, map[string]any{"q": ps[0].last}, &found)
	if len(found.SearchPatients) == 0 || found.SearchPatients[0].Email == "" {
		t.Fatalf("the search found nothing: the test would prove nothing")
	}
	e.Faults.set("patients", 503)
	for _, p := range ps {
		if errs := e.do(t, search, map[string]any{"q": p.last}, nil); len(errs) == 0 {
			t.Fatal("no error with the patients service down")
		}
	}
	e.Faults.set("patients", 0)

	var panicLogs testsync.Buffer
	r := newSentryReporter(t, s)
	pe := &testEnv{URL: plantedPanic(t, e, &panicLogs, r), HTTP: http.DefaultClient}
	for _, p := range ps {
		errs := pe.do(t, `query Search($q: String!) { searchPatients(query: $q) { firstName phone email } }`, map[string]any{"q": p.last}, nil)
		if len(errs) == 0 {
			t.Fatal("the planted panic did not happen")
		}
	}
	r.Close(5 * time.Second)
	if err := e.Stop(); err != nil { // flushes the gateway's reporter
		t.Fatal(err)
	}
	if len(s.events()) == 0 {
		t.Fatal("no Sentry events: the test would prove nothing")
	}
	for where, text := range map[string]string{"the log": e.Logs.String() + panicLogs.String(), "a Sentry envelope": s.envelopes()} {
		for _, v := range personal {
			if strings.Contains(text, v) {
				i := strings.Index(text, v)
				t.Errorf("%s holds %q: ...%s...", where, v, text[max(0, i-300):min(len(text), i+100)])
			}
		}
	}
}
