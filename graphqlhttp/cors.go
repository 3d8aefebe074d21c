package graphqlhttp

import (
	"net/http"
	"slices"
	"strings"
)

// CORS answers preflights and marks responses for the origins in an
// allow-list; other origins get no CORS headers, so browsers keep their
// pages from reading Stacker's answers (and, with CSRF prevention, from
// sending anything but preflighted requests).
type CORS struct {
	// Origins are exact origins ("https://console.example.com"); "*" allows
	// any origin, for local development only.
	Origins []string
}

// allowedHeaders are the request headers a browser may send cross-origin;
// x-stacker-plan is plan.Header, which a front end on another origin sends
// to see why its screen is slow (docs/plan.md; gateway's TestCORS holds the
// two names together); idempotency-key makes a mutation safe to retry
// (docs/idempotency.md).
var allowedHeaders = []string{
	"accept", "content-type", "apollo-require-preflight", "x-apollo-operation-name",
	"apollographql-client-name", "apollographql-client-version", "authorization",
	"x-request-id", "traceparent", "x-stacker-plan", "idempotency-key",
}

// exposedHeaders are the response headers a page may read cross-origin
// beyond the safelisted ones: the request id to quote in a bug report, the
// challenge saying why a token was refused, when to try again after a
// 429 or 503, and that a mutation's answer is a replay.
var exposedHeaders = []string{"X-Request-ID", "WWW-Authenticate", "Retry-After", "Idempotent-Replayed"}

func (c CORS) allowed(origin string) bool {
	return origin != "" && (slices.Contains(c.Origins, "*") || slices.Contains(c.Origins, origin))
}

// Wrap applies the policy in front of next.
func (c CORS) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r, origin)
			return
		}
		if c.allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", strings.Join(exposedHeaders, ", "))
		}
		next.ServeHTTP(w, r)
	})
}

func (c CORS) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	method := r.Header.Get("Access-Control-Request-Method")
	if !c.allowed(origin) || (method != http.MethodGet && method != http.MethodPost) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	for _, hdr := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if hdr = strings.ToLower(strings.TrimSpace(hdr)); hdr != "" && !slices.Contains(allowedHeaders, hdr) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", strings.Join(allowedHeaders, ", "))
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
