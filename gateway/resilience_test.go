package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/idempotency"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/upstream"
)

// Transient 503s on every service are absorbed by retries: the board comes
// back complete, at the price of a retry for roughly every fifth call.
func TestTransientFailuresAreRetried(t *testing.T) {
	e := startStacker(t, nil)
	e.Inject.Set("*", demo.Faults{Fail: 0.2})
	q := caseBoardQuery(t)
	want, _ := e.Store.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, 50)
	for i := range 10 {
		var got caseBoard
		e.mustDo(t, q, nil, &got)
		if len(got.Cases.Nodes) != 50 || got.Cases.Nodes[0].ID != id(want[0].ID) || got.Cases.Nodes[49].Patient == nil {
			t.Fatalf("query %d: incomplete board", i)
		}
	}
	var total int64
	for _, n := range e.Demo.Snapshot() {
		total += n
	}
	if total <= 80 || total > 80*13/10 {
		t.Errorf("%d upstream requests for 10 boards (80 calls) at a 20%% failure rate, want a retry per failure", total)
	}
}

// A service that stays down: partial data with the right errors, the
// breaker opens and later requests fail fast without touching the service,
// then it closes once the service is back. Two gateways, so neither half
// depends on how fast the machine is: one whose breaker stays open for an
// hour, one whose breaker probes again after 100ms.
func TestBreakerOpensAndCloses(t *testing.T) {
	q := caseBoardQuery(t)
	open := startStacker(t, map[string]string{"STACKER_BREAKER_FAILURES": "3", "STACKER_BREAKER_OPEN_FOR": "1h"})
	open.Faults.set("doctors", http.StatusServiceUnavailable)
	for range 3 {
		var got caseBoard
		errs := open.do(t, q, nil, &got)
		if len(got.Cases.Nodes) != 50 || len(errs) == 0 || errs[0].Extensions["service"] != "doctors" {
			t.Fatalf("want partial data with doctors errors, got %d nodes, %.300s", len(got.Cases.Nodes), jsonString(errs))
		}
	}
	before := open.Demo.Requests("doctors")
	for range 3 {
		var got caseBoard
		errs := open.do(t, q, nil, &got)
		if len(errs) == 0 || errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || got.Cases.Nodes[0].Patient == nil {
			t.Fatalf("open breaker: errors %.300s", jsonString(errs))
		}
	}
	if n := open.Demo.Requests("doctors") - before; n != 0 {
		t.Errorf("%d requests reached doctors while its breaker was open", n)
	}
	if !strings.Contains(open.Logs.String(), "circuit breaker state changed") {
		t.Error("breaker state change not logged")
	}

	probing := startStacker(t, map[string]string{"STACKER_BREAKER_FAILURES": "3", "STACKER_BREAKER_OPEN_FOR": "100ms"})
	probing.Faults.set("doctors", http.StatusServiceUnavailable)
	for range 3 {
		probing.do(t, q, nil, nil)
	}
	probing.Faults.set("doctors", 0)
	testsync.WaitFor(t, "the board to come back whole", func() bool {
		return len(probing.do(t, q, nil, nil)) == 0
	})
	if !strings.Contains(probing.Logs.String(), "to=closed") {
		t.Error("closing the breaker not logged")
	}
}

// A 429 whose Retry-After is longer than the operation has left fails at
// once instead of waiting past the deadline.
func TestLongRetryAfterFailsFast(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_OPERATION_TIMEOUT": "2s"})
	e.Inject.Set("staff", demo.Faults{RateLimit: 1, RetryAfter: 30 * time.Second})
	start := time.Now()
	var got caseBoard
	errs := e.do(t, caseBoardQuery(t), nil, &got)
	if len(errs) == 0 || errs[0].Extensions["code"] != "RATE_LIMITED" || errs[0].Extensions["service"] != "staff" {
		t.Fatalf("errors %s, want RATE_LIMITED from staff", jsonString(errs))
	}
	if n := e.Demo.Requests("staff"); n != 1 {
		t.Errorf("staff got %d requests, want 1 (no retry)", n)
	}
	if got.Cases.Nodes[0].Patient == nil {
		t.Error("the rest of the board is missing")
	}
	if time.Since(start) > 30*time.Second {
		t.Error("waited for the Retry-After")
	}
}

// The operation deadline bounds every upstream call.
func TestOperationDeadline(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_OPERATION_TIMEOUT": "3s", "STACKER_UPSTREAM_RETRIES": "0"})
	e.Demo.SetLatency("documents", time.Minute)
	var got caseBoard
	errs := e.do(t, caseBoardQuery(t), nil, &got)
	if len(errs) == 0 || errs[0].Extensions["code"] != "UPSTREAM_TIMEOUT" || errs[0].Extensions["service"] != "documents" {
		t.Fatalf("errors %s, want UPSTREAM_TIMEOUT from documents", jsonString(errs))
	}
	if got.Cases.Nodes[0].Patient == nil {
		t.Error("the rest of the board is missing")
	}
	testsync.WaitFor(t, "documents to have nothing in flight", func() bool { return e.Demo.InFlight("documents") == 0 })
}

// A client that disconnects cancels its upstream calls at once.
func TestClientDisconnectCancelsUpstreamCalls(t *testing.T) {
	e := startStacker(t, nil)
	e.Demo.SetLatency("cases", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"query": caseBoardQuery(t)})
	req, _ := http.NewRequestWithContext(ctx, "POST", e.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.HTTP.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	testsync.WaitFor(t, "the cases call", func() bool { return e.Demo.InFlight("cases") == 1 })
	cancel()
	<-done
	testsync.WaitFor(t, "the cases call to be cancelled", func() bool { return e.Demo.InFlight("cases") == 0 })
}

// The bulkhead caps calls in flight per service. Two fields of one
// operation need the slow cases service at once, and it has one slot: one
// field takes it and times out with the operation; the other waits for the
// slot until that same deadline and fails as UPSTREAM_OVERLOADED without a
// call. The outcome is certain, not a race: the waiter sees the deadline as
// soon as it passes, the holder gives the slot back only after its call has
// noticed it too.
func TestBulkhead(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_UPSTREAM_MAX_IN_FLIGHT": "1", "STACKER_OPERATION_TIMEOUT": "300ms"})
	e.Demo.SetLatency("cases", 5*time.Second)
	errs := e.do(t, `{ a: cases(first: 1) { totalCount } b: cases(first: 2) { totalCount } }`, nil, nil)
	codes := map[string]int{}
	for _, err := range errs {
		code, _ := err.Extensions["code"].(string)
		codes[code]++
	}
	if want := map[string]int{"UPSTREAM_TIMEOUT": 1, "UPSTREAM_OVERLOADED": 1}; !maps.Equal(codes, want) {
		t.Errorf("error codes %v, want %v", codes, want)
	}
	if n := e.Demo.Requests("cases"); n != 1 {
		t.Errorf("%d calls reached cases, want 1: the waiter must not call", n)
	}
	// The slot is free again.
	e.Demo.SetLatency("cases", 0)
	if errs := e.do(t, `{ cases(first: 1) { totalCount } }`, nil, nil); len(errs) != 0 {
		t.Errorf("after the deadline: %v", errs)
	}
}

// A panic in a resolver becomes an INTERNAL error for that field, with the
// stack in the log, and the server keeps serving.
func TestPanicBecomesInternalError(t *testing.T) {
	e := startStacker(t, nil) // only for its demo services
	var logs testsync.Buffer
	hc := upstream.NewHTTPClient(upstream.Options{})
	defer hc.CloseIdleConnections()
	clients, err := loaders.NewClients(e.URLs, hc, func(string) upstream.Policy { return upstream.Policy{} })
	if err != nil {
		t.Fatal(err)
	}
	res, err := resolvers.New(resolvers.Deps{Clients: clients, Loaders: loaders.Options{}, Logger: NewLogger(config.Config{Log: config.Log{Format: "text"}}, &logs)})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(func(string) string { return "" })
	// The panic is planted in a gqlgen field middleware, which only
	// gqlgen's executor runs.
	cfg.Server.CompiledExecution = false
	h := newGraphQLHandler(res, cfg, nil, idempotency.NewMemory(10, 1<<20), nil, nil, nil, nil, NewLogger(config.Config{Log: config.Log{Format: "text"}}, &logs))
	h.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc.Path().String() == "cases.nodes[1].patient" {
			panic("resolver bug")
		}
		return next(ctx)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 2 { // the second query shows the server still serves
		var got struct {
			Cases struct {
				Nodes []struct {
					ID      string
					Patient *struct{ ID string }
				}
			}
		}
		errs := doAt(t, srv.URL, `{ cases(first: 3) { nodes { id patient { id } } } }`, &got)
		if len(errs) != 1 || errs[0].Extensions["code"] != "INTERNAL" || errs[0].Message != "internal error" || errs[0].pathString() != "cases.nodes.1.patient" {
			t.Fatalf("errors = %s", jsonString(errs))
		}
		n := got.Cases.Nodes
		if len(n) != 3 || n[0].Patient == nil || n[1].Patient != nil || n[2].Patient == nil {
			t.Errorf("nodes = %+v, want only the panicking field nulled", n)
		}
	}
	if !strings.Contains(logs.String(), "resolver bug") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("log lacks the panic and its stack:\n%.2000s", logs.String())
	}
}
