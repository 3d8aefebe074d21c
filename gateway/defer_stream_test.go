package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/demo"
)

// The Accept headers of Apollo Client 3, and of Apollo Client 4 with its
// Defer20220824Handler (its default accept after the handler's range).
const (
	acceptApollo3 = "multipart/mixed;deferSpec=20220824, application/json"
	acceptApollo4 = "multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9"
)

// payload is one payload of an incrementally delivered answer: the initial
// one, or a later one in the deferSpec=20220824 form (incremental entries),
// or, over Server-Sent Events, in gqlgen's form (one fragment's data with
// its path at the top).
type payload struct {
	Data        json.RawMessage `json:"data"`
	Path        []any           `json:"path"`
	Label       string          `json:"label"`
	Errors      []gqlError      `json:"errors"`
	HasNext     *bool           `json:"hasNext"`
	Incremental []payload       `json:"incremental"`
}

// readMultipart reads a multipart/mixed answer part by part.
func readMultipart(t testing.TB, resp *http.Response, body []byte) []payload {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["deferspec"] != "20220824" {
		t.Fatalf("Content-Type %q (%v), want multipart/mixed with deferSpec=20220824; body %s", resp.Header.Get("Content-Type"), err, body)
	}
	if !bytes.HasSuffix(body, []byte("\r\n-----\r\n")) {
		t.Errorf("the body does not end with the closing boundary: %q", body)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []payload
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("part %d: %v; body %q", len(out), err, body)
		}
		if ct := part.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("part %d: Content-Type %q", len(out), ct)
		}
		var p payload
		if err := json.NewDecoder(part).Decode(&p); err != nil {
			t.Fatalf("part %d: %v", len(out), err)
		}
		out = append(out, p)
	}
}

// checkSequence checks hasNext: true on every payload but the last.
func checkSequence(t testing.TB, ps []payload) {
	t.Helper()
	if len(ps) < 2 {
		t.Fatalf("%d payloads, want the initial one and at least one more", len(ps))
	}
	for i, p := range ps {
		if want := i < len(ps)-1; p.HasNext == nil || *p.HasNext != want {
			t.Errorf("payload %d: hasNext %v, want %v", i, p.HasNext, want)
		}
	}
}

// assemble is merge's answer in withoutLocations' form, errors in path
// order (each payload sorts its own).
func assemble(t testing.TB, ps []payload) string {
	t.Helper()
	data, errs := merge(t, ps)
	slices.SortStableFunc(errs, func(a, b gqlError) int { return strings.Compare(a.pathString(), b.pathString()) })
	for i := range errs {
		errs[i].Locations = nil
	}
	merged, _ := json.Marshal(struct {
		Errors []gqlError `json:"errors,omitempty"`
		Data   any        `json:"data"`
	}{errs, data})
	return withoutLocations(t, merged)
}

// merge merges the later payloads into the initial data at their paths, as
// a client does, and collects every payload's errors.
func merge(t testing.TB, ps []payload) (data any, errs []gqlError) {
	t.Helper()
	if err := json.Unmarshal(ps[0].Data, &data); err != nil {
		t.Fatalf("initial data %s: %v", ps[0].Data, err)
	}
	errs = ps[0].Errors
	apply := func(p payload) {
		if p.Path == nil {
			t.Errorf("a later payload has no path: %+v", p)
			return
		}
		var patch any
		json.Unmarshal(p.Data, &patch)
		at := data
		for _, k := range p.Path {
			switch k := k.(type) {
			case string:
				at = at.(map[string]any)[k]
			case float64:
				at = at.([]any)[int(k)]
			}
		}
		obj, ok := at.(map[string]any)
		if !ok {
			t.Errorf("nothing to merge into at %v", p.Path)
			return
		}
		for k, v := range patch.(map[string]any) {
			obj[k] = v
		}
		errs = append(errs, p.Errors...)
	}
	for _, p := range ps[1:] {
		for _, inc := range p.Incremental {
			apply(inc)
		}
		if p.Incremental == nil && p.Path != nil {
			apply(p) // gqlgen's form, over Server-Sent Events
		}
	}
	return data, errs
}

// TestDeferMultipart: a client that reads multipart/mixed gets the initial
// payload, then each deferred fragment at its path with its label and
// errors; put together they are the plain query's answer.
func TestDeferMultipart(t *testing.T) {
	e := startStacker(t, nil)
	t.Run("no defer: one JSON answer", func(t *testing.T) {
		resp, body := e.post(t, acceptApollo4, map[string]any{"query": `{ case(id: 1) { id } }`})
		if ct := resp.Header.Get("Content-Type"); ct != "application/graphql-response+json; charset=utf-8" {
			t.Errorf("Content-Type %q, body %s", ct, body)
		}
	})
	t.Run("a later spec: inline", func(t *testing.T) {
		resp, body := e.post(t, "multipart/mixed;incrementalSpec=v0.2, application/json;q=0.9", map[string]any{"query": deferCases[0].query})
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || !bytes.Contains(body, []byte(`"fullName"`)) {
			t.Errorf("Content-Type %q, body %s", ct, body)
		}
	})
	t.Run("request errors: JSON with their status", func(t *testing.T) {
		resp, body := e.post(t, acceptApollo4, map[string]any{"query": `{ case(id: 1) { nope ... @defer { id } } }`})
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("GRAPHQL_VALIDATION_FAILED")) {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	labels := map[string][]string{"nested and labelled": {"insurer", "patient"}}
	forEachDeferCase(t, e, []string{acceptApollo3, acceptApollo4, "multipart/mixed"}, func(t *testing.T, tc deferCase, accept string, failing bool) {
		resp, body := e.post(t, accept, map[string]any{"query": tc.query, "variables": tc.vars})
		_, plain := e.post(t, "", map[string]any{"query": tc.plain})
		if tc.name == "if false" {
			// Nothing is deferred: one JSON answer.
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/") {
				t.Fatalf("Content-Type %q", ct)
			}
			if withoutLocations(t, body) != withoutLocations(t, plain) {
				t.Errorf("got:\n%s\nplain:\n%s", body, plain)
			}
			return
		}
		ps := readMultipart(t, resp, body)
		checkSequence(t, ps)
		for i, p := range ps[1:] {
			if p.Data != nil || len(p.Incremental) == 0 {
				t.Errorf("payload %d is not incremental", i+1)
			}
		}
		if got, want := assemble(t, ps), withoutLocations(t, plain); got != want {
			t.Errorf("assembled:\n%s\nplain:\n%s\nbody:\n%s", got, want, body)
		}
		var got []string
		for _, p := range ps[1:] {
			for _, inc := range p.Incremental {
				if inc.Label != "" {
					got = append(got, inc.Label)
				}
			}
		}
		slices.Sort(got)
		want := labels[tc.name]
		if failing && want != nil {
			want = []string{"patient"} // no patient, so nothing to defer below it
		}
		if !slices.Equal(got, want) {
			t.Errorf("labels %v, want %v", got, want)
		}
		if failing {
			// The failure is in the deferred payload, at its path.
			if len(ps[0].Errors) != 0 || !strings.Contains(string(body), `"path":["case","patient"]`) && !strings.Contains(string(body), `"path":["cases","nodes",0,"patient"]`) {
				t.Errorf("errors: %s", body)
			}
		}
	})
}

// TestDeferMultipartDeadline: a deferred part slower than the operation's
// deadline ends in a payload with a timeout error at its path, and the
// answer ends; it never waits for a payload that was lost.
func TestDeferMultipartDeadline(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_OPERATION_TIMEOUT": "300ms", "STACKER_UPSTREAM_RETRIES": "0"})
	e.Inject.Set("patients", demo.Faults{Latency: 3 * time.Second})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, body := e.post(t, acceptApollo4, map[string]any{"query": `{ cases(first: 3) { nodes { id ... @defer { patient { fullName } } } } }`})
			ps := readMultipart(t, resp, body)
			checkSequence(t, ps)
			if !bytes.Contains(body, []byte(`"UPSTREAM_TIMEOUT"`)) || len(ps[0].Errors) != 0 {
				t.Errorf("want the timeouts in the deferred payloads: %s", body)
			}
		})
	}
	wg.Wait()
}

// TestDeferServerSentEvents: over GraphQL over Server-Sent Events (gqlgen's
// transport) each payload is a next event, the later ones in gqlgen's form
// (the fragment's data, path and label at the top), then complete.
func TestDeferServerSentEvents(t *testing.T) {
	e := startStacker(t, nil)
	tc := deferCases[3] // nested and labelled
	raw, _ := json.Marshal(map[string]any{"query": tc.query})
	req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, body := e.send(t, req)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var ps []payload
	var events []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var p payload
			if err := json.Unmarshal([]byte(data), &p); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			ps = append(ps, p)
		}
	}
	if want := []string{"next", "next", "next", "complete"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v:\n%s", events, want, body)
	}
	checkSequence(t, ps)
	_, plain := e.post(t, "", map[string]any{"query": tc.plain})
	if got, want := assemble(t, ps), withoutLocations(t, plain); got != want {
		t.Errorf("assembled:\n%s\nplain:\n%s", got, want)
	}
}

// TestDeferAuthorization: a deferred field the caller may not see is null
// with UNAUTHORIZED_FIELD_OR_TYPE at its path, in the deferred payload, and
// its service is never called; inline the same.
func TestDeferAuthorization(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	token := scopedToken(t, p, k, "alice", "cases:read", "patients:read")
	const q = `{ case(id: "1") { id ... @defer(label: "more") { documents { id } patient { fullName } } } }`
	for _, accept := range []string{acceptApollo4, "application/json"} {
		t.Run(accept, func(t *testing.T) {
			e.Demo.ResetCounts()
			raw, _ := json.Marshal(map[string]any{"query": q})
			req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", accept)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, body := e.send(t, req)
			var data any
			var errs []gqlError
			if accept == acceptApollo4 {
				ps := readMultipart(t, resp, body)
				checkSequence(t, ps)
				if len(ps[0].Errors) != 0 || len(ps) != 2 || len(ps[1].Incremental) != 1 || len(ps[1].Incremental[0].Errors) != 1 {
					t.Fatalf("want the error in the deferred payload:\n%s", body)
				}
				data, errs = merge(t, ps)
			} else {
				var r struct {
					Data   any
					Errors []gqlError
				}
				json.Unmarshal(body, &r)
				data, errs = r.Data, r.Errors
			}
			checkErrors(t, errs, []string{"case.documents"})
			if got := jsonString(data); !strings.Contains(got, `"documents":null`) || !strings.Contains(got, `"fullName":"`) {
				t.Errorf("data %s", got)
			}
			if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 1, "patients": 1}); diff != "" {
				t.Errorf("want patients and no documents: %s", diff)
			}
		})
	}
}

// TestDeferAudit: the audit records of a deferred query, one per payload
// that showed personal data, together name exactly the @pii fields the
// payloads showed; inline, one record names them all.
func TestDeferAudit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e := startStacker(t, map[string]string{"STACKER_AUDIT": "file:" + path})
	for _, accept := range []string{acceptApollo4, "application/json"} {
		op := "AuditDeferInline"
		if accept == acceptApollo4 {
			op = "AuditDeferStream"
		}
		t.Run(op, func(t *testing.T) {
			q := "query " + op + ` { cases(first: 10) { nodes { id ... @defer { patient { id fullName ... @defer { email city } } } documents { id ... @defer { title } } } } }`
			resp, body := e.post(t, accept, map[string]any{"query": q})
			var data json.RawMessage
			if accept == acceptApollo4 {
				ps := readMultipart(t, resp, body)
				checkSequence(t, ps)
				merged, _ := merge(t, ps)
				data, _ = json.Marshal(merged)
			} else {
				var r struct{ Data json.RawMessage }
				json.Unmarshal(body, &r)
				data = r.Data
			}
			want, _ := wantAudited(t, data)
			if len(want["Patient"]) == 0 || len(want["Document"]) == 0 {
				t.Fatalf("no personal data shown: %s", data)
			}
			// The records of the later payloads may still be on their way.
			deadline := time.Now().Add(10 * time.Second)
			for {
				rs := waitRecord(t, path, op)
				got := map[string]map[string][]string{}
				for _, r := range rs {
					for typ, ids := range r.Fields {
						if got[typ] == nil {
							got[typ] = map[string][]string{}
						}
						for id, fs := range ids {
							for _, f := range fs {
								if !contains(got[typ][id], f) {
									got[typ][id] = append(got[typ][id], f)
								}
							}
							got[typ][id] = sortedCopy(got[typ][id])
						}
					}
				}
				if reflect.DeepEqual(got, want) {
					if accept != acceptApollo4 && len(rs) != 1 {
						t.Errorf("%d records for one answer", len(rs))
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("audited\n%v\nthe payloads showed\n%v", got, want)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestApolloClientDefer: the real Apollo Client 4, with its
// Defer20220824Handler, asks for multipart/mixed, reads the streamed
// payloads and ends with the deferred fields filled in, nested ones too.
func TestApolloClientDefer(t *testing.T) {
	needTool(t, "../e2e/node_modules/@apollo/client", "run ./test.sh, or npm ci in e2e/")
	e := startStacker(t, nil)
	out, err := exec.Command("node", "../e2e/defer.mjs", e.URL, "7").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("defer.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var got struct {
		ContentTypes []string
		States       []string
		Data         struct {
			Case struct {
				ID, Status string
				Patient    *struct {
					ID, FullName string
					Insurer      *struct{ ID, Name string }
				}
			}
		}
		Error *string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	t.Logf("Apollo Client: %s", out)
	c, _ := e.Store.Case(7)
	p, _ := e.Store.Patient(c.PatientID)
	ins, _ := e.Store.Insurer(p.InsurerID)
	if len(got.ContentTypes) != 1 || !strings.HasPrefix(got.ContentTypes[0], "multipart/mixed") {
		t.Errorf("answered with %v, want one multipart/mixed answer", got.ContentTypes)
	}
	if got.Error != nil || got.Data.Case.ID != "7" {
		t.Fatalf("error %v, data %+v", got.Error, got.Data)
	}
	if pt := got.Data.Case.Patient; pt == nil || pt.FullName != p.FirstName+" "+p.LastName || pt.Insurer == nil || pt.Insurer.Name != ins.Name {
		t.Errorf("deferred fields: %s", out)
	}
	if len(got.States) == 0 || got.States[len(got.States)-1] != "complete" {
		t.Errorf("states %v", got.States)
	}
}
