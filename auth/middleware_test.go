package auth_test

import (
	"encoding/json"
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
