package gateway

// Subscriptions over WebSocket: which pages may open a connection (the
// origin check), and the connection wrapper that holds gqlgen's transport to
// the graphql-transport-ws protocol and closes connections the resolvers
// give up on.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/resolvers"
)

// newWebsocketTransport serves graphql-transport-ws and the legacy
// graphql-ws to the origins the policy allows. With authentication on
// (authn; nil is off), a token in connection_init is checked as well as the
// upgrade request's (see authenticateConnection).
func newWebsocketTransport(res *resolvers.Resolver, origins originPolicy, initTimeout time.Duration, authn *auth.Middleware) graphql.Transport {
	return originChecked{origins: origins, Websocket: transport.Websocket{
		// The origin check is originChecked's: coder/websocket's compares
		// hosts only and trusts the Host header for same-origin requests.
		Implementation: live.Websockets{WebsocketImplementation: transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}}},
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, err := authenticateConnection(ctx, authn, payload)
			if err != nil {
				return ctx, nil, err
			}
			return res.WithConnection(ctx), nil, nil
		},
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           initTimeout,
	}}
}

// authenticateConnection checks the token of a connection_init payload, if
// it carries one, and makes its identity the connection's (in place of the
// upgrade request's). A bad one closes the connection with 4403 Forbidden
// (1013 when the provider's keys are unavailable: the token may be fine).
// Whichever identity the connection ends up with, the connection is closed
// with 4403 when its token expires, so the client re-authenticates; each
// subscription also ends then with an UNAUTHENTICATED error (endAtExpiry).
func authenticateConnection(ctx context.Context, authn *auth.Middleware, payload transport.InitPayload) (context.Context, error) {
	notice, _ := live.CloseNoticeFrom(ctx)
	if authn != nil {
		id, ok, err := authn.VerifyConnectionParams(ctx, payload)
		if err != nil {
			reason := auth.Reason(err)
			if notice != nil {
				if errors.Is(reason, auth.ErrKeysMissing) {
					notice.Set(live.CloseTryAgainLater, reason.Error())
				} else {
					notice.Set(live.CloseForbidden, "Forbidden: "+reason.Error())
				}
			}
			return ctx, reason
		}
		if ok {
			ctx = auth.NewContext(ctx, id)
		}
	}
	if id, ok := auth.FromContext(ctx); ok && notice != nil && !id.Expires.IsZero() {
		t := time.AfterFunc(time.Until(id.Expires), func() {
			notice.Set(live.CloseForbidden, "Forbidden: "+auth.ErrExpired.Error())
		})
		context.AfterFunc(ctx, func() { t.Stop() })
	}
	return ctx, nil
}

// originChecked refuses the upgrade, with 403, to a page whose origin the
// policy does not allow. Browsers do not apply CORS to WebSockets: without
// this, any site a user visits could subscribe with the user's cookies or
// from inside the user's network.
type originChecked struct {
	transport.Websocket
	origins originPolicy
}

func (t originChecked) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !t.origins.allows(r.Header.Get("Origin")) {
		http.Error(w, "this origin may not open a WebSocket here", http.StatusForbidden)
		return
	}
	t.Websocket.Do(w, r, exec)
}

// originPolicy says which Origin headers may open a WebSocket: the
// configured origins, compared by scheme, host and port; in development also
// pages on this machine. Requests without an Origin (servers, scripts,
// native apps) are not made by a page and are allowed. The Host header is
// never consulted: a DNS-rebinding page controls the name it was loaded from.
type originPolicy struct {
	origins  []string // normalised by normalOrigin
	any      bool     // "*"
	loopback bool     // http(s) on localhost, 127.0.0.0/8 or [::1], any port
}

// websocketOrigins is the policy for a configuration: STACKER_CORS_ORIGINS,
// plus loopback origins outside production so the playground and local
// front ends work.
func websocketOrigins(cfg config.Config) originPolicy {
	p := originPolicy{loopback: cfg.Env != "production"}
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			p.any = true
		} else if n, _, ok := normalOrigin(o); ok {
			p.origins = append(p.origins, n)
		}
	}
	return p
}

func (p originPolicy) allows(origin string) bool {
	if origin == "" || p.any {
		return true
	}
	n, host, ok := normalOrigin(origin)
	if !ok {
		return false // "null" (sandboxed pages, files) and anything malformed
	}
	if slices.Contains(p.origins, n) {
		return true
	}
	if !p.loopback {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// normalOrigin returns an http(s) origin as scheme://host:port, lower case,
// with the scheme's default port made explicit, and its host.
func normalOrigin(origin string) (normal, host string, ok bool) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), host, true
}
