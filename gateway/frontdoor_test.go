package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/idempotency"
	"github.com/stacker/stacker/plan"
)

// needTool skips when a test's real client is missing on a developer's
// machine, and fails in CI, where ./test.sh installs it.
func needTool(t *testing.T, path, how string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: %s", path, how)
		}
		t.Skipf("%s is missing (%s)", path, how)
	}
}

// TestGraphQLHTTPAudit runs the graphql-http npm package's server audit, the
// checks of the GraphQL-over-HTTP specification, against a live Stacker.
// Every MUST and SHOULD must pass.
func TestGraphQLHTTPAudit(t *testing.T) {
	needTool(t, "../e2e/node_modules/graphql-http", "run ./test.sh, or npm ci in e2e/")
	e := startStacker(t, nil)
	out, err := exec.Command("node", "../e2e/audit.mjs", e.URL).Output()
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	var res struct {
		OK, Warn, Error int
		Failures        []map[string]any
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("audit output %q: %v", out, err)
	}
	t.Logf("graphql-http audit: %d passed, %d warnings, %d failures", res.OK, res.Warn, res.Error)
	if res.Warn != 0 || res.Error != 0 || res.OK == 0 {
		t.Errorf("audit: %s", out)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func post(t *testing.T, url string, body any, headers map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	return resp.StatusCode, out, resp.Header
}

func firstCode(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	c, _ := ext["code"].(string)
	return c
}

func apq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	redisURL := "redis://127.0.0.1:6379/0"
	tests := []struct {
		name  string
		env   map[string]string
		twoOf bool // register on one instance, read from a second
	}{
		{name: "memory", env: nil},
		{name: "redis shared by two instances", env: map[string]string{"STACKER_REDIS_URL": redisURL}, twoOf: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != nil && !redisUp() {
				needTool(t, "/nonexistent-redis", "start redis-server on 127.0.0.1:6379 (./test.sh does)")
			}
			a := startStacker(t, tc.env)
			b := a
			if tc.twoOf {
				b = startStacker(t, tc.env)
			}
			// A query no earlier run registered, so the cache starts cold.
			q := fmt.Sprintf("# apq test %d\n{ case(id: 1) { id } }", time.Now().UnixNano())
			h := sha(q)

			_, body, _ := post(t, b.URL, map[string]any{"extensions": apq(h)}, nil)
			if firstCode(body) != "PERSISTED_QUERY_NOT_FOUND" {
				t.Fatalf("unknown hash: %v", body)
			}
			if _, body, _ = post(t, a.URL, map[string]any{"query": q, "extensions": apq(h)}, nil); body["data"] == nil {
				t.Fatalf("register: %v", body)
			}
			_, body, _ = post(t, b.URL, map[string]any{"extensions": apq(h)}, nil)
			if data, _ := body["data"].(map[string]any); data == nil || data["case"] == nil {
				t.Fatalf("hash only, on the other instance: %v", body)
			}
			if _, body, _ = post(t, a.URL, map[string]any{"query": "{ case(id: 2) { id } }", "extensions": apq(h)}, nil); body["errors"] == nil {
				t.Errorf("a hash that does not match its query was accepted: %v", body)
			}
		})
	}
}

func redisUp() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestTrustedDocuments(t *testing.T) {
	listed := caseBoardQuery(t)
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	m := map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]any{{"id": "case-board-v1", "name": "CaseBoard", "type": "query", "body": listed}}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	prod := startStacker(t, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": manifest})
	tests := []struct {
		name     string
		body     map[string]any
		wantCode string
	}{
		{"listed, by id", map[string]any{"extensions": apq("case-board-v1")}, ""},
		{"listed, by sha256", map[string]any{"extensions": apq(sha(listed))}, ""},
		{"listed, sent in full", map[string]any{"query": listed}, ""},
		{"unlisted", map[string]any{"query": "{ case(id: 1) { id } }"}, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"unknown id", map[string]any{"extensions": apq("nope")}, "PERSISTED_QUERY_NOT_IN_LIST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, body, _ := post(t, prod.URL, tc.body, nil)
			if got := firstCode(body); got != tc.wantCode {
				t.Errorf("code = %q, want %q: %v", got, tc.wantCode, body)
			}
			if tc.wantCode == "" && body["data"] == nil {
				t.Errorf("no data: %v", body)
			}
		})
	}
	t.Run("development runs unlisted operations", func(t *testing.T) {
		dev := startStacker(t, map[string]string{"STACKER_TRUSTED_DOCUMENTS": manifest})
		if _, body, _ := post(t, dev.URL, map[string]any{"query": "{ case(id: 1) { id } }"}, nil); body["data"] == nil {
			t.Errorf("development refused an unlisted operation: %v", body)
		}
	})
	t.Run("a manifest that does not parse stops startup", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte("[1,2"), 0o600)
		err := Run(t.Context(), func(k string) string {
			return map[string]string{"STACKER_TRUSTED_DOCUMENTS": bad, "STACKER_ADDR": "127.0.0.1:0"}[k]
		}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "STACKER_TRUSTED_DOCUMENTS") {
			t.Errorf("run = %v", err)
		}
	})
}

func TestProductionHidesTheSchema(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"})
	_, body, _ := post(t, e.URL, map[string]any{"query": "{ __schema { types { name } } }"}, nil)
	if body["errors"] == nil {
		t.Errorf("introspection answered in production: %.200v", body)
	}
	_, body, _ = post(t, e.URL, map[string]any{"query": "{ cases { nodez { id } } }"}, nil)
	if strings.Contains(fmt.Sprint(body), "Did you mean") {
		t.Errorf("field suggestions in production: %v", body)
	}
	dev := startStacker(t, nil)
	if _, body, _ = post(t, dev.URL, map[string]any{"query": "{ __schema { queryType { name } } }"}, nil); body["data"] == nil {
		t.Errorf("introspection off in development: %v", body)
	}
}

func TestCORS(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_CORS_ORIGINS": "https://console.example.com"})
	preflight := func(origin, headers string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.URL, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := preflight("https://console.example.com", "content-type, apollo-require-preflight, "+plan.Header+", "+idempotency.Header); r.StatusCode != 204 ||
		r.Header.Get("Access-Control-Allow-Origin") != "https://console.example.com" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := preflight("https://evil.example", "content-type"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := preflight("https://console.example.com", "x-secret-header"); r.StatusCode != 403 {
		t.Errorf("preflight with an unlisted header: %d", r.StatusCode)
	}
	_, _, h := post(t, e.URL, map[string]any{"query": "{ case(id: 1) { id } }"}, map[string]string{"Origin": "https://console.example.com"})
	if h.Get("Access-Control-Allow-Origin") != "https://console.example.com" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers of an allowed origin's request: %v", h)
	}
	if got := h.Get("Access-Control-Expose-Headers"); got != "X-Request-ID, WWW-Authenticate, Retry-After, "+idempotency.ReplayedHeader {
		t.Errorf("exposed headers %q: a page must read the request id, why its token was refused, when to retry and that an answer is a replay", got)
	}
	_, _, h = post(t, e.URL, map[string]any{"query": "{ case(id: 1) { id } }"}, map[string]string{"Origin": "https://evil.example"})
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin got CORS headers: %v", h)
	}
}

// A refused token's 401 carries the CORS headers too, so a page on an
// allowed origin can read the challenge saying why and re-authenticate.
func TestCORSOnRefusedToken(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, map[string]string{"STACKER_CORS_ORIGINS": "https://console.example.com"}))
	status, _, h := post(t, e.URL, map[string]any{"query": "{ case(id: 1) { id } }"}, map[string]string{
		"Origin": "https://console.example.com", "Authorization": "Bearer not.a.token",
	})
	if status != http.StatusUnauthorized || h.Get("Access-Control-Allow-Origin") != "https://console.example.com" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") || h.Get("WWW-Authenticate") == "" {
		t.Errorf("401 to an allowed origin: %d %v", status, h)
	}
}

// Hostile requests are refused fast with the right code, the server keeps
// serving, and memory stays bounded.
func TestHostileRequests(t *testing.T) {
	e := startStacker(t, nil)
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: case(id: 1) { id }", i)
		}
		return b.String() + " }"
	}
	deepVars := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
		wantCode   string
	}{
		{"10,000 aliases", strings.NewReader(jsonString(map[string]any{"query": aliases(10000)})), 200, "TOO_MANY_TOKENS"},
		{"200 levels deep", strings.NewReader(jsonString(map[string]any{"query": "{ cases { nodes { " + strings.Repeat("patient { cases { ", 100) + "id" + strings.Repeat(" }", 200) + " } } }"})), 200, "QUERY_TOO_DEEP"},
		{"50 MB body", io.LimitReader(neverEnding('a'), 50<<20), 413, "REQUEST_TOO_LARGE"},
		{"deeply nested variable lists", strings.NewReader(`{"query":"{ case(id: 1) { id } }","variables":{"x":` + deepVars + `}}`), 400, "BAD_REQUEST"},
		{"malformed JSON", strings.NewReader(`{"query": "{ case(id: 1) { id } }"`), 400, "BAD_REQUEST"},
		{"invalid UTF-8", strings.NewReader("{\"query\":\"{ case(id: 1) { id \xc3\x28 } }\"}"), 400, "BAD_REQUEST"},
		{"cost", strings.NewReader(jsonString(map[string]any{"query": `{ cases(first: 1000) { nodes { appointments { doctor { clinic { name } } } documents { title } patient { cases { id } } } } }`})), 200, "QUERY_TOO_COMPLEX"},
	}
	var peak uint64
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.Demo.ResetCounts()
			resp, err := http.Post(e.URL, "application/json", tc.body)
			if err != nil {
				if tc.wantStatus == 413 {
					return // the server may close the connection while the client still sends
				}
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var body map[string]any
			json.Unmarshal(raw, &body)
			if resp.StatusCode != tc.wantStatus || firstCode(body) != tc.wantCode {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, raw, tc.wantStatus, tc.wantCode)
			}
			if n := len(e.Demo.Snapshot()); n != 0 {
				t.Errorf("a refused request reached the services: %v", e.Demo.Snapshot())
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		})
	}
	var ok caseBoard
	e.mustDo(t, caseBoardQuery(t), nil, &ok)
	if len(ok.Cases.Nodes) != 50 {
		t.Error("the server stopped serving after hostile requests")
	}
	t.Logf("peak heap in use during hostile requests: %.1f MiB", float64(peak)/(1<<20))
	if peak > 512<<20 {
		t.Errorf("heap reached %d MiB", peak>>20)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
