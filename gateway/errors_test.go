package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stacker/stacker/config"
)

// TestServiceDown: a service that is gone nulls only the fields that need
// it; each error names the service at the field's path, and nothing of the
// upstream's address or body reaches the client.

func TestServiceDown(t *testing.T) {
	tests := []struct {
		name     string
		service  string
		gone     bool // no listener at all, rather than a 503
		status   int
		wantCode string
		wantPath string // path of the first error
		nullOnly string // the field that is null on every case
	}{
		{name: "doctors gone", service: "doctors", gone: true, wantCode: "UPSTREAM_UNAVAILABLE", wantPath: "cases.nodes.0.appointments.0.doctor"},
		{name: "patients 503", service: "patients", status: http.StatusServiceUnavailable, wantCode: "UPSTREAM_UNAVAILABLE", wantPath: "cases.nodes.0.patient"},
		{name: "insurers 500", service: "insurers", status: http.StatusInternalServerError, wantCode: "UPSTREAM_UNAVAILABLE", wantPath: "cases.nodes.0.patient.insurer"},
		{name: "staff 429", service: "staff", status: http.StatusTooManyRequests, wantCode: "RATE_LIMITED", wantPath: "cases.nodes.0.assignee"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"STACKER_UPSTREAM_RETRIES": "0"}
			if tc.gone {
				env[config.EnvName(tc.service)] = closedURL(t)
			}
			e := startStacker(t, env)
			if tc.status != 0 {
				e.Faults.set(tc.service, tc.status)
			}
			var got caseBoard
			errs := e.do(t, caseBoardQuery(t), nil, &got)
			if len(got.Cases.Nodes) != 50 {
				t.Fatalf("got %d cases, want the 50 the cases service returned", len(got.Cases.Nodes))
			}
			if len(errs) == 0 {
				t.Fatal("no errors")
			}
			if last := errs[len(errs)-1]; last.Extensions["code"] == "TOO_MANY_ERRORS" {
				errs = errs[:len(errs)-1] // the rest were cut at STACKER_MAX_ERRORS
			}
			first := errs[0]
			if first.pathString() != tc.wantPath {
				t.Errorf("first error path = %s, want %s", first.pathString(), tc.wantPath)
			}
			for _, ge := range errs {
				if ge.Extensions["code"] != tc.wantCode || ge.Extensions["service"] != tc.service {
					t.Errorf("error %s: extensions = %v, want code %s service %s", ge.pathString(), ge.Extensions, tc.wantCode, tc.service)
				}
				for _, leak := range []string{"127.0.0.1", "http", "internal.example", "secret", "GET"} {
					if strings.Contains(ge.Message, leak) {
						t.Errorf("error message %q leaks %q", ge.Message, leak)
					}
				}
			}
			// Everything the failing service does not feed is still there.
			n := got.Cases.Nodes[0]
			if n.ID == "" || n.Summary == "" || len(n.Documents) == 0 && tc.service != "documents" {
				t.Errorf("unaffected fields missing: %+v", n)
			}
			if tc.service != "patients" && (n.Patient == nil || n.Patient.FullName == "") {
				t.Errorf("patient missing although %s failed", tc.service)
			}
			if !strings.Contains(e.Logs.String(), tc.service) {
				t.Errorf("the log does not name the failing service")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	e := startStacker(t, nil)
	var got struct {
		Case  *struct{ ID string }
		Other *struct{ ID string }
	}
	errs := e.do(t, `{ case(id: 999999) { id } other: case(id: 1) { id } }`, nil, &got)
	if got.Case != nil {
		t.Errorf("case = %+v, want null", got.Case)
	}
	if got.Other == nil || got.Other.ID != "1" {
		t.Errorf("other = %+v, want case 1", got.Other)
	}
	if len(errs) != 1 || errs[0].Extensions["code"] != "NOT_FOUND" || errs[0].pathString() != "case" ||
		errs[0].Extensions["service"] != "cases" || !strings.Contains(errs[0].Message, "999999") {
		t.Errorf("errors = %s, want one NOT_FOUND at case naming the id", jsonString(errs))
	}
}

func TestBadInput(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name, query string
		wantCode    string
	}{
		{"first too large", `{ cases(first: 5000) { totalCount } }`, "BAD_USER_INPUT"},
		{"first negative", `{ cases(first: -1) { totalCount } }`, "BAD_USER_INPUT"},
		{"forged cursor", `{ cases(after: "bm9wZQ") { totalCount } }`, "BAD_USER_INPUT"},
		{"empty search", `{ searchPatients(query: "") { id } }`, "BAD_USER_INPUT"},
		{"search too large", `{ searchPatients(query: "a", first: 51) { id } }`, "BAD_USER_INPUT"},
		{"id not a number", `{ case(id: "abc") { id } }`, "BAD_USER_INPUT"},
		{"bad DateTime", `mutation { scheduleAppointment(input: {caseId: 1, doctorId: 1, startsAt: "soon"}) { userErrors { message } } }`, "BAD_USER_INPUT"},
		{"unknown field", `{ cases { nope } }`, "GRAPHQL_VALIDATION_FAILED"},
		{"syntax", `{ cases { `, "GRAPHQL_PARSE_FAILED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := e.do(t, tc.query, nil, nil)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if tc.wantCode != "" && errs[0].Extensions["code"] != tc.wantCode {
				t.Errorf("code = %v, want %s (%s)", errs[0].Extensions["code"], tc.wantCode, errs[0].Message)
			}
			if errs[0].Message == "" || strings.Contains(errs[0].Message, "127.0.0.1") {
				t.Errorf("message = %q", errs[0].Message)
			}
		})
	}
}
