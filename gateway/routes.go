package gateway

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/operations"
	"github.com/stacker/stacker/playground"
	"github.com/stacker/stacker/tracing"
)

// routes lists every route of the gateway. /graphql is authenticated after
// CORS (a browser's preflight carries no token) and before any transport,
// so GET, POST, Server-Sent Events and the WebSocket upgrade request are
// all checked; the playground and the health check are not. The
// playground's new tabs start with playgroundHeaders (JSON; empty: none).
// Every request gets a span when tr is not nil.
func routes(gql http.Handler, cors graphqlhttp.CORS, authn *auth.Middleware, log *slog.Logger, playgroundHeaders string, tr *tracing.Tracer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", cors.Wrap(noSniff(authn.Wrap(live.CloseNotices(gql)))))
	pg := playground.Handler(playground.Options{
		Endpoint: "/graphql", SubscriptionEndpoint: "/graphql", DefaultQuery: operations.CaseBoard, Title: "Stacker",
		Headers: playgroundHeaders,
	})
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /graphiql", pg)
	mux.Handle("GET /playground/", pg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	return withTracing(withRequestID(withAccessLog(mux, log), tr == nil), tr)
}
