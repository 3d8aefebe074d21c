package gateway

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/operations"
)

// collector is an OTLP/HTTP endpoint as a real collector serves it: POST
// /v1/traces with a protobuf ExportTraceServiceRequest. It keeps every span
// with its resource's service.name.
type collector struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service map[*tracepb.Span]string
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{service: map[*tracepb.Span]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector: %s %s (%s): want POST /v1/traces, application/x-protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unsupported", http.StatusUnsupportedMediaType)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: decoding the export: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			name := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					name = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, s)
					c.service[s] = name
				}
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *collector) all() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

func attr(s *tracepb.Span, key string) (string, int64, bool) {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.GetValue().GetStringValue(), a.GetValue().GetIntValue(), true
		}
	}
	return "", 0, false
}

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

// The case board with a client's traceparent, against a real OTLP
// endpoint: one trace, the client's; the request span under the client's
// span, the operation under the request, parse and validate under the
// operation, eight upstream batches (one per service) under the operation
// through the planner's levels, each attempt under its batch; and every
// demo service received that trace, from the attempt that called it.
func TestTracesOfTheCaseBoard(t *testing.T) {
	col, endpoint := startCollector(t)
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
	env["OTEL_SERVICE_NAME"] = "stacker-under-test"
	e := startStacker(t, env)

	h := http.Header{"Traceparent": {"00-" + clientTraceID + "-" + clientSpanID + "-01"}, "Baggage": {"tenant=clinic-7"}}
	if errs := e.doWith(t, h, operations.CaseBoard, nil, nil); len(errs) > 0 {
		t.Fatalf("case board: %v", errs)
	}
	// Stopping flushes the spans still waiting in the batch.
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}

	spans := col.all()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		if got := hex.EncodeToString(s.TraceId); got != clientTraceID {
			t.Errorf("span %q is in trace %s, want the client's %s", s.Name, got, clientTraceID)
		}
		if col.service[s] != "stacker-under-test" {
			t.Errorf("span %q: service.name %q, want OTEL_SERVICE_NAME's", s.Name, col.service[s])
		}
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	parent := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }
	under := func(s, ancestor *tracepb.Span) bool {
		for p := parent(s); p != nil; p = parent(p) {
			if p == ancestor {
				return true
			}
		}
		return false
	}
	named := func(name string) []*tracepb.Span {
		var out []*tracepb.Span
		for _, s := range spans {
			if s.Name == name {
				out = append(out, s)
			}
		}
		return out
	}
	one := func(name string) *tracepb.Span {
		t.Helper()
		got := named(name)
		if len(got) != 1 {
			t.Fatalf("%d spans named %q, want 1; spans: %v", len(got), name, names(spans))
		}
		return got[0]
	}

	req := one("POST /graphql")
	if got := hex.EncodeToString(req.ParentSpanId); got != clientSpanID || req.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("request span: parent %s, kind %v; want the client's span %s, server", got, req.Kind, clientSpanID)
	}
	if _, status, _ := attr(req, "http.response.status_code"); status != 200 {
		t.Errorf("request span: status %d", status)
	}
	op := one("query CaseBoard")
	if parent(op) != req {
		t.Errorf("operation span's parent is not the request span")
	}
	for k, want := range map[string]string{"graphql.operation.name": "CaseBoard", "graphql.operation.type": "query"} {
		if got, _, _ := attr(op, k); got != want {
			t.Errorf("operation span: %s = %q, want %q", k, got, want)
		}
	}
	if hash, _, _ := attr(op, "graphql.document.hash"); len(hash) != 64 {
		t.Errorf("operation span: graphql.document.hash = %q, want a hex sha256", hash)
	}
	for _, name := range []string{"graphql.parse", "graphql.validate"} {
		if s := one(name); parent(s) != op {
			t.Errorf("%s is not under the operation", name)
		}
	}

	levels := 0
	batches := map[string]*tracepb.Span{} // by service
	attempts := map[string]*tracepb.Span{}
	for _, s := range spans {
		service, _, _ := attr(s, "stacker.service")
		switch {
		case strings.HasPrefix(s.Name, "prefetch "):
			levels++
			if !under(s, op) {
				t.Errorf("%s is not under the operation", s.Name)
			}
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT:
			attempts[hex.EncodeToString(s.SpanId)] = s
			if b := parent(s); b == nil || b.Kind == tracepb.Span_SPAN_KIND_CLIENT || !strings.HasPrefix(b.Name, service+" ") {
				t.Errorf("attempt %q (%s) is not under a batch of its service", s.Name, service)
			}
			if state, _, _ := attr(s, "stacker.breaker.state"); state != "closed" {
				t.Errorf("attempt %q: breaker state %q", s.Name, state)
			}
			if _, status, _ := attr(s, "http.response.status_code"); status != 200 {
				t.Errorf("attempt %q: status %d", s.Name, status)
			}
		case service != "" && !strings.HasPrefix(s.Name, "prefetch "):
			if batches[service] != nil {
				t.Errorf("two batches to %s: the planner makes one per service", service)
			}
			batches[service] = s
			if !under(s, op) {
				t.Errorf("batch %q is not under the operation", s.Name)
			}
			if route, _, _ := attr(s, "url.template"); route == "" || strings.ContainsAny(route, "0123456789") {
				t.Errorf("batch %q: url.template %q, want a route without ids", s.Name, route)
			}
		}
	}
	if len(batches) != 8 {
		t.Errorf("%d upstream batch spans (%v), want 8, one per service", len(batches), names(spans))
	}
	if levels == 0 {
		t.Errorf("no planner level spans")
	}
	if _, ids, _ := attr(batches["patients"], "stacker.ids"); ids == 0 {
		t.Errorf("the patients batch has no stacker.ids")
	}

	if testing.Verbose() {
		for _, s := range spans {
			p := "client"
			if ps := parent(s); ps != nil {
				p = ps.Name
			}
			t.Logf("%-40s <- %s", s.Name, p)
		}
	}
	got := calls()
	if len(got) != len(attempts) {
		t.Errorf("the services got %d calls, the trace has %d attempts", len(got), len(attempts))
	}
	for _, c := range got {
		parts := strings.Split(c.traceparent, "-")
		if len(parts) != 4 || parts[1] != clientTraceID {
			t.Errorf("%s got traceparent %q, want the client's trace %s", c.service, c.traceparent, clientTraceID)
			continue
		}
		if a := attempts[parts[2]]; a == nil {
			t.Errorf("%s got parent span %s, which is no attempt span", c.service, parts[2])
		} else if s, _, _ := attr(a, "stacker.service"); s != c.service {
			t.Errorf("%s got the traceparent of an attempt to %s", c.service, s)
		}
	}
}

func names(spans []*tracepb.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

// With tracing off (no OTEL_* endpoint) the gateway makes no spans, and the
// client's traceparent reaches every service unchanged, as before tracing.
func TestTraceparentPassesThroughWithTracingOff(t *testing.T) {
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	e := startStacker(t, env)
	tp := "00-" + clientTraceID + "-" + clientSpanID + "-01"
	if errs := e.doWith(t, http.Header{"Traceparent": {tp}}, operations.CaseBoard, nil, nil); len(errs) > 0 {
		t.Fatalf("case board: %v", errs)
	}
	got := calls()
	if len(got) != 8 {
		t.Errorf("%d upstream calls, want 8", len(got))
	}
	for _, c := range got {
		if c.traceparent != tp {
			t.Errorf("%s got traceparent %q, want the client's %q unchanged", c.service, c.traceparent, tp)
		}
	}
}

// A call the service keeps failing: one batch span, failed, with an
// attempt span per try, numbered by http.request.resend_count.
func TestTracesOfRetries(t *testing.T) {
	col, endpoint := startCollector(t)
	e := startStacker(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	e.Faults.set("patients", http.StatusServiceUnavailable)
	e.do(t, operations.CaseBoard, nil, nil) // partial: the patients are null
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	var batch *tracepb.Span
	for _, s := range col.all() {
		if strings.HasPrefix(s.Name, "patients ") {
			batch = s
		}
	}
	if batch == nil {
		t.Fatal("no patients batch span")
	}
	if batch.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the failed batch's status is %v", batch.GetStatus())
	}
	var resends []int64
	for _, s := range col.all() {
		if string(s.ParentSpanId) != string(batch.SpanId) {
			continue
		}
		_, n64, _ := attr(s, "http.request.resend_count")
		resends = append(resends, n64)
		if _, status, _ := attr(s, "http.response.status_code"); status != 503 {
			t.Errorf("attempt %d: status %d, want 503", n64, status)
		}
	}
	if len(resends) < 2 {
		t.Fatalf("%d attempts under the batch, want the first and its retries", len(resends))
	}
	slices.Sort(resends)
	for i, n := range resends {
		if n != int64(i) {
			t.Errorf("resend counts %v, want 0 (absent), 1, 2, ...", resends)
			break
		}
	}
}

// Each subscription event delivered makes a span of its own, named for the
// subscription's field, and the event's fetches are under it.
func TestTracesOfSubscriptionEvents(t *testing.T) {
	col, endpoint := startCollector(t)
	e := startStacker(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "STACKER_EVENTS_URL": natsTopic(t)})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseUpdated(id: 42) { caseId case { status patient { fullName } } } }`)
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 42, "s": "IN_REVIEW"}, nil)
	if m := c.next(); m["type"] != "next" {
		t.Fatalf("want the event, got %v", m)
	}
	c.conn.CloseNow()
	if err := e.Stop(); err != nil { // flushes the spans
		t.Fatal(err)
	}

	spans := col.all()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	var event *tracepb.Span
	for _, s := range spans {
		if s.Name == "event caseUpdated" {
			if event != nil {
				t.Fatalf("two event spans for one event: %v", names(spans))
			}
			event = s
		}
	}
	if event == nil {
		t.Fatalf("no event span among %v", names(spans))
	}
	if field, _, _ := attr(event, "graphql.field.name"); field != "caseUpdated" {
		t.Errorf("event span's graphql.field.name = %q", field)
	}
	under := func(s *tracepb.Span) bool {
		for p := s; p != nil; p = byID[hex.EncodeToString(p.ParentSpanId)] {
			if p == event {
				return true
			}
		}
		return false
	}
	fetched := map[string]bool{}
	for _, s := range spans {
		if svc, _, ok := attr(s, "stacker.service"); ok && strings.HasPrefix(s.Name, svc+" ") && under(s) {
			fetched[svc] = true
		}
	}
	if !fetched["cases"] || !fetched["patients"] {
		t.Errorf("the event's fetches under its span: %v, want cases and patients (spans %v)", fetched, names(spans))
	}
}
