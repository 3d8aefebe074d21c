package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stacker/stacker/config"
)

// TestUpstreamErrorsDoNotLeak: whatever an upstream answers, the message is
// Stacker's own, the code says whose fault it is, and the detail goes to the
// log with the request id.
func TestUpstreamErrorsDoNotLeak(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_UPSTREAM_RETRIES": "0"})
	// What must never appear in a message: the upstreams' addresses, paths
	// and bodies (the harness's injected faults answer with "injected
	// failure at http://internal.example:3000/secret").
	leaks := []string{"http", "127.0.0.1", "internal.example", "secret", "/doctors", "/patients", "/cases",
		"GET", "PATCH", "specialty=", "limit=", "bad request", "unknown specialty", "param is missing"}
	tests := []struct {
		name     string
		query    string
		fault    string // service answering 400 to everything, if any
		wantCode string
		wantSvc  string
		wantMsg  string // part of the message
		noCall   string // service that must not be called
	}{
		{name: "unknown specialty", query: `{ doctorsBySpecialty(specialty: "x") { id } }`,
			wantCode: "BAD_USER_INPUT", wantSvc: "doctors", wantMsg: `the doctors service refused specialty "x"`},
		{name: "blank search", query: `{ searchPatients(query: " ") { id } }`,
			wantCode: "BAD_USER_INPUT", wantMsg: "query must not be empty or blank", noCall: "patients"},
		{name: "search refused", query: `{ searchPatients(query: "zz") { id } }`, fault: "patients",
			wantCode: "BAD_USER_INPUT", wantSvc: "patients", wantMsg: `the patients service refused query "zz"`},
		{name: "empty update", query: `mutation { updateCase(input: {id: "1"}) { case { id } userErrors { message } } }`,
			wantCode: "BAD_USER_INPUT", wantMsg: "at least one of status, priority, assigneeId", noCall: "cases"},
		{name: "update refused for no reason of the client's", query: `mutation { updateCase(input: {id: "1", status: CLOSED}) { case { id } } }`, fault: "cases",
			wantCode: "INTERNAL", wantSvc: "cases", wantMsg: "the cases service refused the request"},
		{name: "lookup refused", query: `{ doctor(id: 1) { id } }`, fault: "doctors",
			wantCode: "INTERNAL", wantSvc: "doctors", wantMsg: "the doctors service refused the request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != "" {
				e.Faults.set(tc.fault, http.StatusBadRequest)
				defer e.Faults.set(tc.fault, 0)
			}
			e.Demo.ResetCounts()
			errs := e.do(t, tc.query, nil, nil)
			if len(errs) != 1 {
				t.Fatalf("errors = %s, want one", jsonString(errs))
			}
			ge := errs[0]
			if ge.Extensions["code"] != tc.wantCode || (tc.wantSvc != "" && ge.Extensions["service"] != tc.wantSvc) {
				t.Errorf("extensions = %v, want code %s service %q", ge.Extensions, tc.wantCode, tc.wantSvc)
			}
			if !strings.Contains(ge.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", ge.Message, tc.wantMsg)
			}
			for _, leak := range leaks {
				if strings.Contains(ge.Message, leak) {
					t.Errorf("message %q leaks %q", ge.Message, leak)
				}
			}
			if tc.noCall != "" && e.Demo.Requests(tc.noCall) != 0 {
				t.Errorf("%s was called %d times; the gateway should refuse the input itself", tc.noCall, e.Demo.Requests(tc.noCall))
			}
		})
	}
	// The detail the client does not see is in the log, for operators.
	if logs := e.Logs.String(); !strings.Contains(logs, "unknown specialty") || !strings.Contains(logs, "request_id=") {
		t.Errorf("the log lacks the upstream's detail or the request id:\n%s", logs)
	}
}

// TestArgumentErrorsEndAtTheField: an argument gqlgen cannot coerce is an
// error of the field (the spec's path ends at the response field, alias
// included) located at the argument, or at the part of an input object at
// fault.
func TestArgumentErrorsEndAtTheField(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		wantPath  string
		line, col int
		wantMsg   string
		wantData  string // part of the data that must still arrive
	}{
		{name: "literal", query: `{ case(id: "abc") { status } }`,
			wantPath: "case", line: 1, col: 8, wantMsg: `invalid value for id: "abc" is not a whole number`},
		{name: "alias", query: `{ x: case(id: "abc") { status } }`,
			wantPath: "x", line: 1, col: 11, wantMsg: `invalid value for id: "abc"`},
		{name: "beside a good field", query: "{\n  ok: case(id: 1) { id }\n  bad: case(id: \"1x\") { id }\n}",
			wantPath: "bad", line: 3, col: 13, wantMsg: `invalid value for id: "1x"`, wantData: `"ok":{"id":"1"}`},
		{name: "out of range", query: `{ patient(id: "99999999999999999999999") { id } }`,
			wantPath: "patient", line: 1, col: 11, wantMsg: `"99999999999999999999999" is out of range`},
		{name: "variable", query: `query($id: ID!) { case(id: $id) { status } }`, vars: map[string]any{"id": "abc"},
			wantPath: "case", line: 1, col: 24, wantMsg: `invalid value for id: "abc"`},
		{name: "field of an input object", query: `mutation { updateCase(input: {id: "abc", status: CLOSED}) { case { id } } }`,
			wantPath: "updateCase", line: 1, col: 31, wantMsg: `invalid value for input.id: "abc"`},
		{name: "field of an input object in a variable", query: `mutation($in: UpdateCaseInput!) { updateCase(input: $in) { case { id } } }`,
			vars:     map[string]any{"in": map[string]any{"id": "abc", "status": "CLOSED"}},
			wantPath: "updateCase", line: 1, col: 46, wantMsg: `invalid value for input.id: "abc"`},
		{name: "DateTime", query: `mutation { scheduleAppointment(input: {caseId: 1, doctorId: 1, startsAt: "soon"}) { userErrors { message } } }`,
			wantPath: "scheduleAppointment", line: 1, col: 64, wantMsg: `invalid value for input.startsAt: "soon" is not a valid DateTime`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var data json.RawMessage
			errs := e.do(t, tc.query, tc.vars, &data)
			if len(errs) != 1 {
				t.Fatalf("errors = %s, want one", jsonString(errs))
			}
			ge := errs[0]
			if ge.pathString() != tc.wantPath || ge.Extensions["code"] != "BAD_USER_INPUT" {
				t.Errorf("path %v code %v, want [%s] BAD_USER_INPUT", ge.Path, ge.Extensions["code"], tc.wantPath)
			}
			if len(ge.Locations) != 1 || ge.Locations[0].Line != tc.line || ge.Locations[0].Column != tc.col {
				t.Errorf("locations = %+v, want %d:%d", ge.Locations, tc.line, tc.col)
			}
			if !strings.Contains(ge.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", ge.Message, tc.wantMsg)
			}
			if !strings.Contains(string(data), tc.wantData) {
				t.Errorf("data = %s, want it to contain %s", data, tc.wantData)
			}
		})
	}
}

// TestEchoedValuesAreCapped: a huge argument comes back clipped in the
// message and in the log line, not whole.
func TestEchoedValuesAreCapped(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_UPSTREAM_RETRIES": "0"})
	huge := func(c string) string { return strings.Repeat(c, 900_000) }
	const invalid = "GRAPHQL_VALIDATION_FAILED"
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		wantCode string
	}{
		{"id out of range", `query($id: ID!) { case(id: $id) { id } }`, map[string]any{"id": huge("9")}, "BAD_USER_INPUT"},
		{"id not a number", `query($id: ID!) { case(id: $id) { id } }`, map[string]any{"id": huge("x")}, "BAD_USER_INPUT"},
		{"cursor", `query($a: String) { cases(after: $a) { totalCount } }`, map[string]any{"a": huge("A")}, "BAD_USER_INPUT"},
		{"specialty", `query($s: String!) { doctorsBySpecialty(specialty: $s) { id } }`, map[string]any{"s": huge("s")}, "BAD_USER_INPUT"},
		{"enum in a variable", `query($s: [CaseStatus!]) { cases(status: $s) { totalCount } }`, map[string]any{"s": []string{huge("N")}}, invalid},
		{"enum literal", `{ cases(status: [` + huge("N") + `]) { totalCount } }`, nil, invalid},
		{"field name", `{ cases { ` + huge("f") + ` } }`, nil, invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.Logs.String())
			errs := e.do(t, tc.query, tc.vars, nil)
			if len(errs) != 1 || errs[0].Extensions["code"] != tc.wantCode {
				t.Fatalf("errors = %.300s, want one %s", jsonString(errs), tc.wantCode)
			}
			if msg := errs[0].Message; len(msg) > 300 || !strings.Contains(msg, "…") {
				t.Errorf("message is %d bytes (%.100q...), want the value clipped with an ellipsis", len(msg), msg)
			}
			for _, line := range strings.Split(e.Logs.String()[before:], "\n") {
				if len(line) > 4096 {
					t.Errorf("log line of %d bytes: %.200q...", len(line), line)
				}
			}
		})
	}
}

// TestCursorsOutOfRange: a cursor no list could have produced is the
// client's mistake, refused before any upstream call; a cursor past the end
// of a list that shrank is an empty page; hasPreviousPage is true only when
// earlier items exist.
func TestCursorsOutOfRange(t *testing.T) {
	e := startStacker(t, nil)
	cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	_, closed := e.Store.ListCases([]string{"closed"}, nil, 1, 1)
	type page struct {
		Cases struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       *string
			}
			Edges []struct{ Cursor string }
		}
	}
	const q = `query($after: String, $first: Int, $assignee: ID, $status: [CaseStatus!]) {
		cases(after: $after, first: $first, assigneeId: $assignee, status: $status) {
			totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor } } }`
	tests := []struct {
		name     string
		vars     map[string]any
		wantCode string // "" for a page
		wantPrev bool
	}{
		{name: "near MaxInt64 with first 1000", vars: map[string]any{"after": cursor("offset:v1:9223372036854775000"), "first": 1000}, wantCode: "BAD_USER_INPUT"},
		{name: "MaxInt64", vars: map[string]any{"after": cursor("offset:v1:9223372036854775807"), "first": 10}, wantCode: "BAD_USER_INPUT"},
		{name: "past MaxInt64", vars: map[string]any{"after": cursor("offset:v1:99999999999999999999")}, wantCode: "BAD_USER_INPUT"},
		{name: "past the largest position", vars: map[string]any{"after": cursor(fmt.Sprintf("offset:v1:%d", 1<<30+1)), "first": 1000}, wantCode: "BAD_USER_INPUT"},
		{name: "the largest position", vars: map[string]any{"after": cursor(fmt.Sprintf("offset:v1:%d", 1<<30)), "first": 1000}, wantPrev: true},
		{name: "empty list", vars: map[string]any{"after": cursor("offset:v1:22"), "assignee": "-3"}, wantPrev: false},
		{name: "past the end of a list", vars: map[string]any{"after": cursor(fmt.Sprintf("offset:v1:%d", closed+5)), "status": []string{"CLOSED"}}, wantPrev: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.Demo.ResetCounts()
			var got page
			errs := e.do(t, q, tc.vars, &got)
			if tc.wantCode != "" {
				if len(errs) != 1 || errs[0].Extensions["code"] != tc.wantCode || !strings.Contains(errs[0].Message, "not a cursor from this API") {
					t.Fatalf("errors = %s, want one %s", jsonString(errs), tc.wantCode)
				}
				if n := e.Demo.Requests("cases"); n != 0 {
					t.Errorf("the cases service was called %d times for a cursor Stacker never issued", n)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors = %s", jsonString(errs))
			}
			pi := got.Cases.PageInfo
			if len(got.Cases.Edges) != 0 || pi.HasNextPage || pi.HasPreviousPage != tc.wantPrev || pi.StartCursor != nil || pi.EndCursor != nil {
				t.Errorf("page = %+v, want an empty page with hasPreviousPage %v", got.Cases, tc.wantPrev)
			}
		})
	}
}

// TestRepeatedListValuesAreSentOnce: 50,000 copies of one status reach the
// cases service as one value, not as a 300 KB URL.
func TestRepeatedListValuesAreSentOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		statuses []string
		longest  int
	)
	cases := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		statuses = append(statuses, r.URL.Query().Get("status"))
		longest = max(longest, len(r.URL.RequestURI()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"cases":[],"meta":{"page":1,"per_page":10,"total":0}}`)
	}))
	t.Cleanup(cases.Close)
	e := startStacker(t, map[string]string{config.EnvName("cases"): cases.URL})

	many := make([]string, 50_000)
	for i := range many {
		many[i] = []string{"CLOSED", "NEW"}[i%2]
	}
	var got struct{ Cases struct{ TotalCount int } }
	e.mustDo(t, `query($s: [CaseStatus!]) { cases(status: $s, first: 10) { totalCount } }`, map[string]any{"s": many}, &got)
	mu.Lock()
	defer mu.Unlock()
	if len(statuses) != 1 || statuses[0] != "closed,new" {
		t.Errorf("the cases service got status=%.80q (%d calls), want closed,new once", statuses, len(statuses))
	}
	if longest > 200 {
		t.Errorf("the longest upstream URL was %d bytes", longest)
	}
}

// TestSchemaPromisesKeptByStacker: what the schema promises about order,
// Stacker does itself, in front of services that promise less: a doctors
// service answering in id order, a patients service answering newest first
// and matching emails.
func TestSchemaPromisesKeptByStacker(t *testing.T) {
	var limits []string
	var mu sync.Mutex
	doctorsSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		limits = append(limits, r.URL.Query().Get("limit"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// Id order; the best rated (4 and 6) come late, 2 and 5 tie.
		io.WriteString(w, `{"doctors":[
			{"id":1,"name":"A","specialty":"cardiology","clinic_id":1,"rating":3.1},
			{"id":2,"name":"B","specialty":"cardiology","clinic_id":1,"rating":4.2},
			{"id":3,"name":"C","specialty":"cardiology","clinic_id":1,"rating":2.0},
			{"id":4,"name":"D","specialty":"cardiology","clinic_id":1,"rating":4.9},
			{"id":5,"name":"E","specialty":"cardiology","clinic_id":1,"rating":4.2},
			{"id":6,"name":"F","specialty":"cardiology","clinic_id":1,"rating":4.5}]}`)
	}))
	t.Cleanup(doctorsSvc.Close)
	patientsSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Newest first, and one matches "ann" only by email.
		io.WriteString(w, `{"patients":[
			{"id":9,"first_name":"Joanna","last_name":"Ek","date_of_birth":"1980-01-01","email":"j@x.org","phone":"1","insurer_id":1,"city":"B","created_at":"2024-01-01T00:00:00Z"},
			{"id":7,"first_name":"Bo","last_name":"Li","date_of_birth":"1980-01-01","email":"ann.li@x.org","phone":"1","insurer_id":1,"city":"B","created_at":"2024-01-01T00:00:00Z"},
			{"id":3,"first_name":"Ann","last_name":"Ho","date_of_birth":"1980-01-01","email":"a@x.org","phone":"1","insurer_id":1,"city":"B","created_at":"2024-01-01T00:00:00Z"}]}`)
	}))
	t.Cleanup(patientsSvc.Close)
	e := startStacker(t, map[string]string{config.EnvName("doctors"): doctorsSvc.URL, config.EnvName("patients"): patientsSvc.URL})

	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"best rated first, ties by id, the first n of them", `{ doctorsBySpecialty(specialty: "cardiology", first: 4) { id } }`,
			`{"doctorsBySpecialty":[{"id":"4"},{"id":"6"},{"id":"2"},{"id":"5"}]}`},
		{"search in id order, email matches kept as the schema says", `{ searchPatients(query: "ann") { id } }`,
			`{"searchPatients":[{"id":"3"},{"id":"7"},{"id":"9"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got json.RawMessage
			e.mustDo(t, tc.query, nil, &got)
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// Ranking needs the service's whole answer, not its first n.
	mu.Lock()
	defer mu.Unlock()
	if len(limits) != 1 || limits[0] != "50" {
		t.Errorf("the doctors service was asked for limit=%q, want 50 (as many as it gives) once", limits)
	}
}
