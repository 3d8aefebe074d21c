package graphqlhttp

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzTransport throws arbitrary methods, headers and bodies at the handler:
// it must never panic, and must always answer with a JSON body and a status
// the specification allows. Run: go test -fuzz=FuzzTransport ./graphqlhttp
// (the corpus found so far is kept in testdata/fuzz).
func FuzzTransport(f *testing.F) {
	seeds := []struct{ method, ct, accept, body string }{
		{"POST", "application/json", "", `{"query":"{ name }"}`},
		{"POST", "application/json", "application/graphql-response+json", `{"query":"{ find(id: 1) }","variables":{"a":[1,{"b":null}]}}`},
		{"POST", "application/json", "*/*", `[{"query":"{ name }"},{"query":"mutation { name }"}]`},
		{"POST", "text/plain", "", `{"query":"{ name }"}`},
		{"GET", "", "application/json", ``},
		{"POST", "application/json; charset=utf-16", "", "\xff\xfe{"},
		{"POST", "application/json", "", `{"query":"{ name }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}`},
		{"PATCH", "application/json", "text/html", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.ct, s.accept, s.body)
	}
	h := newTestHandler(&testing.T{}, Options{MaxBodyBytes: 4096, MaxBatch: 3})
	f.Fuzz(func(t *testing.T, method, ct, accept, body string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") || len(method) > 16 {
			return // not a request net/http would hand to a handler
		}
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		req.Method = method
		// GET reads its parameters from the URL: give it the body as the query.
		req.URL.RawQuery = url.Values{"query": {body}, "variables": {ct}}.Encode()
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 405, 406, 413, 415:
		default:
			t.Fatalf("status %d for %s %q %q %q", rec.Code, method, ct, accept, body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("body is not JSON: %q", rec.Body.String())
		}
	})
}
