package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
	"github.com/stacker/stacker/events/eventsurl"
	"github.com/stacker/stacker/internal/testsync"
)

const (
	cancelAppt = `mutation($input: CancelAppointmentInput!) { cancelAppointment(input: $input) {
		appointment { id status startsAt doctor { name clinic { name } } case { id } } userErrors { field message } } }`
	rescheduleAppt = `mutation($input: RescheduleAppointmentInput!) { rescheduleAppointment(input: $input) {
		appointment { id status startsAt doctor { name } } userErrors { field message } } }`

	patchAppt = "appointments PATCH /appointments/:id"
)

// apptPayload decodes either mutation's payload.
type apptPayload struct {
	Appointment *struct {
		ID, Status, StartsAt string
		Doctor               *struct {
			Name   string
			Clinic *struct{ Name string }
		}
		Case *struct{ ID string }
	}
	UserErrors []struct {
		Field   []string
		Message string
	}
}

type apptResult struct {
	CancelAppointment     *apptPayload
	RescheduleAppointment *apptPayload
}

// seq makes every booked slot distinct, so the tests' appointments never
// share a start.
var seq atomic.Int64

// bookAppointment stores, without an event, a scheduled appointment of case
// 12 with doctor 7, days ahead of the real clock the demo services use.
func bookAppointment(t *testing.T, s *demo.Store, days int) demo.Appointment {
	t.Helper()
	caseID, doctorID := int64(12), int64(7)
	at := time.Now().UTC().Truncate(time.Hour).Add(time.Duration(days)*24*time.Hour + time.Duration(seq.Add(1))*time.Minute)
	a, err := s.CreateAppointment(demo.AppointmentInput{CaseID: &caseID, DoctorID: &doctorID, StartsAt: at.Format(time.RFC3339)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func idOf(a demo.Appointment) string { return strconv.FormatInt(a.ID, 10) }

// TestAppointmentMutations: cancelAppointment and rescheduleAppointment make
// one PATCH and the payload's prefetch, nothing more; every refusal leaves
// the store as it was.
func TestAppointmentMutations(t *testing.T) {
	e := startStacker(t, nil)
	doctor, _ := e.Store.Doctor(7)
	clinic, _ := e.Store.Clinic(doctor.ClinicID)

	t.Run("cancel", func(t *testing.T) {
		a := bookAppointment(t, e.Store, 3)
		e.Demo.ResetCounts()
		var got apptResult
		e.mustDo(t, cancelAppt, map[string]any{"input": map[string]any{"id": idOf(a)}}, &got)
		p := got.CancelAppointment
		if p == nil || p.Appointment == nil || p.Appointment.ID != idOf(a) || p.Appointment.Status != "CANCELLED" ||
			p.Appointment.StartsAt != a.StartsAt.Format(time.RFC3339) || p.Appointment.Doctor == nil || p.Appointment.Doctor.Name != doctor.Name ||
			p.Appointment.Doctor.Clinic == nil || p.Appointment.Doctor.Clinic.Name != clinic.Name ||
			p.Appointment.Case == nil || p.Appointment.Case.ID != "12" || p.UserErrors == nil || len(p.UserErrors) != 0 {
			t.Fatalf("payload %s", jsonString(p))
		}
		want := map[string]int64{patchAppt: 1, "doctors GET /doctors?ids": 1, "clinics GET /clinics?ids": 1, "cases GET /cases?ids": 1}
		if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, want) {
			t.Errorf("upstream calls %v, want %v", calls, want)
		}
		stored, _ := e.Store.Appointment(a.ID)
		if wantStored := withStatus(a, demo.AppointmentCancelled); stored != wantStored {
			t.Errorf("store has %+v, want %+v", stored, wantStored)
		}
	})
	t.Run("reschedule", func(t *testing.T) {
		a := bookAppointment(t, e.Store, 4)
		to := a.StartsAt.Add(48 * time.Hour)
		e.Demo.ResetCounts()
		var got apptResult
		e.mustDo(t, rescheduleAppt, map[string]any{"input": map[string]any{"id": idOf(a), "startsAt": to.Format(time.RFC3339)}}, &got)
		p := got.RescheduleAppointment
		if p == nil || p.Appointment == nil || p.Appointment.Status != "SCHEDULED" || p.Appointment.StartsAt != to.Format(time.RFC3339) ||
			p.Appointment.Doctor == nil || p.Appointment.Doctor.Name != doctor.Name || len(p.UserErrors) != 0 {
			t.Fatalf("payload %s", jsonString(p))
		}
		want := map[string]int64{patchAppt: 1, "doctors GET /doctors?ids": 1}
		if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, want) {
			t.Errorf("upstream calls %v, want %v", calls, want)
		}
		stored, _ := e.Store.Appointment(a.ID)
		if !stored.StartsAt.Equal(to) || stored.Status != demo.AppointmentScheduled {
			t.Errorf("store has %+v, want the start %v", stored, to)
		}
	})

	cancelled := func(t *testing.T) demo.Appointment {
		a := bookAppointment(t, e.Store, 5)
		s := demo.AppointmentCancelled
		c, err := e.Store.UpdateAppointment(a.ID, demo.AppointmentPatch{Status: &s}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	future := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	// Refusals: a user error at field (null: about the appointment as a
	// whole) and one PATCH, or an error coded code and calls PATCHes.
	for _, tc := range []struct {
		name    string
		appt    func(t *testing.T) demo.Appointment // nil: none
		query   string
		input   func(id string) map[string]any
		field   string // of the one user error; "-" for null
		message string // of the one user error
		code    string // of the one error, instead of a user error
		calls   int64
	}{
		{name: "cancel of a cancelled one", appt: cancelled, query: cancelAppt,
			input: func(id string) map[string]any { return map[string]any{"id": id} },
			field: "-", message: "Status is already cancelled", calls: 1},
		{name: "reschedule into the past", appt: func(t *testing.T) demo.Appointment { return bookAppointment(t, e.Store, 6) }, query: rescheduleAppt,
			input: func(id string) map[string]any { return map[string]any{"id": id, "startsAt": "2020-01-02T09:00:00Z"} },
			field: "input.startsAt", message: "must be in the future", calls: 1},
		{name: "reschedule of a cancelled one", appt: cancelled, query: rescheduleAppt,
			input: func(id string) map[string]any { return map[string]any{"id": id, "startsAt": future} },
			field: "input.startsAt", message: "cannot be changed once cancelled", calls: 1},
		{name: "cancel of an unknown id", query: cancelAppt,
			input: func(string) map[string]any { return map[string]any{"id": "99999999"} },
			code:  "NOT_FOUND", calls: 1},
		{name: "reschedule of an unknown id", query: rescheduleAppt,
			input: func(string) map[string]any { return map[string]any{"id": "99999999", "startsAt": future} },
			code:  "NOT_FOUND", calls: 1},
		{name: "cancel of a malformed id", query: cancelAppt,
			input: func(string) map[string]any { return map[string]any{"id": "abc"} },
			code:  "BAD_USER_INPUT", calls: 0},
		{name: "reschedule of a malformed id", query: rescheduleAppt,
			input: func(string) map[string]any { return map[string]any{"id": "abc", "startsAt": future} },
			code:  "BAD_USER_INPUT", calls: 0},
		{name: "reschedule to a malformed time", appt: func(t *testing.T) demo.Appointment { return bookAppointment(t, e.Store, 6) }, query: rescheduleAppt,
			input: func(id string) map[string]any { return map[string]any{"id": id, "startsAt": "next tuesday"} },
			code:  "BAD_USER_INPUT", calls: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a demo.Appointment
			if tc.appt != nil {
				a = tc.appt(t)
			}
			e.Demo.ResetCounts()
			var got apptResult
			errs := e.do(t, tc.query, map[string]any{"input": tc.input(idOf(a))}, &got)
			p := got.CancelAppointment
			if p == nil {
				p = got.RescheduleAppointment
			}
			if tc.code != "" {
				if p != nil || len(errs) != 1 || errs[0].Extensions["code"] != tc.code {
					t.Fatalf("payload %s errors %s, want one %s", jsonString(p), jsonString(errs), tc.code)
				}
			} else {
				field := "-"
				if len(errs) == 0 && p != nil && len(p.UserErrors) == 1 && p.UserErrors[0].Field != nil {
					field = strings.Join(p.UserErrors[0].Field, ".")
				}
				if len(errs) != 0 || p == nil || p.Appointment != nil || len(p.UserErrors) != 1 || field != tc.field || p.UserErrors[0].Message != tc.message {
					t.Fatalf("payload %s errors %s, want one user error %q at %s", jsonString(p), jsonString(errs), tc.message, tc.field)
				}
			}
			if calls := e.Demo.EndpointSnapshot(); calls[patchAppt] != tc.calls || int64(len(calls)) != min(tc.calls, 1) {
				t.Errorf("upstream calls %v, want %d PATCH and nothing else", calls, tc.calls)
			}
			if tc.appt != nil {
				if stored, _ := e.Store.Appointment(a.ID); stored != a {
					t.Errorf("a refused change was stored: %+v, was %+v", stored, a)
				}
			}
		})
	}

	t.Run("service down: one PATCH, no retry", func(t *testing.T) {
		a := bookAppointment(t, e.Store, 7)
		e.Faults.set("appointments", http.StatusServiceUnavailable)
		defer e.Faults.set("appointments", 0)
		for _, tc := range []struct {
			query string
			input map[string]any
		}{
			{cancelAppt, map[string]any{"id": idOf(a)}},
			{rescheduleAppt, map[string]any{"id": idOf(a), "startsAt": future}},
		} {
			e.Demo.ResetCounts()
			var got apptResult
			errs := e.do(t, tc.query, map[string]any{"input": tc.input}, &got)
			if got.CancelAppointment != nil || got.RescheduleAppointment != nil || len(errs) != 1 ||
				errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || errs[0].Extensions["service"] != "appointments" {
				t.Fatalf("data %+v errors %s", got, jsonString(errs))
			}
			if n := e.Demo.Requests("appointments"); n != 1 {
				t.Errorf("PATCH sent %d times, want 1", n)
			}
		}
		if stored, _ := e.Store.Appointment(a.ID); stored != a {
			t.Errorf("store has %+v, was %+v", stored, a)
		}
	})

	t.Run("a replayed cancel makes no second PATCH", func(t *testing.T) {
		a := bookAppointment(t, e.Store, 8)
		vars := map[string]any{"input": map[string]any{"id": idOf(a)}}
		e.Demo.ResetCounts()
		first := keyed(t, e, "cancel-"+idOf(a), cancelAppt, vars)
		again := keyed(t, e, "cancel-"+idOf(a), cancelAppt, vars)
		if first.status != http.StatusOK || first.replayed || !again.replayed || again.body != first.body ||
			!strings.Contains(first.body, `"status":"CANCELLED"`) {
			t.Fatalf("first %+v, again %+v", first, again)
		}
		if n := e.Demo.EndpointSnapshot()[patchAppt]; n != 1 {
			t.Errorf("PATCH sent %d times, want 1", n)
		}
	})
}

// TestDoctorCalendarAfterChanges: Doctor.appointments keeps a cancelled
// appointment, with status CANCELLED (the console greys it out), and puts a
// moved one at its new place.
func TestDoctorCalendarAfterChanges(t *testing.T) {
	e := startStacker(t, nil)
	now := time.Now()
	a, b := bookAppointment(t, e.Store, 3), bookAppointment(t, e.Store, 5)
	e.mustDo(t, cancelAppt, map[string]any{"input": map[string]any{"id": idOf(a)}}, nil)
	to := now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	e.mustDo(t, rescheduleAppt, map[string]any{"input": map[string]any{"id": idOf(b), "startsAt": to.Format(time.RFC3339)}}, nil)

	var got struct {
		Doctor struct {
			Appointments []struct{ ID, Status, StartsAt string }
		}
	}
	e.mustDo(t, `{ doctor(id: 7) { appointments(limit: 50) { id status startsAt } } }`, nil, &got)
	want := e.Store.AppointmentsByDoctors([]int64{7}, now)
	slices.SortStableFunc(want, func(x, y demo.Appointment) int { return x.StartsAt.Compare(y.StartsAt) })
	if len(got.Doctor.Appointments) != len(want) {
		t.Fatalf("%d appointments, want %d: %+v", len(got.Doctor.Appointments), len(want), got)
	}
	seen := map[string]string{}
	for i, w := range want {
		g := got.Doctor.Appointments[i]
		if g.ID != idOf(w) || g.Status != strings.ToUpper(w.Status) || g.StartsAt != w.StartsAt.Format(time.RFC3339) {
			t.Errorf("appointments[%d] = %+v, want %+v", i, g, w)
		}
		seen[g.ID] = g.Status + " " + g.StartsAt
	}
	if seen[idOf(a)] != "CANCELLED "+a.StartsAt.Format(time.RFC3339) || seen[idOf(b)] != "SCHEDULED "+to.Format(time.RFC3339) {
		t.Errorf("calendar %v: want %s cancelled and %s moved to %v", seen, idOf(a), idOf(b), to)
	}
}

func withStatus(a demo.Appointment, status string) demo.Appointment {
	a.Status = status
	return a
}

// TestAppointmentMutationsNeedWriteScope: a medical advisor, without
// appointments:write, is refused both mutations before any call.
func TestAppointmentMutationsNeedWriteScope(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	a := bookAppointment(t, e.Store, 3)
	future := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	ops := map[string]string{
		"cancelAppointment":     fmt.Sprintf(`mutation { cancelAppointment(input: {id: %d}) { appointment { id status } userErrors { message } } }`, a.ID),
		"rescheduleAppointment": fmt.Sprintf(`mutation { rescheduleAppointment(input: {id: %d, startsAt: %q}) { appointment { id } userErrors { message } } }`, a.ID, future),
	}
	advisor := roleToken(t, p, k, "staff:2", "medical_advisor")
	for field, op := range ops {
		e.Demo.ResetCounts()
		data, errs := doAs(t, e, advisor, op)
		checkErrors(t, errs, []string{field})
		if want := fmt.Sprintf(`{%q:null}`, field); data != want {
			t.Errorf("%s: data %s, want %s", field, data, want)
		}
		if n := e.Demo.Requests("appointments"); n != 0 {
			t.Errorf("%s: appointments called %d times", field, n)
		}
	}
	if stored, _ := e.Store.Appointment(a.ID); stored != a {
		t.Errorf("store has %+v, was %+v", stored, a)
	}
	// A case manager may: the refusal above was the scope's.
	if _, errs := doAs(t, e, roleToken(t, p, k, "staff:1", "case_manager"), ops["cancelAppointment"]); len(errs) != 0 {
		t.Fatalf("case manager: %s", jsonString(errs))
	}
	if stored, _ := e.Store.Appointment(a.ID); stored.Status != demo.AppointmentCancelled {
		t.Errorf("store has %+v after the case manager's cancel", stored)
	}
}

// TestAppointmentActivity: a cancel and a reschedule reach a caseActivity
// subscriber with the appointment as it is after the change; refused
// changes publish nothing.
func TestAppointmentActivity(t *testing.T) {
	topic := natsTopic(t)
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": topic})
	// Everything the services publish, to show that refusals publish nothing
	// for any case.
	bus, err := eventsurl.Open(t.Context(), topic, slog.New(slog.DiscardHandler), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	sub, err := bus.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Two subscribers of the same selection: each event's appointment and
	// doctor are read once for both.
	const activity = `subscription { caseActivity(caseId: 12) { __typename caseId
		... on AppointmentCancelledEvent { appointment { id status startsAt doctor { name } } }
		... on AppointmentRescheduledEvent { appointment { id status startsAt } } } }`
	clients := []*wsClient{dialWS(t, e.Base), dialWS(t, e.Base)}
	for _, c := range clients {
		c.subscribe("1", activity)
	}
	testsync.WaitFor(t, "two subscriptions", func() bool { return e.liveSubs() == 2 })

	a := bookAppointment(t, e.Store, 3)
	id := idOf(a)
	to := a.StartsAt.Add(72 * time.Hour).Format(time.RFC3339)
	do := func(query string, input map[string]any) apptResult {
		t.Helper()
		var got apptResult
		e.do(t, query, map[string]any{"input": input}, &got)
		return got
	}
	doctor, _ := e.Store.Doctor(7)
	// next reads the subscriber's next message. Each is awaited before the
	// next change: the appointment is loaded when the event arrives, so a
	// later change could show through.
	next := func(want string) {
		t.Helper()
		for i, c := range clients {
			if m := c.next(); m["type"] != "next" || jsonString(m["payload"]) != canonical(want) {
				t.Fatalf("subscriber %d got %v, want %s", i, m, want)
			}
		}
	}
	do(cancelAppt, map[string]any{"id": "99999999"})                                 // NOT_FOUND
	do(rescheduleAppt, map[string]any{"id": id, "startsAt": "2020-01-02T09:00:00Z"}) // into the past
	if got := do(rescheduleAppt, map[string]any{"id": id, "startsAt": to}); got.RescheduleAppointment.Appointment == nil {
		t.Fatalf("reschedule: %s", jsonString(got))
	}
	next(fmt.Sprintf(`{"data":{"caseActivity":{"__typename":"AppointmentRescheduledEvent","caseId":"12","appointment":{"id":%q,"status":"SCHEDULED","startsAt":%q}}}}`, id, to))
	e.Demo.ResetCounts()
	var cancelled struct {
		CancelAppointment struct{ Appointment *struct{ ID string } }
	}
	e.mustDo(t, `mutation($id: ID!) { cancelAppointment(input: {id: $id}) { appointment { id } } }`, map[string]any{"id": id}, &cancelled)
	if cancelled.CancelAppointment.Appointment == nil {
		t.Fatalf("cancel: %+v", cancelled)
	}
	next(fmt.Sprintf(`{"data":{"caseActivity":{"__typename":"AppointmentCancelledEvent","caseId":"12","appointment":{"id":%q,"status":"CANCELLED","startsAt":%q,"doctor":{"name":%q}}}}}`, id, to, doctor.Name))
	// The PATCH, then for the event, whatever the number of subscribers: the
	// case's appointments and the doctor.
	wantCalls := map[string]int64{patchAppt: 1, "appointments GET /appointments?case_ids": 1, "doctors GET /doctors?ids": 1}
	if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("upstream calls for the cancel and its event %v, want %v", calls, wantCalls)
	}
	do(cancelAppt, map[string]any{"id": id})                     // already cancelled
	do(rescheduleAppt, map[string]any{"id": id, "startsAt": to}) // cancelled: refused
	// A last change of case 12 marks the end: whatever the refusals
	// published would have arrived before it.
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 12, "s": "IN_REVIEW"}, nil)
	next(`{"data":{"caseActivity":{"__typename":"CaseUpdatedEvent","caseId":"12"}}}`)

	var types []string
	for _, ev := range eventstest.Receive(t, sub, 3) {
		types = append(types, fmt.Sprintf("%s %d/%d", ev.Type, ev.CaseID, ev.AppointmentID))
	}
	wantTypes := []string{events.TypeAppointmentRescheduled + " 12/" + id, events.TypeAppointmentCancelled + " 12/" + id, events.TypeCaseUpdated + " 12/0"}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("published %v, want %v", types, wantTypes)
	}
	if stored, _ := e.Store.Appointment(a.ID); stored.Status != demo.AppointmentCancelled || stored.StartsAt.Format(time.RFC3339) != to {
		t.Errorf("store has %+v", stored)
	}
}
