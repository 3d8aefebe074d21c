package graphqlhttp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
)

func newTestHandler(t *testing.T, o Options) http.Handler {
	t.Helper()
	srv := testserver.New()
	srv.AddTransport(New(o))
	return srv
}

type exchange struct {
	status      int
	contentType string
	allow       string
	body        map[string]any
	raw         string
}

func send(t *testing.T, h http.Handler, method, target, contentType, body string, headers map[string]string) exchange {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	ex := exchange{status: rec.Code, contentType: rec.Header().Get("Content-Type"), allow: rec.Header().Get("Allow"), raw: string(raw)}
	if err := json.Unmarshal(raw, &ex.body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, target, raw)
	}
	return ex
}

func (ex exchange) code() string {
	errs, _ := ex.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	c, _ := ext["code"].(string)
	return c
}

const (
	grj   = "application/graphql-response+json"
	json_ = "application/json"
)

func TestTransport(t *testing.T) {
	h := newTestHandler(t, Options{MaxBodyBytes: 1024})
	get := func(q string) string { return "/graphql?query=" + url.QueryEscape(q) }
	tests := []struct {
		name, method, target, ct, body string
		headers                        map[string]string
		wantStatus                     int
		wantCT                         string
		wantCode                       string
		wantData                       bool
		wantAllow                      string
	}{
		{name: "post json", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, wantStatus: 200, wantCT: json_, wantData: true},
		{name: "post graphql-response", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, headers: map[string]string{"Accept": grj}, wantStatus: 200, wantCT: grj, wantData: true},
		{name: "accept both prefers graphql-response", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, headers: map[string]string{"Accept": grj + ", " + json_}, wantStatus: 200, wantCT: grj, wantData: true},
		{name: "accept wildcard", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, headers: map[string]string{"Accept": "*/*"}, wantStatus: 200, wantCT: json_, wantData: true},
		{name: "accept q prefers json", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, headers: map[string]string{"Accept": grj + ";q=0.5, " + json_}, wantStatus: 200, wantCT: json_, wantData: true},
		{name: "unacceptable", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, headers: map[string]string{"Accept": "text/html"}, wantStatus: 406, wantCT: json_, wantCode: CodeNotAcceptable},
		{name: "charset utf-8", method: "POST", target: "/graphql", ct: json_ + "; charset=utf-8", body: `{"query":"{ name }"}`, wantStatus: 200, wantCT: json_, wantData: true},
		{name: "other charset", method: "POST", target: "/graphql", ct: json_ + "; charset=latin1", body: `{"query":"{ name }"}`, wantStatus: 415, wantCode: CodeUnsupportedMedia},
		{name: "no content type", method: "POST", target: "/graphql", body: `{"query":"{ name }"}`, wantStatus: 415, wantCode: CodeUnsupportedMedia},
		{name: "text/plain is CSRF", method: "POST", target: "/graphql", ct: "text/plain", body: `{"query":"{ name }"}`, wantStatus: 400, wantCode: CodeCSRF},
		{name: "form is CSRF", method: "POST", target: "/graphql", ct: "application/x-www-form-urlencoded", body: `query=%7Bname%7D`, wantStatus: 400, wantCode: CodeCSRF},
		{name: "multipart is CSRF", method: "POST", target: "/graphql", ct: "multipart/form-data; boundary=x", body: `--x--`, wantStatus: 400, wantCode: CodeCSRF},
		{name: "text/plain with preflight header is just unsupported", method: "POST", target: "/graphql", ct: "text/plain", body: `{}`, headers: map[string]string{"Apollo-Require-Preflight": "true"}, wantStatus: 415, wantCode: CodeUnsupportedMedia},
		{name: "malformed json", method: "POST", target: "/graphql", ct: json_, body: `{"query":`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "trailing data", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }"} {}`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "empty body", method: "POST", target: "/graphql", ct: json_, body: ``, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "missing query", method: "POST", target: "/graphql", ct: json_, body: `{"variables":{}}`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "query not a string", method: "POST", target: "/graphql", ct: json_, body: `{"query":7}`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "variables not an object", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }","variables":[1]}`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "extensions not an object", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }","extensions":"x"}`, wantStatus: 400, wantCode: CodeBadRequest},
		{name: "invalid utf-8", method: "POST", target: "/graphql", ct: json_, body: "{\"query\":\"{ name \xff }\"}", wantStatus: 400, wantCode: CodeBadRequest},
		{name: "too large", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ name }", "x":"` + strings.Repeat("a", 2000) + `"}`, wantStatus: 413, wantCode: CodeRequestTooLarge},
		{name: "parse error json is 200", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{"}`, wantStatus: 200, wantCode: "GRAPHQL_PARSE_FAILED"},
		{name: "parse error graphql-response is 400 without data", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{"}`, headers: map[string]string{"Accept": grj}, wantStatus: 400, wantCode: "GRAPHQL_PARSE_FAILED"},
		{name: "validation error graphql-response is 400", method: "POST", target: "/graphql", ct: json_, body: `{"query":"{ nope }"}`, headers: map[string]string{"Accept": grj}, wantStatus: 400, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "variable coercion graphql-response is 400", method: "POST", target: "/graphql", ct: json_, body: `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":"x"}}`, headers: map[string]string{"Accept": grj}, wantStatus: 400, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "get query", method: "GET", target: get("{ name }"), wantStatus: 200, wantCT: json_, wantData: true},
		{name: "get with variables", method: "GET", target: get("query($id: Int!) { find(id: $id) }") + "&variables=" + url.QueryEscape(`{"id":1}`), wantStatus: 200, wantData: true},
		{name: "get bad variables", method: "GET", target: get("{ name }") + "&variables=nope", wantStatus: 400, wantCode: CodeBadRequest},
		{name: "get without query", method: "GET", target: "/graphql", wantStatus: 400, wantCode: CodeBadRequest},
		{name: "get mutation is 405", method: "GET", target: get("mutation { name }"), wantStatus: 405, wantAllow: "POST", wantCode: CodeMethodNotAllowed},
		{name: "put is 405", method: "PUT", target: "/graphql", ct: json_, body: `{"query":"{ name }"}`, wantStatus: 405, wantAllow: "GET, POST", wantCode: CodeMethodNotAllowed},
		{name: "batch off", method: "POST", target: "/graphql", ct: json_, body: `[{"query":"{ name }"}]`, wantStatus: 400, wantCode: CodeBatchingDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := send(t, h, tc.method, tc.target, tc.ct, tc.body, tc.headers)
			if ex.status != tc.wantStatus {
				t.Errorf("status = %d, want %d (%s)", ex.status, tc.wantStatus, ex.raw)
			}
			if tc.wantCT != "" && !strings.HasPrefix(ex.contentType, tc.wantCT) {
				t.Errorf("content type = %q, want %q", ex.contentType, tc.wantCT)
			}
			if !strings.Contains(ex.contentType, "charset=utf-8") {
				t.Errorf("content type %q lacks charset=utf-8", ex.contentType)
			}
			if ex.code() != tc.wantCode {
				t.Errorf("code = %q, want %q (%s)", ex.code(), tc.wantCode, ex.raw)
			}
			_, hasData := ex.body["data"]
			if tc.wantData && ex.body["data"] == nil || !tc.wantData && tc.wantStatus >= 400 && hasData {
				t.Errorf("data = %v (present %v), want data %v", ex.body["data"], hasData, tc.wantData)
			}
			if ex.allow != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", ex.allow, tc.wantAllow)
			}
			if strings.Contains(ex.raw, strings.Repeat("a", 100)) {
				t.Error("the response echoes the request body")
			}
		})
	}
}

func TestBatching(t *testing.T) {
	h := newTestHandler(t, Options{MaxBatch: 2})
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader(`[{"query":"{ name }"},{"query":"{ nope }"}]`))
	req.Header.Set("Content-Type", json_)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var got []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || len(got) != 2 {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if got[0]["data"] == nil || got[1]["errors"] == nil {
		t.Errorf("batch answers = %v", got)
	}
	ex := send(t, h, "POST", "/graphql", json_, `[{"query":"{ name }"},{"query":"{ name }"},{"query":"{ name }"}]`, nil)
	if ex.status != 400 || ex.code() != CodeBatchTooLarge {
		t.Errorf("oversized batch: %d %s", ex.status, ex.raw)
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept []string
		want   string
		ok     bool
	}{
		{nil, json_, true},
		{[]string{"application/json"}, json_, true},
		{[]string{"application/graphql-response+json"}, grj, true},
		{[]string{"application/*"}, json_, true},
		{[]string{"text/html", "application/json;q=0.1"}, json_, true},
		{[]string{"text/html"}, "", false},
		{[]string{"application/json;q=0"}, "", false},
		{[]string{"garbage;;"}, "", false},
	}
	for _, tc := range tests {
		got, ok := negotiate(tc.accept)
		if got != tc.want || ok != tc.ok {
			t.Errorf("negotiate(%q) = %q, %v; want %q, %v", tc.accept, got, ok, tc.want, tc.ok)
		}
	}
}
