package main

import (
	"context"
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

func TestPagination(t *testing.T) {
	e := startStacker(t, nil)
	type page struct {
		Cases struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				EndCursor                    *string
			}
			Edges []struct {
				Cursor string
				Node   struct{ ID string }
			}
		}
	}
	const q = `query($first: Int, $after: String) { cases(status: [CLOSED], first: $first, after: $after) {
		totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } }`
	all, total := e.Store.ListCases([]string{"closed"}, nil, 1, 100)
	// Walk pages of uneven sizes: each must continue exactly where the last ended.
	var seen []string
	var after any
	for _, n := range []int{7, 30, 13, 50} {
		var p page
		e.mustDo(t, q, map[string]any{"first": n, "after": after}, &p)
		if p.Cases.TotalCount != total {
			t.Fatalf("totalCount = %d, want %d", p.Cases.TotalCount, total)
		}
		if p.Cases.PageInfo.HasPreviousPage != (after != nil) {
			t.Errorf("hasPreviousPage = %v", p.Cases.PageInfo.HasPreviousPage)
		}
		for _, ed := range p.Cases.Edges {
			seen = append(seen, ed.Node.ID)
		}
		after = *p.Cases.PageInfo.EndCursor
	}
	if len(seen) != 100 {
		t.Fatalf("walked %d cases, want 100", len(seen))
	}
	for i, c := range all {
		if seen[i] != id(c.ID) {
			t.Fatalf("case %d of the walk = %s, want %d", i, seen[i], c.ID)
		}
	}
}

func TestMutations(t *testing.T) {
	e := startStacker(t, nil)
	const update = `mutation($input: UpdateCaseInput!) { updateCase(input: $input) {
		case { id status priority assignee { name } patient { id } } userErrors { field message } } }`
	type payload struct {
		UpdateCase *struct {
			Case *struct {
				ID, Status, Priority string
				Assignee             *struct{ Name string }
				Patient              *struct{ ID string }
			}
			UserErrors []struct {
				Field   []string
				Message string
			}
		}
	}

	t.Run("success", func(t *testing.T) {
		var got payload
		e.mustDo(t, update, map[string]any{"input": map[string]any{"id": "10", "status": "CLOSED", "priority": "URGENT", "assigneeId": "3"}}, &got)
		c := got.UpdateCase.Case
		staff, _ := e.Store.StaffMember(3)
		if c == nil || c.Status != "CLOSED" || c.Priority != "URGENT" || c.Assignee == nil || c.Assignee.Name != staff.Name || c.Patient == nil {
			t.Fatalf("case = %+v", c)
		}
		stored, _ := e.Store.Case(10)
		if stored.Status != "closed" || stored.Priority != "urgent" || stored.AssigneeID == nil || *stored.AssigneeID != 3 {
			t.Errorf("store has %+v", stored)
		}
	})
	t.Run("unassign with null", func(t *testing.T) {
		var got payload
		e.mustDo(t, update, map[string]any{"input": map[string]any{"id": "10", "assigneeId": nil}}, &got)
		if got.UpdateCase.Case == nil || got.UpdateCase.Case.Assignee != nil {
			t.Fatalf("case = %+v", got.UpdateCase.Case)
		}
	})
	t.Run("validation errors are user errors", func(t *testing.T) {
		var got payload
		e.mustDo(t, update, map[string]any{"input": map[string]any{"id": "10", "assigneeId": "99999"}}, &got)
		ue := got.UpdateCase.UserErrors
		if got.UpdateCase.Case != nil || len(ue) == 0 || strings.Join(ue[0].Field, ".") != "input.assigneeId" || ue[0].Message == "" {
			t.Fatalf("payload = %+v", got.UpdateCase)
		}
	})
	t.Run("missing case is NOT_FOUND", func(t *testing.T) {
		var got payload
		errs := e.do(t, update, map[string]any{"input": map[string]any{"id": "999999", "status": "CLOSED"}}, &got)
		if got.UpdateCase != nil || len(errs) != 1 || errs[0].Extensions["code"] != "NOT_FOUND" || errs[0].pathString() != "updateCase" {
			t.Fatalf("payload %+v errors %s", got.UpdateCase, jsonString(errs))
		}
	})
	t.Run("a write is not retried", func(t *testing.T) {
		e.Faults.set("cases", http.StatusServiceUnavailable)
		defer e.Faults.set("cases", 0)
		e.Demo.ResetCounts()
		errs := e.do(t, update, map[string]any{"input": map[string]any{"id": "10", "status": "NEW"}}, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("errors %s", jsonString(errs))
		}
		if n := e.Demo.Requests("cases"); n != 1 {
			t.Errorf("PATCH sent %d times, want 1", n)
		}
	})

	const schedule = `mutation($input: ScheduleAppointmentInput!) { scheduleAppointment(input: $input) {
		appointment { id status doctor { name } case { id } } userErrors { field message } } }`
	type schedPayload struct {
		ScheduleAppointment struct {
			Appointment *struct {
				ID, Status string
				Doctor     *struct{ Name string }
				Case       *struct{ ID string }
			}
			UserErrors []struct {
				Field   []string
				Message string
			}
		}
	}
	t.Run("schedule", func(t *testing.T) {
		var got schedPayload
		e.mustDo(t, schedule, map[string]any{"input": map[string]any{"caseId": "12", "doctorId": "7", "startsAt": "2099-01-02T10:00:00Z"}}, &got)
		a := got.ScheduleAppointment.Appointment
		doc, _ := e.Store.Doctor(7)
		if a == nil || a.Status != "SCHEDULED" || a.Doctor == nil || a.Doctor.Name != doc.Name || a.Case == nil || a.Case.ID != "12" {
			t.Fatalf("appointment = %+v", a)
		}
		if apps := e.Store.AppointmentsByCase(12); apps[len(apps)-1].DoctorID != 7 {
			t.Errorf("store did not record the appointment: %+v", apps)
		}
	})
	t.Run("schedule in the past is a user error", func(t *testing.T) {
		var got schedPayload
		e.mustDo(t, schedule, map[string]any{"input": map[string]any{"caseId": "12", "doctorId": "7", "startsAt": "2001-01-02T10:00:00Z"}}, &got)
		ue := got.ScheduleAppointment.UserErrors
		if got.ScheduleAppointment.Appointment != nil || len(ue) == 0 || strings.Join(ue[0].Field, ".") != "input.startsAt" {
			t.Fatalf("payload = %+v", got.ScheduleAppointment)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"one service missing", map[string]string{"STACKER_PATIENTS_URL": "http://127.0.0.1:1"}, "STACKER_INSURERS_URL"},
		{"malformed url", allURLs(map[string]string{"STACKER_CASES_URL": "cases.internal"}), "STACKER_CASES_URL"},
		{"bad latency", map[string]string{"STACKER_DEMO_LATENCY": "fast"}, "STACKER_DEMO_LATENCY"},
		{"bad address", map[string]string{"STACKER_ADDR": "nowhere:-1"}, "STACKER_ADDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), []string{"stacker"}, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	t.Run("unknown command", func(t *testing.T) {
		var out syncBuffer
		err := run(context.Background(), []string{"stacker", "frobnicate"}, func(string) string { return "" }, &out, &out)
		var ue usageError
		if err == nil || !errorsAs(err, &ue) {
			t.Fatalf("run = %v, want a usage error", err)
		}
	})
}

func allURLs(over map[string]string) map[string]string {
	m := map[string]string{}
	for _, s := range config.Services() {
		m[config.EnvName(s)] = "http://127.0.0.1:1"
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}
