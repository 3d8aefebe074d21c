package tracing

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Stacker's own attributes, for what the semantic conventions have no name.
const (
	serviceKey = attribute.Key("stacker.service")       // the upstream service called
	idsKey     = attribute.Key("stacker.ids")           // distinct ids a batch sent
	keysKey    = attribute.Key("stacker.keys")          // keys a planner level fetched
	breakerKey = attribute.Key("stacker.breaker.state") // closed, half-open or open
	hashKey    = attribute.Key("graphql.document.hash") // hex sha256 of the document
	fieldKey   = attribute.Key("graphql.field.name")    // a subscription's root field
)

// Tracer makes Stacker's spans. A nil *Tracer makes none: every method
// returns its context as it was and a Span that does nothing.
type Tracer struct {
	t    trace.Tracer
	prop propagation.TextMapPropagator
	// followsParent: a span under an unsampled parent is never sampled,
	// so the spans made per level, batch and attempt are not made at all
	// there (see unsampled). Most traces are not sampled, and those spans
	// were most of tracing's cost.
	followsParent bool
}

// unsampled reports whether a span started under ctx would record
// nothing: its parent was not sampled and the sampler follows the parent.
func (t *Tracer) unsampled(ctx context.Context) bool {
	if !t.followsParent {
		return false
	}
	sc := trace.SpanContextFromContext(ctx)
	return sc.IsValid() && !sc.IsSampled()
}

// New is a Tracer on tp; nil when tp is nil. Packages are handed a Tracer
// (or the provider it came from), never otel's global provider.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{
		t:    tp.Tracer("github.com/stacker/stacker"),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Span is one span in progress; the zero Span does nothing.
type Span struct {
	s      trace.Span
	client bool // an attempt: a 4xx fails it too
}

// End ends the span, failed when err is not nil.
func (s Span) End(err error) {
	if s.s == nil {
		return
	}
	if err != nil {
		s.s.SetStatus(codes.Error, err.Error())
	}
	s.s.End()
}

// EndHTTP ends a request or attempt span with the answer's status (0: none
// came) and the error, if any. A server span fails on a 5xx only, a client
// span on a 4xx too, as the HTTP conventions say.
func (s Span) EndHTTP(status int, err error) {
	if s.s == nil {
		return
	}
	if status != 0 {
		s.s.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	failed := status >= 500 || (status >= 400 && s.client)
	if err == nil && failed {
		s.s.SetStatus(codes.Error, "")
	}
	s.End(err)
}

// Request starts the server span of one HTTP request, continuing the trace
// of the client's traceparent (and carrying its baggage) when it sent one.
func (t *Tracer) Request(r *http.Request) (context.Context, Span) {
	ctx := r.Context()
	if t == nil {
		return ctx, Span{}
	}
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	ctx, s := t.t.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return ctx, Span{s: s}
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Operation starts the span of one GraphQL operation at start (when
// gqlgen began reading it), named as the conventions say: "query CaseBoard".
func (t *Tracer) Operation(ctx context.Context, name, typ, documentHash string, start time.Time) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	attrs := []attribute.KeyValue{semconv.GraphQLOperationTypeKey.String(typ), hashKey.String(documentHash)}
	spanName := typ
	if name != "" {
		attrs = append(attrs, semconv.GraphQLOperationName(name))
		spanName += " " + name
	}
	ctx, s := t.t.Start(ctx, spanName, trace.WithAttributes(attrs...), trace.WithTimestamp(start))
	return ctx, Span{s: s}
}

// Phase records a step that is already over, from start to end: gqlgen
// times parsing and validation itself, so their spans are made afterwards
// from its timings instead of by hooks around them. A zero start records
// nothing (the step did not run).
func (t *Tracer) Phase(ctx context.Context, name string, start, end time.Time) {
	if t == nil || start.IsZero() {
		return
	}
	_, s := t.t.Start(ctx, name, trace.WithTimestamp(start))
	s.End(trace.WithTimestamp(end))
}

// Level starts the span of one level of the planner: the keys of one
// entity (or relation) fetched at once, in as many batches as the id limit
// makes.
func (t *Tracer) Level(ctx context.Context, service string, keys int) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	if t.unsampled(ctx) {
		return ctx, Span{}
	}
	ctx, s := t.t.Start(ctx, "prefetch "+service)
	if s.IsRecording() {
		s.SetAttributes(serviceKey.String(service), keysKey.Int(keys))
	}
	return ctx, Span{s: s}
}

// Batch starts the span of one upstream call, its retries included: route
// is the path with its ids taken out (upstream.Call.Route), ids the number
// of ids sent (0 for a call that is not a batch).
func (t *Tracer) Batch(ctx context.Context, service, method, route string, ids int) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	if t.unsampled(ctx) {
		return ctx, Span{}
	}
	ctx, s := t.t.Start(ctx, service+" "+method+" "+route)
	if s.IsRecording() {
		s.SetAttributes(serviceKey.String(service), semconv.HTTPRequestMethodKey.String(method), semconv.URLTemplate(route))
		if ids > 0 {
			s.SetAttributes(idsKey.Int(ids))
		}
	}
	return ctx, Span{s: s}
}

// Attempt starts the client span of one HTTP attempt of req (retry 0 is the
// first), records the service's breaker state as it was sent, and puts the
// span's traceparent and the baggage in req's headers, so the service
// continues the trace from this attempt. req must be the caller's own copy.
func (t *Tracer) Attempt(req *http.Request, service, route string, retry int, breaker string) (*http.Request, Span) {
	if t == nil {
		return req, Span{}
	}
	if t.unsampled(req.Context()) {
		// The service still continues the (unsampled) trace, from the
		// batch's span.
		t.prop.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
		return req, Span{}
	}
	ctx, s := t.t.Start(req.Context(), req.Method+" "+route, trace.WithSpanKind(trace.SpanKindClient))
	if s.IsRecording() {
		s.SetAttributes(
			serviceKey.String(service),
			semconv.HTTPRequestMethodKey.String(req.Method),
			semconv.URLTemplate(route),
			semconv.ServerAddress(req.URL.Hostname()),
			breakerKey.String(breaker),
		)
		if p, err := strconv.Atoi(req.URL.Port()); err == nil {
			s.SetAttributes(semconv.ServerPort(p))
		}
		if retry > 0 {
			s.SetAttributes(semconv.HTTPRequestResendCount(retry))
		}
	}
	req = req.WithContext(ctx)
	t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return req, Span{s: s, client: true}
}

// Event starts the span of one subscription event's delivery to one
// subscriber: its prefetching and the hand-over to the transport.
func (t *Tracer) Event(ctx context.Context, field string) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	ctx, s := t.t.Start(ctx, "event "+field, trace.WithAttributes(fieldKey.String(field)))
	return ctx, Span{s: s}
}

// TraceID is the hex trace id of ctx's span; "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
