package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/demo"
)

// The relations back from a clinic to its doctors and from a doctor to its
// upcoming appointments (issue 15, part 1).

const clinicCalendarQuery = `query($limit: Int) { clinic(id: 3) { name doctors { id name
	appointments(limit: $limit) { id startsAt case { id } } } } }`

type clinicCalendar struct {
	Clinic *struct {
		Name    string
		Doctors []struct {
			ID, Name     string
			Appointments []struct {
				ID       string
				StartsAt time.Time
				Case     *struct{ ID string }
			}
		}
	}
}

// bookAhead books, for every doctor of the clinic, three appointments in
// the days ahead, out of time order (the seeded ones are all past), and
// returns the time before them.
func bookAhead(t *testing.T, s *demo.Store, clinicID int64) time.Time {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	for i, d := range s.DoctorsByClinics([]int64{clinicID}) {
		for j, days := range []int{5, 2, 9} {
			caseID, doctorID := int64(10*i+j+1), d.ID
			in := demo.AppointmentInput{CaseID: &caseID, DoctorID: &doctorID,
				StartsAt: now.Add(time.Duration(days)*24*time.Hour + time.Hour).Format(time.RFC3339)}
			if _, err := s.CreateAppointment(in, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return now
}

// wantCalendar checks got against the store: the clinic's doctors in id
// order, each with its upcoming appointments soonest first, at most limit.
func wantCalendar(t *testing.T, s *demo.Store, now time.Time, limit int, got clinicCalendar) {
	t.Helper()
	if got.Clinic == nil {
		t.Fatal("clinic is null")
	}
	doctors := s.DoctorsByClinics([]int64{3})
	if len(got.Clinic.Doctors) != len(doctors) || len(doctors) == 0 {
		t.Fatalf("%d doctors, want %d", len(got.Clinic.Doctors), len(doctors))
	}
	for i, d := range doctors {
		g := got.Clinic.Doctors[i]
		if g.ID != id(d.ID) || g.Name != d.Name {
			t.Errorf("doctors[%d] = %s %q, want %d %q", i, g.ID, g.Name, d.ID, d.Name)
		}
		want := s.AppointmentsByDoctors([]int64{d.ID}, now)
		slices.SortStableFunc(want, func(a, b demo.Appointment) int { return a.StartsAt.Compare(b.StartsAt) })
		want = want[:min(limit, len(want))]
		if len(g.Appointments) != len(want) {
			t.Fatalf("doctor %d: %d appointments, want %d", d.ID, len(g.Appointments), len(want))
		}
		for j, a := range want {
			ga := g.Appointments[j]
			if ga.ID != id(a.ID) || !ga.StartsAt.Equal(a.StartsAt) || ga.Case == nil || ga.Case.ID != id(a.CaseID) {
				t.Errorf("doctor %d: appointments[%d] = %+v, want %d at %v of case %d", d.ID, j, ga, a.ID, a.StartsAt, a.CaseID)
			}
		}
	}
}

// TestClinicDoctorsAppointments: a clinic's doctors and their calendars
// are one call per service per level, whatever the limit.
func TestClinicDoctorsAppointments(t *testing.T) {
	e := startStacker(t, nil)
	now := bookAhead(t, e.Store, 3)
	want := map[string]int64{"clinics": 1, "doctors": 1, "appointments": 1, "cases": 1}
	for _, limit := range []int{1, 2, 10} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			e.Demo.ResetCounts()
			var got clinicCalendar
			e.mustDo(t, clinicCalendarQuery, map[string]any{"limit": limit}, &got)
			wantCalendar(t, e.Store, now, limit, got)
			if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
				t.Error(diff)
			}
		})
	}
	t.Run("default limit, through the compiled path", func(t *testing.T) {
		e.Demo.ResetCounts()
		var got clinicCalendar
		e.mustDo(t, `{ clinic(id: 3) { name doctors { id name appointments { id startsAt case { id } } } } }`, nil, &got)
		wantCalendar(t, e.Store, now, 10, got)
		if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
			t.Error(diff)
		}
	})
}

// TestClinicDoctorsAppointmentsUnderLoad: per-operation loaders keep every
// operation at its own exact calls when eight run at once.
func TestClinicDoctorsAppointmentsUnderLoad(t *testing.T) {
	e := startStacker(t, nil)
	now := bookAhead(t, e.Store, 3)
	const workers = 8
	e.Demo.ResetCounts()
	concurrently(t, e, workers, clinicCalendarQuery, map[string]any{"limit": 2}, func(got clinicCalendar) {
		wantCalendar(t, e.Store, now, 2, got)
	})
	want := map[string]int64{"clinics": workers, "doctors": workers, "appointments": workers, "cases": workers}
	if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
		t.Error(diff)
	}
}

// TestDoctorAppointmentsChunks: the doctors of a hundred cases'
// appointments, over 100 of them, ask for their own appointments in chunks
// of 100 doctor ids. (There are only 40 clinics, so clinic_ids never reach a
// second chunk; the chunking is the loaders' own, the same for both.)
func TestDoctorAppointmentsChunks(t *testing.T) {
	e := startStacker(t, nil)
	cs, _ := e.Store.ListCases(nil, nil, 1, 100)
	var doctorIDs []int64
	for _, c := range cs {
		for _, a := range e.Store.AppointmentsByCase(c.ID) {
			doctorIDs = append(doctorIDs, a.DoctorID)
		}
	}
	doctors := uniq(doctorIDs)
	if doctors <= 100 {
		t.Fatalf("seeded data changed: the first 100 cases have %d doctors, want over 100", doctors)
	}
	e.Demo.ResetCounts()
	var got struct {
		Cases struct {
			Nodes []struct {
				Appointments []struct{ Doctor struct{ ID string } }
			}
		}
	}
	e.mustDo(t, `{ cases(first: 100) { nodes { appointments { doctor { id appointments(limit: 1) { id } } } } } }`, nil, &got)
	if len(got.Cases.Nodes) != 100 {
		t.Fatalf("%d cases, want 100", len(got.Cases.Nodes))
	}
	want := map[string]int64{"cases": 1, "doctors": chunks(doctors), "appointments": 1 + chunks(doctors)}
	if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
		t.Error(diff)
	}
}

// TestClinicDoctorsFailures: an unknown clinic is null with NOT_FOUND and
// no call below it; a bad limit is refused at its field before any call; a
// failing appointments service nulls only the calendars.
func TestClinicDoctorsFailures(t *testing.T) {
	e := startStacker(t, nil)
	bookAhead(t, e.Store, 3)

	t.Run("unknown clinic", func(t *testing.T) {
		e.Demo.ResetCounts()
		var got clinicCalendar
		errs := e.do(t, `{ clinic(id: 999999) { doctors { id appointments { id } } } }`, nil, &got)
		if got.Clinic != nil || len(errs) != 1 || errs[0].pathString() != "clinic" || errs[0].Extensions["code"] != "NOT_FOUND" {
			t.Errorf("clinic %+v, errors %s; want null and NOT_FOUND at clinic", got.Clinic, jsonString(errs))
		}
		if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"clinics": 1}); diff != "" {
			t.Error(diff)
		}
	})
	for _, limit := range []int{0, 51} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			e.Demo.ResetCounts()
			var got clinicCalendar
			errs := e.do(t, clinicCalendarQuery, map[string]any{"limit": limit}, &got)
			if got.Clinic == nil || len(errs) != len(got.Clinic.Doctors) {
				t.Fatalf("got %+v, errors %s; want the doctors, one error each", got.Clinic, jsonString(errs))
			}
			for _, ge := range errs {
				if ge.Extensions["code"] != "BAD_USER_INPUT" || !strings.HasSuffix(ge.pathString(), ".appointments") {
					t.Errorf("error %s, want BAD_USER_INPUT at clinic.doctors.N.appointments", jsonString(ge))
				}
			}
			if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"clinics": 1, "doctors": 1}); diff != "" {
				t.Error(diff)
			}
		})
	}
	t.Run("appointments service down", func(t *testing.T) {
		e.Faults.set("appointments", http.StatusServiceUnavailable)
		defer e.Faults.set("appointments", 0)
		var got clinicCalendar
		errs := e.do(t, clinicCalendarQuery, map[string]any{"limit": 2}, &got)
		if got.Clinic == nil || len(got.Clinic.Doctors) == 0 || got.Clinic.Doctors[0].Name == "" {
			t.Fatalf("got %+v, want the clinic and its doctors", got.Clinic)
		}
		if len(errs) != len(got.Clinic.Doctors) {
			t.Fatalf("errors %s, want one per doctor", jsonString(errs))
		}
		for i, ge := range errs {
			if ge.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || ge.Extensions["service"] != "appointments" ||
				!strings.HasPrefix(ge.pathString(), "clinic.doctors.") || !strings.HasSuffix(ge.pathString(), ".appointments") {
				t.Errorf("errors[%d] = %s, want UPSTREAM_UNAVAILABLE from appointments at clinic.doctors.N.appointments", i, jsonString(ge))
			}
		}
		for _, d := range got.Clinic.Doctors {
			if d.Appointments != nil {
				t.Errorf("doctor %s: appointments %v, want null", d.ID, d.Appointments)
			}
		}
	})
}
