package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzGatewayHTTP sends arbitrary documents, variables and operation names
// through a whole gateway, with its limits, over POST and GET: it must never
// panic or hang, must answer JSON with a status the GraphQL-over-HTTP
// specification allows, and must keep serving. Run:
//
//	go test -run '^$' -fuzz FuzzGatewayHTTP -fuzztime 60s .
func FuzzGatewayHTTP(f *testing.F) {
	seeds := []struct{ query, vars, op string }{
		{`{ case(id: 1) { id status } }`, `{}`, ``},
		{`query Q($n: Int = 1000) { cases(first: $n) { nodes { id } } }`, `{}`, `Q`},
		{`query($id: ID!) { case(id: $id) @skip(if: true) { id } }`, `{"id": 4.5}`, ``},
		{`query A { cases { totalCount } } query B { cases { totalCount } }`, `null`, ``},
		{`{ cases(first: 1) { nodes { __typename __typename __typename } } }`, `{}`, ``},
		{`{ cases(frist: 1) { totalCount } } fragment U on Case { id }`, `{"x": [1, {"y": null}]}`, ``},
		{`{ cases(after: "b2Zmc2V0OnYxOjkyMjMzNzIwMzY4NTQ3NzUwMDA", first: 1000) { pageInfo { hasPreviousPage } } }`, `{}`, ``},
		{`{ ...F } fragment F on Query { ...F }`, `{}`, ``},
		{`mutation { updateCase(input: {id: "1"}) { userErrors { message } } }`, `{}`, ``},
	}
	for _, s := range seeds {
		f.Add(s.query, s.vars, s.op)
	}
	e := startStacker(f, map[string]string{"STACKER_LOG_LEVEL": "error"})
	f.Fuzz(func(t *testing.T, query, vars, op string) {
		var variables any
		if json.Unmarshal([]byte(vars), &variables) != nil {
			variables = vars // not JSON: send it as a string, which must be refused
		}
		body, _ := json.Marshal(map[string]any{"query": query, "variables": variables, "operationName": op})
		for _, req := range []*http.Request{
			mustRequest(t, "POST", e.URL, bytes.NewReader(body)),
			mustRequest(t, "GET", e.URL+"?"+url.Values{"query": {query}, "variables": {vars}, "operationName": {op}}.Encode(), nil),
		} {
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.HTTP.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", req.Method, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200, 400, 405, 413, 414:
			default:
				t.Fatalf("%s: status %d: %.300s", req.Method, resp.StatusCode, raw)
			}
			if !json.Valid(raw) {
				t.Fatalf("%s: not JSON: %.300q", req.Method, raw)
			}
			if strings.Contains(string(raw), `"INTERNAL"`) {
				t.Fatalf("%s: an internal error: %.500s", req.Method, raw)
			}
		}
	})
}

func mustRequest(t *testing.T, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
