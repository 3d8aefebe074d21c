package gateway

import (
	"log/slog"
	"net/http"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/health"
	"github.com/stacker/stacker/idempotency"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/operations"
	"github.com/stacker/stacker/playground"
	"github.com/stacker/stacker/tracing"
)

// routes lists every route of the gateway. /graphql is authenticated after
// CORS (a browser's preflight carries no token) and before any transport,
// so GET, POST, Server-Sent Events and the WebSocket upgrade request are
// all checked; the playground and the probes (/healthz: alive, /readyz:
// should get traffic) are not. The playground's new tabs start with
// playgroundHeaders (JSON; empty: none). While ready drains, answers close
// their connection. Every request gets a span when tr is not nil.
func routes(gql http.Handler, cors graphqlhttp.CORS, authn *auth.Middleware, ready *health.Readiness, log *slog.Logger, playgroundHeaders string, tr *tracing.Tracer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", cors.Wrap(noSniff(authn.Wrap(live.CloseNotices(idempotency.Requests(gql))))))
	pg := playground.Handler(playground.Options{
		Endpoint: "/graphql", SubscriptionEndpoint: "/graphql", DefaultQuery: operations.CaseBoard, Title: "Stacker",
		Headers: playgroundHeaders,
	})
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /graphiql", pg)
	mux.Handle("GET /playground/", pg)
	mux.HandleFunc("GET /healthz", health.Live)
	mux.Handle("GET /readyz", ready)
	return withTracing(withRequestID(withAccessLog(ready.CloseWhenDraining(mux), log), tr == nil), tr)
}
