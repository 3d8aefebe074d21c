package upstream

import "context"

// ctxKey is unexported so only this package can set or read its values.
type ctxKey int

const (
	requestIDKey ctxKey = iota
	traceparentKey
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
