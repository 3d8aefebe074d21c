package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// The @defer tests: deferred fields must never be dropped. A client that
// cannot read incremental delivery gets them inline, in an answer equal to
// the same query's without @defer.

// post sends one GraphQL request (body is marshalled unless it is already
// []byte) with the given Accept header and returns the response with its
// body read.
func (e *testEnv) post(t testing.TB, accept string, body any) (*http.Response, []byte) {
	t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return e.send(t, req)
}

func (e *testEnv) send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp, got
}

// deferCase is a deferred query and the same query written without @defer.
type deferCase struct {
	name, query, plain string
	vars               map[string]any
}

var deferCases = []deferCase{
	{
		name:  "inline fragment",
		query: `{ case(id: 1) { id ... @defer { patient { fullName } } } }`,
		plain: `{ case(id: 1) { id patient { fullName } } }`,
	},
	{
		name:  "named fragment",
		query: `{ case(id: 1) { id ...P @defer } } fragment P on Case { patient { fullName } }`,
		plain: `{ case(id: 1) { id patient { fullName } } }`,
	},
	{
		name:  "inside a fragment",
		query: `{ case(id: 1) { ...C } } fragment C on Case { id ... on Case @defer { patient { fullName } } }`,
		plain: `{ case(id: 1) { id patient { fullName } } }`,
	},
	{
		name:  "nested and labelled",
		query: `{ case(id: 1) { id ... @defer(label: "patient") { patient { fullName ... @defer(label: "insurer") { insurer { name } } } } } }`,
		plain: `{ case(id: 1) { id patient { fullName insurer { name } } } }`,
	},
	{
		name:  "if false",
		query: `{ case(id: 1) { id ... @defer(if: false) { patient { fullName } } } }`,
		plain: `{ case(id: 1) { id patient { fullName } } }`,
	},
	{
		name:  "if a variable",
		query: `query($d: Boolean!) { case(id: 1) { id ... @defer(if: $d) { patient { fullName } } } }`,
		plain: `{ case(id: 1) { id patient { fullName } } }`,
		vars:  map[string]any{"d": true},
	},
	{
		name:  "in a list",
		query: `{ cases(first: 5) { nodes { id ... @defer { patient { fullName } assignee { name } } } } }`,
		plain: `{ cases(first: 5) { nodes { id patient { fullName } assignee { name } } } }`,
	},
}

// forEachDeferCase runs check on every deferCase with each Accept header,
// first with the services up, then with the patients service (the deferred
// parts' service) failing: last, since the failures open its breaker.
func forEachDeferCase(t *testing.T, e *testEnv, accepts []string, check func(t *testing.T, tc deferCase, accept string, failing bool)) {
	for _, failing := range []bool{false, true} {
		for _, accept := range accepts {
			for _, tc := range deferCases {
				name := tc.name + "/accept=" + accept
				if failing {
					name += "/patients failing"
				}
				t.Run(name, func(t *testing.T) {
					if failing {
						e.Faults.set("patients", http.StatusInternalServerError)
						defer e.Faults.set("patients", 0)
					}
					check(t, tc, accept, failing)
				})
			}
		}
	}
}

// withoutLocations is an answer with its errors' locations left out (the
// deferred query's fields sit elsewhere in its text), in a canonical form.
func withoutLocations(t testing.TB, raw []byte) string {
	t.Helper()
	var v struct {
		Errors []map[string]any `json:"errors,omitempty"`
		Data   any              `json:"data"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	for _, e := range v.Errors {
		delete(e, "locations")
	}
	return jsonString(v)
}

// TestDeferInline: without multipart/mixed in Accept, every deferred field
// arrives in the one answer, which is byte for byte the plain query's, with
// the services up or with the deferred part's service failing.
func TestDeferInline(t *testing.T) {
	e := startStacker(t, nil)
	forEachDeferCase(t, e, []string{"", "application/json", "application/graphql-response+json"}, func(t *testing.T, tc deferCase, accept string, failing bool) {
		resp, got := e.post(t, accept, map[string]any{"query": tc.query, "variables": tc.vars})
		_, want := e.post(t, accept, map[string]any{"query": tc.plain})
		if ct := resp.Header.Get("Content-Type"); ct == "" || ct[:9] == "multipart" {
			t.Errorf("Content-Type %q", ct)
		}
		if withoutLocations(t, got) != withoutLocations(t, want) {
			t.Errorf("deferred:\n%s\nplain:\n%s", got, want)
		}
		if !bytes.Contains(got, []byte(`"fullName"`)) && !bytes.Contains(got, []byte(`"path":["case`)) {
			t.Errorf("neither the deferred field nor its error: %s", got)
		}
		if failing && !bytes.Contains(got, []byte(`"UPSTREAM_UNAVAILABLE"`)) {
			t.Errorf("no error for the failing deferred part: %s", got)
		}
	})
}

// TestDeferInlineGETAndBatches: a GET, and every operation of a batch, get
// their deferred fields inline too.
func TestDeferInlineGETAndBatches(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_BATCH_MAX": "5"})
	const deferred = `{ case(id: 2) { id ... @defer { patient { fullName } } } }`
	const plain = `{ case(id: 2) { id patient { fullName } } }`
	_, want := e.post(t, "", map[string]any{"query": plain})
	if !bytes.Contains(want, []byte(`"fullName":"`)) {
		t.Fatalf("plain query: %s", want)
	}

	req, _ := http.NewRequest("GET", e.URL+"?query="+url.QueryEscape(deferred), nil)
	req.Header.Set("Accept", "application/json")
	if _, got := e.send(t, req); !bytes.Equal(got, want) {
		t.Errorf("GET:\n%s\nwant:\n%s", got, want)
	}

	_, got := e.post(t, "", []map[string]any{{"query": deferred}, {"query": plain}})
	if wantBatch := "[" + string(want) + "," + string(want) + "]"; string(got) != wantBatch {
		t.Errorf("batch:\n%s\nwant:\n%s", got, wantBatch)
	}
}

// TestDeferInMutations: gqlgen would leave a mutation's deferred fields
// null; they come inline.
func TestDeferInMutations(t *testing.T) {
	e := startStacker(t, nil)
	var got struct {
		UpdateCase struct {
			Case struct {
				ID      string
				Patient *struct{ FullName string }
			}
		}
	}
	e.mustDo(t, `mutation { updateCase(input: {id: 3, priority: HIGH}) { case { id ... @defer { patient { fullName } } } } }`, nil, &got)
	if got.UpdateCase.Case.Patient == nil || got.UpdateCase.Case.Patient.FullName == "" {
		t.Errorf("deferred field of a mutation: %+v", got)
	}
}

// TestDeferBatchesLikeAnyLevel: a deferred relation is claimed with its
// level by the planner: fifty cases with a deferred patient make one
// patients call, not fifty.
func TestDeferBatchesLikeAnyLevel(t *testing.T) {
	e := startStacker(t, nil)
	const q = `{ cases(first: 50) { nodes { id ... @defer { patient { fullName ... @defer { insurer { name } } } } } } }`
	e.Demo.ResetCounts()
	var got struct {
		Cases struct {
			Nodes []struct {
				ID      string
				Patient *struct {
					FullName string
					Insurer  *struct{ Name string }
				}
			}
		}
	}
	e.mustDo(t, q, nil, &got)
	if len(got.Cases.Nodes) != 50 {
		t.Fatalf("%d cases", len(got.Cases.Nodes))
	}
	for i, n := range got.Cases.Nodes {
		if n.Patient == nil || n.Patient.FullName == "" || n.Patient.Insurer == nil || n.Patient.Insurer.Name == "" {
			t.Fatalf("case %d: deferred fields missing: %+v", i, n)
		}
	}
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 1, "patients": 1, "insurers": 1}); diff != "" {
		t.Error(diff)
	}
}

// TestStreamRefused: gqlgen does not implement @stream, so the schema does
// not declare it and a document using it is refused, saying so, rather than
// run with the list delivered whole to a client waiting for it in parts.
func TestStreamRefused(t *testing.T) {
	e := startStacker(t, nil)
	resp, body := e.post(t, acceptApollo4, map[string]any{"query": `{ cases(first: 5) { nodes @stream(initialCount: 1) { id } } }`})
	var got struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	json.Unmarshal(body, &got)
	if resp.StatusCode != http.StatusBadRequest || got.Data != nil || len(got.Errors) != 1 ||
		got.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" || got.Errors[0].Message[:27] != "@stream is not supported: l" {
		t.Errorf("%d %s", resp.StatusCode, body)
	}

	var schema struct {
		Schema struct{ Directives []struct{ Name string } } `json:"__schema"`
	}
	e.mustDo(t, `{ __schema { directives { name } } }`, nil, &schema)
	names := map[string]bool{}
	for _, d := range schema.Schema.Directives {
		names[d.Name] = true
	}
	if !names["defer"] || names["stream"] {
		t.Errorf("directives %v: want defer and not stream", names)
	}
}
