package logging

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/upstream"
)

// AccessMessage is the message of every access line, so a log search can
// select them.
const AccessMessage = "operation"

// Access is a gqlgen operation middleware that writes one info line per
// operation once it is over: its name, type and document hash, its
// duration, the upstream calls it made, the distinct codes of its errors,
// the request id, the trace id and the caller's subject. A query with
// @defer is over at its last payload, a subscription when it ends.
//
// Install it before resolvers.CompiledOperations, which answers plain
// queries without calling the middlewares after it; and before the
// loaders are made, so the calls they make are counted.
//
// The line holds no variables, no response values and no error messages:
// those may carry what a client sent or a service answered.
func Access(log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil {
			return next(ctx)
		}
		start := oc.Stats.OperationStart
		if start.IsZero() {
			start = time.Now()
		}
		ctx, calls := upstream.CountCalls(ctx)
		h := next(ctx)
		sub := oc.Operation.Operation == ast.Subscription
		codes := []string{} // [] rather than null in json when there are none
		done := false
		// The transport calls the handler from one goroutine, until nil.
		return func(rctx context.Context) *graphql.Response {
			resp := h(rctx)
			if done {
				return resp
			}
			if resp != nil {
				for _, e := range resp.Errors {
					if c, _ := e.Extensions["code"].(string); c != "" && !slices.Contains(codes, c) {
						codes = append(codes, c)
					}
				}
			}
			if resp == nil || !sub && (resp.HasNext == nil || !*resp.HasNext) {
				done = true
				if log.Enabled(ctx, slog.LevelInfo) { // the line hashes the document
					slices.Sort(codes)
					log.LogAttrs(ctx, slog.LevelInfo, AccessMessage, line(ctx, oc, time.Since(start), calls.Load(), codes)...)
				}
			}
			return resp
		}
	}
}

// line is the access line's attributes; an id the request lacks is left
// out rather than logged empty.
func line(ctx context.Context, oc *graphql.OperationContext, d time.Duration, calls int64, codes []string) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("operation", oc.Operation.Name),
		slog.String("type", string(oc.Operation.Operation)),
		slog.String("hash", audit.DocumentHash(oc.RawQuery)),
		slog.Duration("duration", d),
		slog.Int64("calls", calls),
		slog.Any("codes", codes),
	}
	if id, ok := upstream.RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if id, ok := upstream.TraceID(ctx); ok {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	if id, ok := auth.FromContext(ctx); ok && id.Subject != "" {
		attrs = append(attrs, slog.String("subject", id.Subject))
	}
	return attrs
}
