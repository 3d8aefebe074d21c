// Package resolvers holds the GraphQL resolvers: the Resolver root with every
// dependency the gateway needs, the declaration of every field that crosses
// into another service (relations.go), thin resolver bodies that read through
// the per-operation loaders those declarations name, the prefetch planner and
// cost model that follow from the same declarations, and the error presenter
// that maps Go errors to GraphQL errors once.
//
// To add a field that crosses into another service, see relations.go.
package resolvers

//go:generate go tool gqlgen generate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream"
)

// Deps are the Resolver's dependencies.
type Deps struct {
	Clients loaders.Clients
	Loaders loaders.Options
	Logger  *slog.Logger
	// OperationTimeout is the deadline of every query and mutation (not of
	// subscriptions); 0 means none.
	OperationTimeout time.Duration
	// UploadTimeout is how long the file of an operation that streams one
	// (graphqlhttp.Uploading) may take to arrive; the operation gets that
	// and OperationTimeout, so a file too slow fails as such (the
	// connection's read deadline) before the operation's deadline does.
	UploadTimeout time.Duration
	// Events is the bus subscriptions read; nil means no subscriptions.
	Events events.Bus
	Live   live.Options
	// Authorization is whether and how the schema's authorization
	// directives are enforced.
	Authorization Authorization
	// Audit is the trail of access to the schema's @pii fields; nil means
	// no auditing.
	Audit *audit.Trail
	// Reporter hears of every panic and INTERNAL error (see ErrorReporter);
	// nil: nobody does, beyond the log.
	Reporter ErrorReporter
}

// Resolver is the root of all resolvers. It holds no per-request state: that
// lives in the operation's context (see AroundOperations).
type Resolver struct {
	clients       loaders.Clients
	opts          loaders.Options
	log           *slog.Logger
	reporter      ErrorReporter // nil: none
	opTimeout     time.Duration
	uploadTimeout time.Duration
	live          *live.Engine
	rels          *relations
	// authorization and policy are the schema's authorization directives
	// and how they are enforced; schema is the schema they were read from.
	authorization Authorization
	policy        *authz.Policy
	schema        *ast.Schema
	// audit is the trail the @pii fields in piiFields are recorded to;
	// nil: no auditing.
	audit     *audit.Trail
	piiFields audit.Fields

	// The compiled path's (compiled.go): its counters,
	// the size of its last answer (to size the next buffer), the Query
	// resolver's methods and how to read each model field.
	compiledAnswered   atomic.Int64
	compiledHandedOver atomic.Int64
	compiledSizeHint   atomic.Int64
	rootMethodsOnce    sync.Once
	rootMethodsByField map[string]reflect.Value
	accessors          sync.Map // accessorKey -> func(reflect.Value) any
}

// New returns the resolver root. It fails when the schema's authorization
// directives are malformed or name a policy policies.go does not define:
// a build that cannot enforce what its schema says must not serve.
func New(d Deps) (*Resolver, error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{
		clients: d.Clients, opts: d.Loaders, log: log, reporter: d.Reporter, opTimeout: d.OperationTimeout, uploadTimeout: d.UploadTimeout, rels: newRelations(),
		authorization: d.Authorization, schema: graph.NewExecutableSchema(graph.Config{}).Schema(),
	}
	p, err := authz.NewPolicy(r.schema)
	if err != nil {
		return nil, fmt.Errorf("resolvers: %w", err)
	}
	r.policy = p
	r.audit, r.piiFields = d.Audit, audit.NewFields(r.schema)
	if missing := unregisteredPolicies(r.policy, r.rels); len(missing) > 0 {
		return nil, fmt.Errorf("resolvers: the schema names policies with no function in policies.go: %v", missing)
	}
	if d.Events != nil {
		r.live = live.New(d.Events, func() *loaders.Loaders {
			o := d.Loaders
			o.Shared = true
			return loaders.New(d.Clients, o)
		}, d.Live, log.With("component", "subscriptions"))
	}
	return r, nil
}

// Close ends the subscriptions' event consumer; the server calls it when
// it shuts down.
func (r *Resolver) Close() { r.live.Close() }

// LiveStats are the subscription engine's figures (none without an event
// bus), for the operators' metrics.
func (r *Resolver) LiveStats() live.Stats { return r.live.Stats() }

// AroundOperations gives every operation its own loaders. It runs per
// operation rather than per HTTP request because one WebSocket connection
// carries many operations, and a cache must not outlive its operation.
//
// It evaluates, once, which fields the caller may not see (see
// AroundFields and the planner).
//
// It also gives queries and mutations their deadline, which every upstream
// call inherits, and ends it (cancelling whatever is still in flight) once
// the last response is made: the only one, or a deferred query's last
// payload. The request's context already ends when the client disconnects,
// cancelling the operation's upstream calls at once.
func (r *Resolver) AroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		// A subscription gets fresh loaders for every event (see stream),
		// through a slot its events fill in turn.
		slot := live.NewSlot()
		h := next(live.NewSlotContext(withOperationState(ctx, r.rels, r.access(ctx)), slot))
		return func(ctx context.Context) *graphql.Response {
			slot.Idle()
			return h(ctx)
		}
	}
	ctx = loaders.NewContext(ctx, loaders.New(r.clients, r.opts))
	ctx = withOperationState(ctx, r.rels, r.access(ctx))
	if oc.Operation == nil {
		return next(ctx)
	}
	end := func() {}
	timeout := r.opTimeout
	if graphqlhttp.Uploading(ctx) && r.uploadTimeout > 0 {
		timeout += r.uploadTimeout
	}
	if timeout > 0 {
		ctx, end = context.WithTimeoutCause(ctx, timeout, ErrOperationTimeout)
	}
	if graphqlhttp.HasDefer(oc) {
		ctx, end = deferredContext(ctx, end)
	}
	return untilLast(next(ctx), end)
}

// deferredContext is the context a deferred query executes under, and what
// ends it. gqlgen hands each deferred payload to the response handler
// unless the payload's context has ended; when it ends while the handler
// waits for that payload, the payload is lost and the handler waits
// forever (and its transport with it). So the executor's context ends only
// once the handler has returned its last response (the transports call it
// until then, and gqlgen's executor returns nil at once when the client has
// gone), while the operation's deadline and the client's leaving still end
// every upstream call through upstream.WithCallsBoundTo: the deferred
// fields fail at their paths and their payloads are delivered.
func deferredContext(work context.Context, endWork func()) (context.Context, func()) {
	exec, cancel := context.WithCancel(upstream.WithCallsBoundTo(context.WithoutCancel(work), work))
	return exec, func() {
		cancel()
		endWork()
	}
}

// untilLast calls end once h has returned its last response (nil, or one
// with no more to come), and returns nil after that. The transport calls
// the handler from one goroutine.
func untilLast(h graphql.ResponseHandler, end func()) graphql.ResponseHandler {
	over := false
	return func(ctx context.Context) *graphql.Response {
		if over {
			return nil
		}
		resp := h(ctx)
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			over = true
			end()
		}
		return resp
	}
}

// ErrOperationTimeout is the cause of an operation's context ending at its
// deadline.
var ErrOperationTimeout = errors.New("operation deadline exceeded")

// loaders returns the operation's loaders. Their absence is a wiring bug, not
// a user error: the panic becomes an INTERNAL error for the field and a log
// line with the stack.
func (r *Resolver) loaders(ctx context.Context) *loaders.Loaders {
	l, ok := loaders.FromContext(ctx)
	if !ok {
		panic("resolvers: no loaders in context: AroundOperations is not installed")
	}
	return l
}
