package gateway

import (
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stacker/stacker/internal/testsync"
)

// TestServiceDown: a service that is gone nulls only the fields that need
// it; each error names the service at the field's path, and nothing of the
// upstream's address or body reaches the client.

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

func TestCreateCaseMutation(t *testing.T) {
	e := startStacker(t, nil)
	const create = `mutation($input: CreateCaseInput!) { createCase(input: $input) {
		case { id status priority specialty summary assignee { id } patient { id } } userErrors { field message } } }`
	type payload struct {
		CreateCase *struct {
			Case *struct {
				ID, Status, Priority, Specialty, Summary string
				Assignee                                 *struct{ ID string }
				Patient                                  *struct{ ID string }
			}
			UserErrors []struct {
				Field   []string
				Message string
			}
		}
	}

	t.Run("success", func(t *testing.T) {
		e.Demo.ResetCounts()
		var got payload
		e.mustDo(t, create, map[string]any{"input": map[string]any{"patientId": "4", "specialty": "oncology", "summary": "Second opinion", "priority": "HIGH"}}, &got)
		cs := got.CreateCase.Case
		if cs == nil || cs.Status != "NEW" || cs.Priority != "HIGH" || cs.Specialty != "oncology" || cs.Summary != "Second opinion" ||
			cs.Assignee != nil || cs.Patient == nil || cs.Patient.ID != "4" || len(got.CreateCase.UserErrors) != 0 {
			t.Fatalf("payload = %+v", got.CreateCase)
		}
		if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, map[string]int64{"cases POST /cases": 1, "patients GET /patients?ids": 1}) {
			t.Errorf("upstream calls %v", calls)
		}
		id, _ := strconv.ParseInt(cs.ID, 10, 64)
		if stored, ok := e.Store.Case(id); !ok || stored.PatientID != 4 || stored.Summary != "Second opinion" || stored.Priority != "high" {
			t.Errorf("store has %+v", stored)
		}
	})
	t.Run("priority defaults to NORMAL", func(t *testing.T) {
		var got payload
		e.mustDo(t, create, map[string]any{"input": map[string]any{"patientId": "4", "specialty": "oncology", "summary": "x"}}, &got)
		if got.CreateCase.Case == nil || got.CreateCase.Case.Priority != "NORMAL" {
			t.Fatalf("payload = %+v", got.CreateCase)
		}
	})
	for _, tc := range []struct {
		name  string
		input map[string]any
		field string
	}{
		{"unknown patient", map[string]any{"patientId": "999999", "specialty": "oncology", "summary": "x"}, "input.patientId"},
		{"unknown specialty", map[string]any{"patientId": "4", "specialty": "astrology", "summary": "x"}, "input.specialty"},
		{"blank summary", map[string]any{"patientId": "4", "specialty": "oncology", "summary": " "}, "input.summary"},
		{"summary too long", map[string]any{"patientId": "4", "specialty": "oncology", "summary": strings.Repeat("a", 501)}, "input.summary"},
	} {
		t.Run("user error: "+tc.name, func(t *testing.T) {
			n := e.Store.Counts()["cases"]
			var got payload
			e.mustDo(t, create, map[string]any{"input": tc.input}, &got)
			ue := got.CreateCase.UserErrors
			if got.CreateCase.Case != nil || len(ue) != 1 || strings.Join(ue[0].Field, ".") != tc.field || ue[0].Message == "" {
				t.Fatalf("payload = %+v", got.CreateCase)
			}
			if e.Store.Counts()["cases"] != n {
				t.Error("a refused case was stored")
			}
		})
	}
	t.Run("an id of the wrong kind is BAD_USER_INPUT, no call", func(t *testing.T) {
		e.Demo.ResetCounts()
		errs := e.do(t, create, map[string]any{"input": map[string]any{"patientId": "abc", "specialty": "oncology", "summary": "x"}}, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Fatalf("errors %s", jsonString(errs))
		}
		if n := e.Demo.Requests("cases"); n != 0 {
			t.Errorf("cases called %d times", n)
		}
	})
	t.Run("a write is not retried", func(t *testing.T) {
		e.Faults.set("cases", http.StatusServiceUnavailable)
		defer e.Faults.set("cases", 0)
		e.Demo.ResetCounts()
		errs := e.do(t, create, map[string]any{"input": map[string]any{"patientId": "4", "specialty": "oncology", "summary": "x"}}, nil)
		if len(errs) != 1 || errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("errors %s", jsonString(errs))
		}
		if n := e.Demo.Requests("cases"); n != 1 {
			t.Errorf("POST sent %d times, want 1", n)
		}
	})
}

// A new case reaches the case list's subscription as a change with nothing
// in changed.
func TestCreateCaseSubscription(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { casesChanged(status: [NEW]) { caseId changed case { summary } } }`)
	testsync.WaitFor(t, "a subscription", func() bool { return e.liveSubs() == 1 })
	var got struct {
		CreateCase struct{ Case struct{ ID string } }
	}
	e.mustDo(t, `mutation { createCase(input: {patientId: 4, specialty: "oncology", summary: "Second opinion"}) { case { id } } }`, nil, &got)
	m := c.next()
	want := fmt.Sprintf(`{"data":{"casesChanged":{"caseId":%q,"changed":[],"case":{"summary":"Second opinion"}}}}`, got.CreateCase.Case.ID)
	if m["type"] != "next" || jsonString(m["payload"]) != canonical(want) {
		t.Errorf("casesChanged got %v, want %s", m, want)
	}
}
