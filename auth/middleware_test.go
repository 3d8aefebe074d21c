package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/internal/testsync"
)

// The middleware answers a missing or bad token with 401, a challenge and
// a GraphQL error saying why; it never logs or echoes the token, and the
// server keeps serving.
func TestMiddleware(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	v, _ := newVerifier(t, p, time.Minute)
	good := p.Token(t, k, "alice")
	expired := k.Sign(t, with(p.Claims("alice"), "exp", time.Now().Add(-time.Hour).Unix()))
	huge := "Bearer " + strings.Repeat("a", auth.MaxTokenBytes+1)

	tests := []struct {
		name       string
		mode       auth.Mode
		header     []string
		wantStatus int
		wantReason string // in the body and the challenge
	}{
		{"required, valid", auth.Required, []string{"Bearer " + good}, 200, ""},
		{"scheme in any case", auth.Required, []string{"bearer " + good}, 200, ""},
		{"required, none", auth.Required, nil, 401, "no bearer token"},
		{"optional, none", auth.Optional, nil, 200, ""},
		{"optional, expired", auth.Optional, []string{"Bearer " + expired}, 401, "token expired"},
		{"required, expired", auth.Required, []string{"Bearer " + expired}, 401, "token expired"},
		{"Basic", auth.Required, []string{"Basic YWxpY2U6cHc="}, 401, "malformed token"},
		{"two headers", auth.Required, []string{"Bearer " + good, "Bearer " + good}, 401, "malformed token"},
		{"garbage", auth.Optional, []string{"Bearer not.a.token"}, 401, "malformed token"},
		{"over 8 KB", auth.Required, []string{huge}, 401, "token larger than 8 KB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs testsync.Buffer
			var seen auth.Identity
			h := (&auth.Middleware{Mode: tc.mode, Verifier: v, Logger: slogText(&logs)}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = auth.FromContext(r.Context())
				io.WriteString(w, `{"data":{}}`)
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"query":"{ cases { totalCount } }"}`))
			for _, v := range tc.header {
				req.Header.Add("Authorization", v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, raw)
			}
			for _, v := range tc.header {
				if tok := strings.TrimPrefix(v, "Bearer "); strings.Contains(string(raw), tok) || strings.Contains(logs.String(), tok) ||
					strings.Contains(resp.Header.Get("WWW-Authenticate"), tok) {
					t.Errorf("the token is echoed or logged:\nbody %s\nlogs %s", raw, logs.String())
				}
			}
			if tc.wantStatus == 200 {
				if len(tc.header) > 0 && seen.Subject != "alice" {
					t.Errorf("identity in context = %+v", seen)
				}
				return
			}
			var body struct {
				Errors []struct {
					Message    string
					Extensions struct{ Code string }
				}
			}
			if err := json.Unmarshal(raw, &body); err != nil || len(body.Errors) != 1 {
				t.Fatalf("body %s: %v", raw, err)
			}
			if e := body.Errors[0]; e.Extensions.Code != "UNAUTHENTICATED" || !strings.Contains(e.Message, tc.wantReason) {
				t.Errorf("error = %+v, want UNAUTHENTICATED saying %q", e, tc.wantReason)
			}
			want := `Bearer realm="stacker", error="invalid_token", error_description="` + tc.wantReason + `"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %s, want %s", got, want)
			}
			if !strings.Contains(logs.String(), "authentication refused") {
				t.Errorf("refusal not logged: %s", logs.String())
			}
		})
	}
}

// With no keys to be had, the answer is 503 AUTH_UNAVAILABLE and a
// Retry-After: the client's token may be fine.
func TestMiddlewareWithoutKeys(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	p.SetDown(true)
	v, _ := newVerifier(t, p, time.Minute)
	h := (&auth.Middleware{Mode: auth.Required, Verifier: v, RetryAfter: time.Minute}).Wrap(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Header.Set("Authorization", "Bearer "+p.Token(t, k, "alice"))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "60" || !strings.Contains(rec.Body.String(), "AUTH_UNAVAILABLE") {
		t.Errorf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// A browser cannot set headers on a WebSocket upgrade, so a GET upgrade
// without a token passes even when one is required, marked so that its
// connection_init must carry one; nothing else without a token passes.
func TestUpgradeWithoutToken(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	v, _ := newVerifier(t, p, time.Minute)
	m := &auth.Middleware{Mode: auth.Required, Verifier: v}
	for _, tc := range []struct {
		name    string
		method  string
		upgrade string
		passes  bool
	}{
		{"GET upgrade", http.MethodGet, "websocket", true},
		{"upgrade in a list, any case", http.MethodGet, "h2c, WebSocket", true},
		{"POST claiming an upgrade", http.MethodPost, "websocket", false},
		{"another upgrade", http.MethodGet, "h2c", false},
		{"plain GET", http.MethodGet, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var initNeedsToken, ran bool
			h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				initNeedsToken = auth.TokenAtConnectionInit(r.Context())
				if _, ok := auth.FromContext(r.Context()); ok {
					t.Error("an identity without a token")
				}
			}))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/graphql", nil)
			if tc.upgrade != "" {
				req.Header.Set("Upgrade", tc.upgrade)
			}
			h.ServeHTTP(rec, req)
			if ran != tc.passes || initNeedsToken != tc.passes {
				t.Fatalf("ran %v, token required at connection_init %v; want both %v (status %d)", ran, initNeedsToken, tc.passes, rec.Code)
			}
			if !tc.passes && rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
		})
	}

	// Such a connection's connection_init without a token is refused; with
	// one, its identity is the connection's.
	ctx := context.Background()
	var marked context.Context
	m.Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { marked = r.Context() })).ServeHTTP(
		httptest.NewRecorder(), func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}())
	if _, _, err := m.VerifyConnectionParams(marked, map[string]any{}); !errors.Is(err, auth.ErrNoToken) {
		t.Errorf("no token at connection_init after a tokenless upgrade: %v, want ErrNoToken", err)
	}
	if _, ok, err := m.VerifyConnectionParams(ctx, map[string]any{}); ok || err != nil {
		t.Errorf("no token at connection_init after an upgrade with one: ok %v, err %v; want the upgrade's identity to stand", ok, err)
	}
	if id, ok, err := m.VerifyConnectionParams(marked, map[string]any{"token": p.Token(t, k, "alice")}); !ok || err != nil || id.Subject != "alice" {
		t.Errorf("token at connection_init: %+v %v %v", id, ok, err)
	}
}
