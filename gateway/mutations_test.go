package gateway

import (
	"net/http"
	"strings"
	"testing"
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
