package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/operations"
)

// authEnv is the environment of a gateway that verifies p's tokens.
func authEnv(p *authtest.Provider, extra map[string]string) map[string]string {
	env := map[string]string{"STACKER_AUTH_ISSUER": p.Issuer, "STACKER_AUTH_AUDIENCE": authtest.Audience}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// gqlRequest sends a request to the GraphQL endpoint with the token (none
// when empty) and returns the status, the challenge and the first error's
// code.
func gqlRequest(t *testing.T, e *testEnv, method, token string, header map[string]string) (int, string, string) {
	t.Helper()
	u := e.URL
	var body io.Reader
	if method == http.MethodGet {
		u += "?query=" + url.QueryEscape("{ cases(first: 1) { totalCount } }")
	} else {
		body = strings.NewReader(`{"query":"{ cases(first: 1) { totalCount } }"}`)
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), firstCode(out)
}

// Authentication guards /graphql on every transport, the WebSocket upgrade
// included (one without a token must bring it in connection_init); the playground and the health check stay open; no token is
// logged; and the gateway keeps serving good callers after bad ones.
func TestAuthGuardsGraphQL(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	good := roleToken(t, p, k, "alice", "admin")
	expired := k.Sign(t, map[string]any{"iss": p.Issuer, "aud": authtest.Audience, "sub": "alice", "exp": 1})
	ws := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "graphql-transport-ws"}
	sse := map[string]string{"Accept": "text/event-stream"}

	tests := []struct {
		name       string
		method     string
		token      string
		header     map[string]string
		wantStatus int
		wantCode   string
	}{
		{"POST without a token", "POST", "", nil, 401, "UNAUTHENTICATED"},
		{"GET without a token", "GET", "", nil, 401, "UNAUTHENTICATED"},
		{"SSE without a token", "POST", "", sse, 401, "UNAUTHENTICATED"},
		// A browser's: it cannot set headers on an upgrade, so the token
		// is due at connection_init (TestConnectionInitToken).
		{"WebSocket upgrade without a token", "GET", "", ws, http.StatusSwitchingProtocols, ""},
		{"WebSocket upgrade with an expired token", "GET", expired, ws, 401, "UNAUTHENTICATED"},
		{"POST with an expired token", "POST", expired, nil, 401, "UNAUTHENTICATED"},
		{"POST with a forged alg none", "POST", authtest.Forge(map[string]any{"alg": "none", "kid": "k1"}, p.Claims("alice"), nil), nil, 401, "UNAUTHENTICATED"},
		{"POST with a valid token", "POST", good, nil, 200, ""},
		{"GET with a valid token", "GET", good, nil, 200, ""},
		{"WebSocket upgrade with a valid token", "GET", good, ws, http.StatusSwitchingProtocols, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, challenge, code := gqlRequest(t, e, tc.method, tc.token, tc.header)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Fatalf("status %d code %q, want %d %q", status, code, tc.wantStatus, tc.wantCode)
			}
			if status == 401 && !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", challenge)
			}
		})
	}
	for _, path := range []string{"/healthz", "/"} {
		resp, err := e.HTTP.Get(e.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d without a token", path, resp.StatusCode)
		}
	}
	logs := e.Logs.String()
	if !strings.Contains(logs, "authentication refused") {
		t.Errorf("refusals not logged:\n%s", logs)
	}
	for _, tok := range []string{good, expired, strings.Split(good, ".")[2], strings.Split(expired, ".")[2]} {
		if strings.Contains(logs, tok) {
			t.Fatal("a token is in the logs")
		}
	}
}

// Production refuses to start without an identity provider unless
// STACKER_AUTH=off says so, and then warns.
func TestProductionRequiresAuthConfig(t *testing.T) {
	var stdout, stderr testsync.Buffer
	env := map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"}
	err := Run(context.Background(), func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "STACKER_AUTH_ISSUER") {
		t.Fatalf("Run = %v, want an error naming STACKER_AUTH_ISSUER", err)
	}
	e := startStacker(t, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off", "STACKER_AUTH": "off"})
	if logs := e.Logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "STACKER_AUTH=off") {
		t.Errorf("no warning at startup:\n%s", logs)
	}
}

// call is one upstream request as a service saw it.
type call struct {
	service, requestID string
	traceparent        string
	authorization      []string
	userID             []string
}

// recordCalls puts a recording proxy in front of each demo service of a
// fresh set and returns the environment pointing the gateway at them.
func recordCalls(t testing.TB, base *testEnv) (map[string]string, func() []call) {
	t.Helper()
	var mu sync.Mutex
	var calls []call
	env := map[string]string{}
	for _, s := range config.Services() {
		target, _ := url.Parse(base.URLs[s])
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls = append(calls, call{service: s, requestID: r.Header.Get("X-Request-Id"), traceparent: r.Header.Get("Traceparent"),
				authorization: r.Header.Values("Authorization"), userID: r.Header.Values("X-User-Id")})
			mu.Unlock()
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		env[config.EnvName(s)] = srv.URL
	}
	return env, func() []call {
		mu.Lock()
		defer mu.Unlock()
		return append([]call(nil), calls...)
	}
}

// Two callers asking for the same entities at the same time: every
// upstream call carries exactly one caller's identity, always that of the
// request it was made for (loaders are per operation, so batches never mix
// callers). The patients service takes claims headers instead of tokens.
func TestCallersAreNotMixed(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	env["STACKER_PATIENTS_IDENTITY"] = "claims"
	e := startStacker(t, authEnv(p, env))
	tokens := map[string]string{"alice": roleToken(t, p, k, "alice", "admin"), "bob": roleToken(t, p, k, "bob", "admin")}

	var wg sync.WaitGroup
	for round := range 5 {
		for who, tok := range tokens {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]any{"query": operations.CaseBoard, "variables": map[string]any{"first": 20}})
				req, _ := http.NewRequest("POST", e.URL, strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Request-ID", fmt.Sprintf("%s-%d", who, round))
				resp, err := e.HTTP.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || strings.Contains(string(raw), `"errors"`) {
					t.Errorf("%s: %d %.300s", who, resp.StatusCode, raw)
				}
			})
		}
	}
	wg.Wait()

	seen := map[string]int{}
	for _, c := range calls() {
		who, _, _ := strings.Cut(c.requestID, "-")
		if tokens[who] == "" {
			t.Fatalf("%s call without a caller's request id: %+v", c.service, c)
		}
		seen[who]++
		if c.service == "patients" {
			if len(c.authorization) != 0 || len(c.userID) != 1 || c.userID[0] != who {
				t.Errorf("patients call of %s: Authorization %d values, X-User-Id %v", who, len(c.authorization), c.userID)
			}
			continue
		}
		if len(c.authorization) != 1 || c.authorization[0] != "Bearer "+tokens[who] {
			t.Errorf("%s call of %s does not carry exactly %s's token", c.service, c.requestID, who)
		}
	}
	if seen["alice"] == 0 || seen["bob"] == 0 {
		t.Errorf("calls per caller: %v", seen)
	}
}
