package demo

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stacker/stacker/events"
)

// seededAppointment returns the first seeded appointment that ok accepts.
func seededAppointment(t *testing.T, svcs *Services, ok func(Appointment) bool) Appointment {
	t.Helper()
	for id := int64(1); ; id++ {
		a, found := svcs.store.Appointment(id)
		if !found {
			t.Fatal("no seeded appointment fits")
		}
		if ok(a) {
			return a
		}
	}
}

func upcomingScheduled(a Appointment) bool {
	return a.Status == AppointmentScheduled && a.StartsAt.After(testNow())
}

func TestPatchAppointment(t *testing.T) {
	later := testNow().Add(30 * 24 * time.Hour).Truncate(time.Hour)
	t.Run("cancel", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		a := seededAppointment(t, svcs, upcomingScheduled)
		res := do(t, svcs, "appointments", "PATCH", fmt.Sprintf("/appointments/%d", a.ID), `{"appointment":{"status":"cancelled"}}`)
		wantStatus(t, res, http.StatusOK)
		want := a
		want.Status = AppointmentCancelled
		if got := decode[struct{ Appointment Appointment }](t, res).Appointment; !reflect.DeepEqual(got, want) {
			t.Errorf("answered %+v, want %+v", got, want)
		}
		if got, _ := svcs.store.Appointment(a.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("stored %+v, want %+v", got, want)
		}
		// The reads serve the new state: the cached row JSON was refreshed.
		byCase := decode[struct{ Appointments []Appointment }](t, do(t, svcs, "appointments", "GET", fmt.Sprintf("/appointments?case_ids=%d", a.CaseID), ""))
		if i := indexOf(byCase.Appointments, a.ID); i < 0 || byCase.Appointments[i].Status != AppointmentCancelled {
			t.Errorf("case's appointments %+v", byCase.Appointments)
		}
		wantEvents(t, rec.events(), events.Event{Type: events.TypeAppointmentCancelled, CaseID: a.CaseID, AppointmentID: a.ID, OccurredAt: testNow()})
	})
	t.Run("reschedule", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		a := seededAppointment(t, svcs, upcomingScheduled)
		// An offset is accepted and stored in UTC.
		body := fmt.Sprintf(`{"appointment":{"starts_at":%q}}`, later.In(time.FixedZone("CET", 3600)).Format(time.RFC3339))
		res := do(t, svcs, "appointments", "PATCH", fmt.Sprintf("/appointments/%d", a.ID), body)
		wantStatus(t, res, http.StatusOK)
		want := a
		want.StartsAt = later
		if got, _ := svcs.store.Appointment(a.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("stored %+v, want %+v", got, want)
		}
		// The doctor's calendar from the new start on holds it.
		cal := decode[struct{ Appointments []Appointment }](t, do(t, svcs, "appointments", "GET",
			fmt.Sprintf("/appointments?doctor_ids=%d&starts_after=%s", a.DoctorID, later.Format(time.RFC3339)), ""))
		if i := indexOf(cal.Appointments, a.ID); i < 0 || !cal.Appointments[i].StartsAt.Equal(later) {
			t.Errorf("doctor's calendar from %v: %+v", later, cal.Appointments)
		}
		wantEvents(t, rec.events(), events.Event{Type: events.TypeAppointmentRescheduled, CaseID: a.CaseID, AppointmentID: a.ID, OccurredAt: testNow()})
	})
	t.Run("404", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		wantError(t, do(t, svcs, "appointments", "PATCH", "/appointments/99999999", `{"appointment":{"status":"cancelled"}}`), http.StatusNotFound, "not found")
		wantEvents(t, rec.events())
	})
	refused := []struct {
		name  string
		pick  func(Appointment) bool
		body  string
		field []string
	}{
		{"second cancel", func(a Appointment) bool { return a.Status == AppointmentCancelled }, `{"appointment":{"status":"cancelled"}}`, []string{"status"}},
		{"cancel a completed one", func(a Appointment) bool { return a.Status == AppointmentCompleted }, `{"appointment":{"status":"cancelled"}}`, []string{"status"}},
		{"status other than cancelled", upcomingScheduled, `{"appointment":{"status":"completed"}}`, []string{"status"}},
		{"status null", upcomingScheduled, `{"appointment":{"status":null}}`, []string{"status"}},
		{"status a number", upcomingScheduled, `{"appointment":{"status":3}}`, []string{"status"}},
		{"into the past", upcomingScheduled, `{"appointment":{"starts_at":"2026-01-31T09:00:00Z"}}`, []string{"starts_at"}},
		{"not a datetime", upcomingScheduled, `{"appointment":{"starts_at":"tomorrow"}}`, []string{"starts_at"}},
		{"blank start", upcomingScheduled, `{"appointment":{"starts_at":""}}`, []string{"starts_at"}},
		{"move a cancelled one", func(a Appointment) bool { return a.Status == AppointmentCancelled }, `{"appointment":{"starts_at":"2026-12-01T09:00:00Z"}}`, []string{"starts_at"}},
		{"move a completed one", func(a Appointment) bool { return a.Status == AppointmentCompleted }, `{"appointment":{"starts_at":"2026-12-01T09:00:00Z"}}`, []string{"starts_at"}},
		{"both at once", upcomingScheduled, `{"appointment":{"status":"cancelled","starts_at":"2026-12-01T09:00:00Z"}}`, []string{"base"}},
	}
	for _, tc := range refused {
		t.Run("422 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			var rec recorder
			svcs := newServices(t, Options{Publish: rec.publish})
			a := seededAppointment(t, svcs, tc.pick)
			want422(t, do(t, svcs, "appointments", "PATCH", fmt.Sprintf("/appointments/%d", a.ID), tc.body), tc.field)
			if got, _ := svcs.store.Appointment(a.ID); !reflect.DeepEqual(got, a) || len(rec.events()) != 0 {
				t.Errorf("a refused change was stored (%+v, was %+v) or announced (%+v)", got, a, rec.events())
			}
		})
	}
	t.Run("second cancel says so", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		a := seededAppointment(t, svcs, upcomingScheduled)
		target := fmt.Sprintf("/appointments/%d", a.ID)
		wantStatus(t, do(t, svcs, "appointments", "PATCH", target, `{"appointment":{"status":"cancelled"}}`), http.StatusOK)
		res := do(t, svcs, "appointments", "PATCH", target, `{"appointment":{"status":"cancelled"}}`)
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if got := decode[struct{ Errors map[string][]string }](t, res).Errors; !reflect.DeepEqual(got, map[string][]string{"status": {"is already cancelled"}}) {
			t.Errorf("errors %v", got)
		}
		if n := len(rec.events()); n != 1 {
			t.Errorf("%d events, want the first cancel's only", n)
		}
	})
	for _, body := range []string{`{"appointment":{}}`, `{"appointment":{"note":"x"}}`, `{"status":"cancelled"}`, `not json`} {
		t.Run("400 "+body, func(t *testing.T) {
			var rec recorder
			svcs := newServices(t, Options{Publish: rec.publish})
			a := seededAppointment(t, svcs, upcomingScheduled)
			wantError(t, do(t, svcs, "appointments", "PATCH", fmt.Sprintf("/appointments/%d", a.ID), body), http.StatusBadRequest, "")
			if got, _ := svcs.store.Appointment(a.ID); !reflect.DeepEqual(got, a) || len(rec.events()) != 0 {
				t.Error("a malformed change was stored or announced")
			}
		})
	}
}

func indexOf(as []Appointment, id int64) int {
	for i, a := range as {
		if a.ID == id {
			return i
		}
	}
	return -1
}

func wantEvents(t *testing.T, got []events.Event, want ...events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].CaseID != want[i].CaseID || got[i].AppointmentID != want[i].AppointmentID ||
			!got[i].OccurredAt.Equal(want[i].OccurredAt) {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
