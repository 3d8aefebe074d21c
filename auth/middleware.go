package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Mode is how strictly requests are authenticated.
type Mode string

const (
	// Required: every request needs a valid token.
	Required Mode = "required"
	// Optional: a request without a token is anonymous; one with a bad
	// token is still refused.
	Optional Mode = "optional"
	// Off: nothing is verified and no request has an identity.
	Off Mode = "off"
)

// Middleware guards an HTTP handler with a Verifier.
type Middleware struct {
	Mode     Mode
	Verifier *Verifier
	// RetryAfter is told to clients while the provider's keys are missing
	// (the key source's MinRefresh).
	RetryAfter time.Duration
	Logger     *slog.Logger
	// RequestID, when set, names the request in log lines.
	RequestID func(context.Context) (string, bool)
}

// Wrap verifies the request's bearer token before next runs and puts the
// identity in the request's context. A missing (when required) or bad
// token is answered 401 with a WWW-Authenticate challenge and a GraphQL
// error with extensions.code UNAUTHENTICATED saying why; when the
// provider's keys cannot be had at all, 503 with AUTH_UNAVAILABLE, since
// the token may well be fine. With Mode Off, next is returned as it is.
//
// The token is read from the Authorization header of every request,
// WebSocket upgrades included. A WebSocket upgrade without one is let
// through even when a token is required, because a browser cannot set
// headers on an upgrade (GraphiQL, graphql-ws in a page): its token then
// comes in connection_init, and VerifyConnectionParams refuses the
// connection when it does not (see TokenAtConnectionInit).
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if m.Mode == Off || m.Mode == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearer(r.Header)
		if errors.Is(err, ErrNoToken) && m.Mode == Optional {
			next.ServeHTTP(w, r)
			return
		}
		if errors.Is(err, ErrNoToken) && r.Method == http.MethodGet && webSocketUpgrade(r.Header) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), initTokenKey{}, true)))
			return
		}
		var id Identity
		if err == nil {
			id, err = m.Verifier.Verify(r.Context(), raw)
		}
		if err != nil {
			m.refuse(w, r, Reason(err))
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}

// bearer returns the token of the request's one Authorization header.
func bearer(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrNoToken
	case len(vals) > 1:
		return "", ErrMalformed
	}
	v := vals[0]
	if len(v) > len("Bearer ")+MaxTokenBytes {
		return "", ErrTooLarge
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformed
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrNoToken
	}
	if len(tok) > MaxTokenBytes {
		return "", ErrTooLarge
	}
	return tok, nil
}

func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, reason error) {
	status, code := http.StatusUnauthorized, "UNAUTHENTICATED"
	h := w.Header()
	if errors.Is(reason, ErrKeysMissing) {
		status, code = http.StatusServiceUnavailable, "AUTH_UNAVAILABLE"
		h.Set("Retry-After", strconv.Itoa(max(int(m.RetryAfter.Round(time.Second)/time.Second), 1)))
	} else {
		// RFC 6750, section 3. The reasons are fixed texts without quotes
		// or backslashes, so they need no escaping.
		h.Set("WWW-Authenticate", `Bearer realm="stacker", error="invalid_token", error_description="`+reason.Error()+`"`)
	}
	if m.Logger != nil {
		attrs := []slog.Attr{slog.String("reason", reason.Error()), slog.String("path", r.URL.Path)}
		if m.RequestID != nil {
			if id, ok := m.RequestID(r.Context()); ok {
				attrs = append(attrs, slog.String("request_id", id))
			}
		}
		m.Logger.LogAttrs(r.Context(), slog.LevelInfo, "authentication refused", attrs...)
	}
	type gqlErr struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	}
	body, _ := json.Marshal(map[string][]gqlErr{"errors": {{
		Message:    "not authenticated: " + reason.Error(),
		Extensions: map[string]string{"code": code},
	}}})
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// VerifyConnectionParams checks the token a graphql-ws client sent in its
// connection_init payload (graphql-ws's connectionParams), where a browser
// must put it: it cannot set headers on a WebSocket upgrade. Accepted:
// "Authorization" or "authorization" as "Bearer <token>" (what GraphiQL
// sends from its Headers tab), or "token" as the token alone. ok is false
// when the payload carries none (or the mode is Off): the upgrade
// request's identity, checked by Wrap, stands; but when the upgrade had
// none either and a token is required, that is ErrNoToken. An error wraps
// the reason (see Reason) and means the connection is to be refused.
func (m *Middleware) VerifyConnectionParams(ctx context.Context, params map[string]any) (id Identity, ok bool, err error) {
	if m.Mode == Off || m.Mode == "" {
		return Identity{}, false, nil
	}
	raw, err := paramsToken(params)
	if errors.Is(err, ErrNoToken) && !TokenAtConnectionInit(ctx) {
		return Identity{}, false, nil
	}
	if err == nil {
		id, err = m.Verifier.Verify(ctx, raw)
	}
	if err != nil {
		if m.Logger != nil {
			m.Logger.LogAttrs(ctx, slog.LevelInfo, "authentication refused", slog.String("reason", Reason(err).Error()), slog.String("at", "connection_init"))
		}
		return Identity{}, false, err
	}
	return id, true, nil
}

// initTokenKey marks the context of a WebSocket upgrade that Wrap let
// through without a token although one is required.
type initTokenKey struct{}

// TokenAtConnectionInit reports whether the connection of ctx was opened
// without a token although one is required, so its connection_init must
// carry one.
func TokenAtConnectionInit(ctx context.Context) bool {
	v, _ := ctx.Value(initTokenKey{}).(bool)
	return v
}

// webSocketUpgrade reports whether h asks to upgrade to a WebSocket.
func webSocketUpgrade(h http.Header) bool {
	for _, v := range h.Values("Upgrade") {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "websocket") {
				return true
			}
		}
	}
	return false
}

// paramsToken reads the token of a connection_init payload: one of the
// accepted keys, a string.
func paramsToken(params map[string]any) (string, error) {
	var found []any
	for _, k := range []string{"Authorization", "authorization"} {
		if v, ok := params[k]; ok {
			found = append(found, v)
		}
	}
	if v, ok := params["token"]; ok {
		s, isString := v.(string)
		if !isString {
			return "", ErrMalformed
		}
		found = append(found, "Bearer "+s)
	}
	switch {
	case len(found) == 0:
		return "", ErrNoToken
	case len(found) > 1:
		return "", ErrMalformed // two tokens: which one is the caller?
	}
	s, isString := found[0].(string)
	if !isString {
		return "", ErrMalformed
	}
	return bearer(http.Header{"Authorization": {s}})
}
