package upstream

import (
	"context"
	"strings"
	"sync/atomic"
)

// ctxKey is unexported so only this package can set or read its values.
type ctxKey int

const (
	requestIDKey ctxKey = iota
	traceparentKey
	boundKey
	recorderKey
	callCountKey
)

// WithRequestID returns a context whose upstream calls carry id in the
// X-Request-ID header, so one request can be followed across services.
// The id must be a valid header value; the caller sanitises ids it takes
// from clients.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id set with WithRequestID; ok is false when
// there is none (or it is empty).
func RequestID(ctx context.Context) (id string, ok bool) {
	id, ok = ctx.Value(requestIDKey).(string)
	return id, ok && id != ""
}

// WithTraceparent returns a context whose upstream calls carry tp in the W3C
// traceparent header. Like the request id, it must be a valid header value.
func WithTraceparent(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, traceparentKey, tp)
}

// Traceparent returns the traceparent set with WithTraceparent.
func Traceparent(ctx context.Context) (tp string, ok bool) {
	tp, ok = ctx.Value(traceparentKey).(string)
	return tp, ok && tp != ""
}

// TraceID is the trace id of the traceparent set with WithTraceparent: its
// second field, 32 lowercase hex digits, as W3C Trace Context defines it;
// ok is false when there is no traceparent or it is malformed (a client
// may send anything), so a log line never carries a client's free text
// under the name of a trace id.
func TraceID(ctx context.Context) (id string, ok bool) {
	tp, ok := Traceparent(ctx)
	if !ok {
		return "", false
	}
	parts := strings.Split(tp, "-")
	if len(parts) < 4 || len(parts[1]) != 32 || strings.Trim(parts[1], "0123456789abcdef") != "" || strings.Trim(parts[1], "0") == "" {
		return "", false
	}
	return parts[1], true
}

// CallCount is the number of upstream calls made with a context that
// CountCalls returned, retries included in their call. Safe for concurrent
// use.
type CallCount struct{ n atomic.Int64 }

// Load is the number of calls finished or under way.
func (c *CallCount) Load() int64 { return c.n.Load() }

// CountCalls returns a context whose upstream calls are counted, and their
// count. When ctx already counts, it is returned with its count, so the
// operation's metrics and its access line, each asking, share one count
// rather than keeping two.
func CountCalls(ctx context.Context) (context.Context, *CallCount) {
	if c, ok := ctx.Value(callCountKey).(*CallCount); ok {
		return ctx, c
	}
	c := &CallCount{}
	return context.WithValue(ctx, callCountKey, c), c
}

// WithCallsBoundTo returns a context whose upstream calls also end when
// bound ends (with its cause), though the context itself does not. A
// deferred query executes on a context that no deadline ends (see
// resolvers.AroundOperations: gqlgen loses a deferred payload whose context
// ended while the response handler waited for it, and the handler then
// waits forever); its upstream calls keep the operation's deadline, and
// stop when the client leaves, through this.
func WithCallsBoundTo(ctx, bound context.Context) context.Context {
	return context.WithValue(ctx, boundKey, bound)
}

// bind is ctx, ended also when the context given to WithCallsBoundTo does,
// with that context's deadline (the retry policy reads it); done releases
// it.
func bind(ctx context.Context) (_ context.Context, done func()) {
	bound, ok := ctx.Value(boundKey).(context.Context)
	if !ok {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(bound, func() { cancel(context.Cause(bound)) })
	cancelDeadline := context.CancelFunc(func() {})
	if d, ok := bound.Deadline(); ok {
		ctx, cancelDeadline = context.WithDeadline(ctx, d)
	}
	return ctx, func() {
		cancelDeadline()
		stop()
		cancel(nil)
	}
}

// WithCallRecorder returns a context whose upstream calls are also told to
// o once they are over, as the service's own Observer is: one operation's
// calls, for that operation alone (the plan of an operation, package plan),
// where the service's Observer sees every operation's.
func WithCallRecorder(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, recorderKey, o)
}

// callRecorder is the Observer set with WithCallRecorder, nil when none.
func callRecorder(ctx context.Context) Observer {
	o, _ := ctx.Value(recorderKey).(Observer)
	return o
}
