package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/audit/auditsink"
	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/idempotency"
	"github.com/stacker/stacker/logging"
	"github.com/stacker/stacker/metrics"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/tracing"
)

// newGraphQLHandler builds the GraphQL endpoint with explicit parts (gqlgen's
// NewDefaultServer is meant for examples): Stacker's GraphQL-over-HTTP
// transport, a parsed-query cache, the request limits, persisted queries,
// idempotency keys on mutations, the error presenter and per-operation
// loaders. The extensions that read
// the document run in order: trusted documents resolve or refuse it, APQ
// resolves a hash, then the limits look at the final text. m, when not nil,
// records every operation and counts the parsed-query cache's hits; tr,
// when not nil, makes every operation's span. log gets every operation's
// access line.
func newGraphQLHandler(res *resolvers.Resolver, cfg config.Config, apq graphql.Cache[string], idem idempotency.Store, trusted *graphqlhttp.TrustedDocuments, authn *auth.Middleware, m *metrics.Metrics, tr *tracing.Tracer, log *slog.Logger) *handler.Server {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: res})
	srv := handler.New(es)
	// GraphQL over HTTP first: it claims every request but WebSocket
	// upgrades and Server-Sent Events, which go to the subscription
	// transports: graphql-transport-ws (and the legacy graphql-ws) over
	// WebSocket, and GraphQL over Server-Sent Events.
	srv.AddTransport(graphqlhttp.New(graphqlhttp.Options{MaxBodyBytes: int64(cfg.MaxBodyBytes), MaxBatch: cfg.BatchMax, MaxUploadBytes: int64(cfg.MaxUploadBytes),
		MaxUploads: cfg.MaxUploads, UploadTimeout: cfg.UploadTimeout, OperationTimeout: cfg.OperationTimeout, WriteTimeout: cfg.WriteTimeout,
	}))
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(newWebsocketTransport(res, websocketOrigins(cfg), 10*time.Second, authn))
	var parsed graphql.Cache[*ast.QueryDocument] = lru.New[*ast.QueryDocument](cfg.QueryCacheSize)
	if m != nil {
		parsed = metrics.CountCache(m, "parsed_query", parsed)
	}
	srv.SetQueryCache(parsed)
	srv.SetParserTokenLimit(cfg.MaxTokens)
	srv.SetDisableSuggestion(!cfg.FieldSuggestions)
	srv.SetValidationRulesFn(graphqlhttp.ValidationRules(cfg.FieldSuggestions))
	if trusted != nil {
		srv.Use(trusted)
	}
	if apq != nil {
		srv.Use(&graphqlhttp.APQ{Cache: apq, MaxEntryBytes: cfg.APQMaxEntryBytes})
	}
	srv.Use(&graphqlhttp.Limits{
		MaxTokens: cfg.MaxTokens, MaxDepth: cfg.MaxDepth, MaxAliases: cfg.MaxAliases,
		MaxRootFields: cfg.MaxRootFields, MaxDirectives: cfg.MaxDirectives, MaxCost: cfg.MaxCost,
		MaxFields: cfg.MaxFields, MaxRepeats: cfg.MaxFieldRepeats,
		Cost: resolvers.CostModel(), Schema: es.Schema(),
	})
	if cfg.Auth.RejectUnauthorized {
		srv.Use(res.RejectUnauthorized())
	}
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(graphqlhttp.NoIntrospection{})
	}
	srv.Use(graphqlhttp.DeferOnlyOnQueries{})
	srv.SetErrorPresenter(res.ErrorPresenter)
	srv.SetRecoverFunc(res.Recover)
	if tr != nil {
		// First: every span the operation makes, its loaders' and the
		// compiled path's included, is under it.
		srv.AroundOperations(traceOperations(tr))
	}
	// Then the access line and the metrics: they must see every
	// operation's responses, the compiled path's included, and count its
	// calls from before the loaders are made.
	srv.AroundOperations(logging.Access(log))
	if m != nil {
		srv.AroundOperations(m.AroundOperations)
		srv.AroundResponses(m.AroundResponses)
	}
	// Last of the extensions that may refuse an operation, so a key is
	// claimed only by one that runs; before the loaders and execution,
	// which a replay skips, and after the access line and metrics, which
	// see replays too.
	srv.Use(idempotency.New(idempotency.Options{
		Store: idem, TTL: cfg.IdempotencyTTL,
		// A request never runs longer than its operation timeout (an
		// upload, than the upload timeout): a concurrent one waits that
		// long; a crashed replica's claim frees itself after twice that.
		Wait: cfg.OperationTimeout, Lease: 2 * cfg.OperationTimeout,
		Longer: graphqlhttp.Uploading, LongWait: cfg.UploadTimeout + cfg.OperationTimeout, LongLease: 2 * (cfg.UploadTimeout + cfg.OperationTimeout),
		Transient: resolvers.Transient, Log: log.With("component", "idempotency"),
	}))
	srv.AroundOperations(res.AroundOperations)
	// After the loaders and access are in place (a dry run reads them),
	// outside the compiled path (whose answer it adds the plan to).
	srv.AroundOperations(res.PlanOperations(planAllowed(cfg)))
	srv.AroundOperations(endAtExpiry)
	if authorization(cfg).Enforce {
		// Not installed with authentication off: every field would pay
		// for a check that allows everything.
		srv.AroundFields(res.AroundFields)
	}
	if res.Auditing() {
		srv.AroundOperations(res.AuditOperations)
		srv.AroundFields(res.AuditFields)
	}
	if cfg.Server.CompiledExecution {
		// Last: it needs the loaders, deadline and audit collector the
		// middlewares above put in place.
		srv.AroundOperations(res.CompiledOperations)
	}
	srv.AroundResponses(graphqlhttp.LimitErrors(cfg.MaxErrors))
	srv.AroundResponses(resolvers.SortErrors)
	return srv
}

// newAPQCache is Redis when configured (shared by all replicas), memory
// otherwise.
func newAPQCache(ctx context.Context, cfg config.Config, log *slog.Logger) (graphql.Cache[string], func(), error) {
	if cfg.RedisURL == "" {
		return graphqlhttp.NewMemoryAPQCache(cfg.APQMaxBytes), func() {}, nil
	}
	c, err := graphqlhttp.NewRedisAPQCache(cfg.RedisURL, cfg.APQMaxBytes, log.With("component", "apq"))
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: STACKER_REDIS_URL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		log.Warn("redis does not answer yet; persisted queries degrade to misses until it does", "error", err)
	}
	return c, func() { c.Close() }, nil
}

// newIdempotencyStore shares the APQ cache's Redis when there is one (all
// replicas must see one key's record), memory otherwise.
func newIdempotencyStore(cfg config.Config, apq graphql.Cache[string]) idempotency.Store {
	if r, ok := apq.(*graphqlhttp.RedisAPQCache); ok {
		return idempotency.NewRedis(r.Client())
	}
	return idempotency.NewMemory(cfg.IdempotencyMaxEntries, cfg.IdempotencyMaxBytes)
}

// newAuditTrail opens the audit trail's sink (STACKER_AUDIT; "stderr" is
// the process's, as run was given it; a broker must answer now) and starts
// the trail; nil when auditing is off.
func newAuditTrail(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) (*audit.Trail, error) {
	log = log.With("component", "audit")
	sink, err := auditsink.Open(ctx, cfg.AuditSink, stderr, log)
	if err != nil {
		return nil, fmt.Errorf("configuration: STACKER_AUDIT: %w", err)
	}
	if sink == nil {
		return nil, nil
	}
	return audit.New(sink, audit.Options{Buffer: cfg.AuditBuffer, Mode: cfg.AuditFail, Logger: log}), nil
}

// counters are the gateway's own counters for the operators' listener:
// the audit trail's records (when auditing) and the compiled path's
// answers.
func counters(res *resolvers.Resolver, trail *audit.Trail) func() map[string]int64 {
	return func() map[string]int64 {
		cs := res.CompiledStats()
		m := map[string]int64{"compiled_answered": cs.Answered, "compiled_handed_over": cs.HandedOver}
		if trail != nil {
			m["audit_records_written"], m["audit_records_lost"] = trail.Written(), trail.Lost()
		}
		return m
	}
}

// errTokenExpired is the cause a subscription's context ends with when its
// caller's token expires.
var errTokenExpired = errors.New("the caller's token expired")

// endAtExpiry ends a subscription when its caller's token expires, with a
// last result carrying an UNAUTHENTICATED error, so the client (on
// Server-Sent Events, where nothing else would tell it) knows to
// re-authenticate rather than just reconnect. Queries and mutations end
// long before a token does, within the operation's deadline.
func endAtExpiry(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	id, ok := auth.FromContext(ctx)
	op := graphql.GetOperationContext(ctx)
	if !ok || id.Expires.IsZero() || op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	ctx, cancel := context.WithDeadlineCause(ctx, id.Expires, errTokenExpired)
	responses := next(ctx)
	over := false
	// The transport calls the handler from one goroutine, until nil.
	return func(rctx context.Context) *graphql.Response {
		if over {
			return nil
		}
		if r := responses(rctx); r != nil {
			return r
		}
		over = true
		defer cancel()
		if !errors.Is(context.Cause(ctx), errTokenExpired) {
			return nil
		}
		return &graphql.Response{Errors: gqlerror.List{{
			Message:    "not authenticated: " + auth.ErrExpired.Error(),
			Extensions: map[string]any{"code": "UNAUTHENTICATED"},
		}}}
	}
}
