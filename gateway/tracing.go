package gateway

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/tracing"
)

// newTracing builds the tracer provider the OTEL_* settings describe; nil
// when they leave tracing off, and then every span costs a nil check.
func newTracing(ctx context.Context, cfg config.Config) (*tracing.Provider, error) {
	t := cfg.Tracing
	return tracing.NewProvider(ctx, tracing.Settings{
		Endpoint:           t.OTLPEndpoint,
		TracesEndpoint:     t.OTLPTracesEndpoint,
		Headers:            t.OTLPHeaders,
		ServiceName:        t.ServiceName,
		ResourceAttributes: t.ResourceAttributes,
		Sampler:            t.TracesSampler,
		SamplerArg:         t.TracesSamplerArg,
		ScheduleDelay:      time.Duration(t.BatchDelayMillis) * time.Millisecond,
		Disabled:           t.SDKDisabled,
	})
}

// traceOperations is a gqlgen operation middleware that makes each
// operation's span, from the start of parsing to its last response (a
// deferred query's last payload; a subscription's end), with the parse and
// validate spans gqlgen's own timings give. Install it first: the compiled
// path (resolvers.CompiledOperations) answers without calling the
// middlewares after it, and the loaders made after it must fetch under the
// operation's span.
func traceOperations(tr *tracing.Tracer) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil {
			return next(ctx)
		}
		// From parsing's start, so the parse and validate spans fall within
		// the operation's.
		start := oc.Stats.Parsing.Start
		if start.IsZero() {
			start = time.Now()
		}
		ctx, span := tr.Operation(ctx, oc.Operation.Name, string(oc.Operation.Operation), audit.DocumentHash(oc.RawQuery), start)
		tr.Phase(ctx, "graphql.parse", oc.Stats.Parsing.Start, oc.Stats.Parsing.End)
		tr.Phase(ctx, "graphql.validate", oc.Stats.Validation.Start, oc.Stats.Validation.End)
		h := next(ctx)
		over := false
		// The transport calls the handler from one goroutine, until nil.
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if !over && (resp == nil || resp.HasNext == nil || !*resp.HasNext) {
				over = true
				var err error
				if resp != nil && len(resp.Errors) > 0 {
					err = resp.Errors
				}
				span.End(err)
			}
			return resp
		}
	}
}
