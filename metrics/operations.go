package metrics

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/upstream"
)

// operation is what the metrics keep of one running operation.
type operation struct {
	name, typ string // label values
}

type operationKey struct{}

// AroundOperations is a gqlgen operation middleware that records each
// operation: the duration of a query or mutation, from parsing to its last
// response (a deferred query's last payload), the upstream calls it made,
// and the error codes of every response, a subscription's events' included.
//
// Install it before every other operation middleware: the compiled path
// (resolvers.CompiledOperations) answers without calling the middlewares
// after it or gqlgen's response middlewares, and the loaders the upstream
// calls are counted through are made after it.
func (m *Metrics) AroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return next(ctx)
	}
	op := &operation{name: m.operationName(oc.Operation.Name), typ: string(oc.Operation.Operation)}
	start := startOf(oc)
	ctx, calls := upstream.CountCalls(ctx)
	h := next(context.WithValue(ctx, operationKey{}, op))
	timed := op.typ != "subscription" // a subscription's duration is its client's choice
	// The transport calls the handler from one goroutine, until nil.
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp != nil {
			m.countErrors(op.name, op.typ, resp.Errors)
		}
		if timed && (resp == nil || resp.HasNext == nil || !*resp.HasNext) {
			timed = false
			m.opDuration.WithLabelValues(op.name, op.typ).Observe(time.Since(start).Seconds())
			m.opCalls.WithLabelValues(op.name).Observe(float64(calls.Load()))
		}
		return resp
	}
}

// AroundResponses is a gqlgen response middleware that counts the errors of
// requests refused before their operation ran (a document that does not
// parse or validate, a limit, an unknown persisted query), which no
// operation middleware sees. The responses of operations that ran are
// AroundOperations' to count.
func (m *Metrics) AroundResponses(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if _, ran := ctx.Value(operationKey{}).(*operation); ran || resp == nil {
		return resp
	}
	name, typ := "unknown", "unknown"
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
			name, typ = m.operationName(oc.Operation.Name), string(oc.Operation.Operation)
		}
	}
	m.countErrors(name, typ, resp.Errors)
	return resp
}

func (m *Metrics) countErrors(name, typ string, errs gqlerror.List) {
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = "NONE"
		}
		m.opErrors.WithLabelValues(name, typ, m.codes.value(code)).Inc()
	}
}

// operationName is the label of an operation's name: "anonymous" for
// none, Other past the bound.
func (m *Metrics) operationName(name string) string {
	if name == "" {
		return "anonymous"
	}
	return m.operations.value(name)
}

// startOf is when the operation's request began, as far as gqlgen knows:
// the transport's start when it set one, else parsing's start (a cached
// document's included), else now.
func startOf(oc *graphql.OperationContext) time.Time {
	for _, t := range []time.Time{oc.Stats.OperationStart, oc.Stats.Parsing.Start} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Now()
}
