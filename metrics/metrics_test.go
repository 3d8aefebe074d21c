package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/memory"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/metrics"
	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

func newMetrics(t *testing.T, o metrics.Options) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sample is the value of the series of name with exactly labels: a
// counter's or gauge's value, a histogram's count of observations. ok is
// false when there is no such series.
func sample(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) (v float64, ok bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	if len(m.GetLabel()) != len(want) {
		return false
	}
	for _, l := range m.GetLabel() {
		if want[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}

// series counts the series of the metric name.
func series(t *testing.T, reg prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type want struct {
	name   string
	labels map[string]string
	value  float64
}

func check(t *testing.T, reg prometheus.Gatherer, wants []want) {
	t.Helper()
	for _, w := range wants {
		v, ok := sample(t, reg, w.name, w.labels)
		if !ok {
			t.Errorf("no series %s%v", w.name, w.labels)
		} else if v != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, v, w.value)
		}
	}
}

func TestObserveCall(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	ctx := context.Background()
	calls := []upstream.Call{
		{Service: "patients", Method: "GET", Route: "/patients?ids", Status: 200, IDs: 7, Duration: time.Millisecond},
		{Service: "patients", Method: "GET", Route: "/patients?ids", Status: 200, IDs: 100, Duration: time.Millisecond},
		{Service: "patients", Method: "GET", Route: "/patients/:id", Status: 503, Retries: 2, Err: upstream.ErrUnavailable},
		{Service: "cases", Method: "GET", Route: "/cases", Err: upstream.ErrUnavailable, BudgetExhausted: true},
	}
	for _, c := range calls {
		m.ObserveCall(ctx, c)
	}
	reg := m.Registry()
	check(t, reg, []want{
		{"stacker_upstream_requests_total", map[string]string{"service": "patients", "route": "/patients?ids", "method": "GET", "status": "200"}, 2},
		{"stacker_upstream_requests_total", map[string]string{"service": "patients", "route": "/patients/:id", "method": "GET", "status": "503"}, 1},
		{"stacker_upstream_requests_total", map[string]string{"service": "cases", "route": "/cases", "method": "GET", "status": "unavailable"}, 1},
		{"stacker_upstream_request_duration_seconds", map[string]string{"service": "patients", "route": "/patients?ids"}, 2},
		{"stacker_upstream_batch_ids", map[string]string{"service": "patients", "route": "/patients?ids"}, 2},
		{"stacker_upstream_retries_total", map[string]string{"service": "patients"}, 2},
		{"stacker_upstream_retry_budget_exhausted_total", map[string]string{"service": "cases"}, 1},
	})
	// Only batches have ids.
	if n := series(t, reg, "stacker_upstream_batch_ids"); n != 1 {
		t.Errorf("%d stacker_upstream_batch_ids series, want 1", n)
	}
}

// operationContext is what gqlgen puts in an operation's context.
func operationContext(name string, typ ast.Operation) context.Context {
	return graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation: &ast.OperationDefinition{Name: name, Operation: typ},
	})
}

// casesService is a client of a fake cases service answering 200, for
// operations that make upstream calls: the upstream package counts them.
func casesService(t *testing.T) *upstream.Service {
	t.Helper()
	up, err := upstream.NewService("cases", upstreamtest.New(t, http.StatusOK, `{}`).URL, upstreamtest.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// run runs one operation through AroundOperations: next makes calls
// upstream calls through up (nil when calls is 0) and answers with one response per entry of errs (a
// deferred query's payloads), whose errors have those codes.
func run(m *metrics.Metrics, ctx context.Context, up *upstream.Service, calls int, errs ...[]string) {
	h := m.AroundOperations(ctx, func(ctx context.Context) graphql.ResponseHandler {
		for range calls {
			_ = up.Get(ctx, "/cases", nil, nil)
		}
		i := 0
		return func(context.Context) *graphql.Response {
			if i == len(errs) {
				return nil
			}
			resp := &graphql.Response{Data: []byte(`{}`)}
			for _, code := range errs[i] {
				resp.Errors = append(resp.Errors, &gqlerror.Error{Message: "x", Extensions: map[string]any{"code": code}})
			}
			i++
			if i < len(errs) {
				more := true
				resp.HasNext = &more
			}
			return resp
		}
	})
	for h(ctx) != nil {
	}
}

func TestAroundOperations(t *testing.T) {
	m := newMetrics(t, metrics.Options{KnownOperations: []string{"CaseBoard"}, MaxOperations: 1})
	up := casesService(t)
	run(m, operationContext("CaseBoard", ast.Query), up, 8, nil)
	run(m, operationContext("CaseBoard", ast.Query), up, 3, []string{"UPSTREAM_UNAVAILABLE", "UPSTREAM_UNAVAILABLE"})
	// A deferred query: timed once, at its last payload; every payload's
	// errors count.
	run(m, operationContext("Deferred", ast.Query), up, 1, []string{"NOT_FOUND"}, nil, []string{"NOT_FOUND"})
	run(m, operationContext("", ast.Mutation), up, 1, []string{"BAD_USER_INPUT"})
	// A subscription is not timed: its length is its client's choice.
	run(m, operationContext("OnCase", ast.Subscription), nil, 0, nil, []string{"INTERNAL"})
	reg := m.Registry()
	check(t, reg, []want{
		{"stacker_operation_duration_seconds", map[string]string{"operation": "CaseBoard", "type": "query"}, 2},
		{"stacker_operation_duration_seconds", map[string]string{"operation": "Deferred", "type": "query"}, 1},
		{"stacker_operation_duration_seconds", map[string]string{"operation": "anonymous", "type": "mutation"}, 1},
		{"stacker_operation_upstream_calls", map[string]string{"operation": "CaseBoard"}, 2},
		{"stacker_operation_errors_total", map[string]string{"operation": "CaseBoard", "type": "query", "code": "UPSTREAM_UNAVAILABLE"}, 2},
		{"stacker_operation_errors_total", map[string]string{"operation": "Deferred", "type": "query", "code": "NOT_FOUND"}, 2},
		{"stacker_operation_errors_total", map[string]string{"operation": "anonymous", "type": "mutation", "code": "BAD_USER_INPUT"}, 1},
		// MaxOperations 1: Deferred took the one place.
		{"stacker_operation_errors_total", map[string]string{"operation": "other", "type": "subscription", "code": "INTERNAL"}, 1},
	})
	if _, ok := sample(t, reg, "stacker_operation_duration_seconds", map[string]string{"operation": "other", "type": "subscription"}); ok {
		t.Error("a subscription was timed")
	}
	// The sum of the calls histogram: 8 + 3 calls for the two case boards.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "stacker_operation_upstream_calls" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if hasLabels(s, map[string]string{"operation": "CaseBoard"}) && s.Histogram.GetSampleSum() != 11 {
				t.Errorf("CaseBoard's calls sum to %v, want 11", s.Histogram.GetSampleSum())
			}
		}
	}
}

func TestAroundResponsesCountsRefusedRequestsOnly(t *testing.T) {
	m := newMetrics(t, metrics.Options{MaxOperations: 10})
	refused := &graphql.Response{Errors: gqlerror.List{{Message: "x", Extensions: map[string]any{"code": "GRAPHQL_PARSE_FAILED"}}}}
	answer := func(context.Context) *graphql.Response { return refused }
	// Refused before any operation was known (a parse error)...
	m.AroundResponses(graphql.WithOperationContext(context.Background(), &graphql.OperationContext{}), answer)
	// ...and with none in the context at all (a body that did not decode).
	m.AroundResponses(context.Background(), answer)
	// Refused by a limit once the operation was known.
	m.AroundResponses(operationContext("Deep", ast.Query), answer)
	// An operation that ran: AroundOperations counts its errors, not this.
	run(m, operationContext("Ran", ast.Query), nil, 0, []string{"NOT_FOUND"})
	m.AroundOperations(operationContext("Ran", ast.Query), func(ctx context.Context) graphql.ResponseHandler {
		m.AroundResponses(ctx, answer)
		return graphql.OneShot(&graphql.Response{})
	})(context.Background())
	reg := m.Registry()
	check(t, reg, []want{
		{"stacker_operation_errors_total", map[string]string{"operation": "unknown", "type": "unknown", "code": "GRAPHQL_PARSE_FAILED"}, 2},
		{"stacker_operation_errors_total", map[string]string{"operation": "Deep", "type": "query", "code": "GRAPHQL_PARSE_FAILED"}, 1},
		{"stacker_operation_errors_total", map[string]string{"operation": "Ran", "type": "query", "code": "NOT_FOUND"}, 1},
	})
	if n := series(t, reg, "stacker_operation_errors_total"); n != 3 {
		t.Errorf("%d error series, want 3", n)
	}
}

// Label values clients choose are bounded: the known names and the first
// MaxOperations others keep their own series, everything later (and
// anything too long) shares "other". 10,000 invented names make
// MaxOperations+1 series per operation type.
func TestOperationNamesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int
		names   int
		wantSep int // series of their own, besides the known name's and "other"
	}{
		{name: "under the bound", max: 100, names: 50, wantSep: 50},
		{name: "10,000 invented names", max: 100, names: 10_000, wantSep: 100},
		{name: "no room", max: 0, names: 10, wantSep: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Options{KnownOperations: []string{"CaseBoard"}, MaxOperations: tc.max})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < tc.names; i += 4 {
						run(m, operationContext(fmt.Sprintf("Invented%d", i), ast.Query), nil, 0, nil)
					}
				})
			}
			wg.Wait()
			run(m, operationContext("CaseBoard", ast.Query), nil, 0, nil)
			run(m, operationContext(strings.Repeat("Long", 100), ast.Query), nil, 0, nil)
			reg := m.Registry()
			if n, want := series(t, reg, "stacker_operation_duration_seconds"), tc.wantSep+2; n != want {
				t.Errorf("%d duration series, want %d", n, want)
			}
			check(t, reg, []want{
				{"stacker_operation_duration_seconds", map[string]string{"operation": "CaseBoard", "type": "query"}, 1},
				{"stacker_operation_duration_seconds", map[string]string{"operation": "other", "type": "query"}, float64(tc.names - tc.wantSep + 1)},
			})
		})
	}
}

func TestCountCache(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	c := metrics.CountCache[string](m, "apq", lru.New[string](10))
	ctx := context.Background()
	c.Add(ctx, "a", "query { a }")
	for _, k := range []string{"a", "a", "b"} {
		c.Get(ctx, k)
	}
	check(t, m.Registry(), []want{
		{"stacker_cache_requests_total", map[string]string{"cache": "apq", "result": "hit"}, 2},
		{"stacker_cache_requests_total", map[string]string{"cache": "apq", "result": "miss"}, 1},
	})
}

type discard struct{}

func (discard) Write(audit.Record) error { return nil }

func TestWatchReadsTheSourcesAtScrapeTime(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	svc, err := upstream.NewService("doctors", "http://doctors.internal", http.DefaultClient,
		upstream.WithPolicy(upstream.Policy{BreakerFailures: 1, BreakerOpenFor: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	bus := memory.New(slog.New(slog.DiscardHandler), events.Options{})
	defer bus.Close()
	trail := audit.New(discard{}, audit.Options{Buffer: 1})
	defer trail.Close()
	var liveStats live.Stats
	err = m.Watch(metrics.Sources{
		Services: []*upstream.Service{svc}, Events: bus, Audit: trail,
		Live: func() live.Stats { return liveStats },
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := m.Registry()
	check(t, reg, []want{
		{"stacker_upstream_breaker_state", map[string]string{"service": "doctors", "state": "closed"}, 1},
		{"stacker_upstream_breaker_state", map[string]string{"service": "doctors", "state": "open"}, 0},
		{"stacker_upstream_retries_total", map[string]string{"service": "doctors"}, 0},
		{"stacker_live_subscriptions", nil, 0},
	})
	// A failed call opens the breaker; the next scrape says so.
	var e *upstream.Error
	if err := svc.Get(context.Background(), "/doctors", nil, nil); !errors.As(err, &e) {
		t.Fatalf("call to a host that does not resolve: %v", err)
	}
	liveStats = live.Stats{Connections: 2, Subscriptions: 3, Dropped: 1}
	bus.Publish(context.Background(), events.Event{Type: events.TypeCaseUpdated, CaseID: 1, OccurredAt: time.Now()})
	check(t, reg, []want{
		{"stacker_upstream_breaker_state", map[string]string{"service": "doctors", "state": "closed"}, 0},
		{"stacker_upstream_breaker_state", map[string]string{"service": "doctors", "state": "open"}, 1},
		{"stacker_upstream_in_flight", map[string]string{"service": "doctors"}, 0},
		{"stacker_live_connections", nil, 2},
		{"stacker_live_subscriptions", nil, 3},
		{"stacker_live_subscriptions_dropped_total", nil, 1},
		{"stacker_events_received_total", nil, 1},
		{"stacker_audit_records_written_total", nil, 0},
		{"stacker_audit_records_lost_total", nil, 0},
	})
}

// The exposition passes Prometheus's own lint (promtool check metrics runs
// the same rules on a scrape in the gateway's test), and is served.
func TestExpositionLintsClean(t *testing.T) {
	m := newMetrics(t, metrics.Options{KnownOperations: []string{"CaseBoard"}, MaxOperations: 10})
	run(m, operationContext("CaseBoard", ast.Query), casesService(t), 8, []string{"NOT_FOUND"})
	metrics.CountCache[string](m, "apq", lru.New[string](1)).Get(context.Background(), "x")
	m.ObserveCall(context.Background(), upstream.Call{Service: "cases", Method: "GET", Route: "/cases?ids", Status: 200, IDs: 3, Retries: 1, BudgetExhausted: true})
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "stacker_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `stacker_operation_duration_seconds_count{operation="CaseBoard",type="query"} 1`) {
		t.Errorf("/metrics lacks the case board's duration:\n%s", rec.Body.String())
	}
}
