package gateway

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/operations"
)

func caseBoardQuery(testing.TB) string { return operations.CaseBoard }

// caseBoard is the shape of the case board's answer.
type caseBoard struct {
	Cases struct {
		TotalCount int
		Nodes      []struct {
			ID, Status, Priority, Summary string
			UpdatedAt                     time.Time
			Patient                       *struct {
				ID, FullName, DateOfBirth string
				Insurer                   *struct{ Name, Kind string }
			}
			Assignee     *struct{ Name, Role string }
			Appointments []struct {
				StartsAt time.Time
				Status   string
				Doctor   *struct {
					Name, Specialty string
					Clinic          *struct{ Name, City string }
				}
			}
			Documents []struct {
				Title, Kind string
				SizeBytes   int64
			}
		}
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// TestCaseBoard checks the front-end team's query, as written, against the
// seeded data, field by field, for every case on the board.
func TestCaseBoard(t *testing.T) {
	e := startStacker(t, nil)
	var got caseBoard
	e.mustDo(t, caseBoardQuery(t), nil, &got)

	want, total := e.Store.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, 50)
	if got.Cases.TotalCount != total {
		t.Errorf("totalCount = %d, want %d", got.Cases.TotalCount, total)
	}
	if len(got.Cases.Nodes) != 50 || len(want) != 50 {
		t.Fatalf("got %d nodes, store has %d, want 50", len(got.Cases.Nodes), len(want))
	}
	for i, w := range want {
		g := got.Cases.Nodes[i]
		where := fmt.Sprintf("nodes[%d] (case %d)", i, w.ID)
		check := func(field string, got, want any) {
			t.Helper()
			if got != want {
				t.Errorf("%s.%s = %v, want %v", where, field, got, want)
			}
		}
		check("id", g.ID, id(w.ID))
		check("status", g.Status, strings.ToUpper(w.Status))
		check("priority", g.Priority, strings.ToUpper(w.Priority))
		check("summary", g.Summary, w.Summary)
		check("updatedAt", g.UpdatedAt.Equal(w.UpdatedAt), true)

		p, _ := e.Store.Patient(w.PatientID)
		ins, _ := e.Store.Insurer(p.InsurerID)
		if g.Patient == nil || g.Patient.Insurer == nil {
			t.Fatalf("%s: patient or insurer missing", where)
		}
		check("patient.id", g.Patient.ID, id(p.ID))
		check("patient.fullName", g.Patient.FullName, p.FirstName+" "+p.LastName)
		check("patient.dateOfBirth", g.Patient.DateOfBirth, p.DateOfBirth)
		check("patient.insurer.name", g.Patient.Insurer.Name, ins.Name)
		check("patient.insurer.kind", g.Patient.Insurer.Kind, strings.ToUpper(ins.Kind))

		if w.AssigneeID == nil {
			check("assignee", g.Assignee == nil, true)
		} else {
			s, _ := e.Store.StaffMember(*w.AssigneeID)
			if g.Assignee == nil {
				t.Fatalf("%s: assignee missing", where)
			}
			check("assignee.name", g.Assignee.Name, s.Name)
			check("assignee.role", g.Assignee.Role, strings.ToUpper(s.Role))
		}

		apps := e.Store.AppointmentsByCase(w.ID)
		if len(g.Appointments) != len(apps) {
			t.Fatalf("%s: %d appointments, want %d", where, len(g.Appointments), len(apps))
		}
		for j, a := range apps {
			d, _ := e.Store.Doctor(a.DoctorID)
			c, _ := e.Store.Clinic(d.ClinicID)
			ga := g.Appointments[j]
			if ga.Doctor == nil || ga.Doctor.Clinic == nil {
				t.Fatalf("%s: appointment %d: doctor or clinic missing", where, j)
			}
			check("appointment.startsAt", ga.StartsAt.Equal(a.StartsAt), true)
			check("appointment.status", ga.Status, strings.ToUpper(a.Status))
			check("appointment.doctor.name", ga.Doctor.Name, d.Name)
			check("appointment.doctor.specialty", ga.Doctor.Specialty, d.Specialty)
			check("appointment.doctor.clinic.name", ga.Doctor.Clinic.Name, c.Name)
			check("appointment.doctor.clinic.city", ga.Doctor.Clinic.City, c.City)
		}

		docs := e.Store.DocumentsByCase(w.ID)
		if len(g.Documents) != len(docs) {
			t.Fatalf("%s: %d documents, want %d", where, len(g.Documents), len(docs))
		}
		for j, d := range docs {
			check("document.title", g.Documents[j].Title, d.Title)
			check("document.kind", g.Documents[j].Kind, strings.ToUpper(d.Kind))
			check("document.sizeBytes", g.Documents[j].SizeBytes, d.SizeBytes)
		}
	}
}

// expectedCalls is what a level costs: one call per started 100 unique ids.
func chunks(n int) int64 { return int64((n + 99) / 100) }

func uniq[T comparable](xs []T) int {
	seen := map[T]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}

// boardCalls computes, from the seeded data, the upstream calls the case
// board must make at a given size: one per service, plus the 100-id chunking.
func boardCalls(s *demo.Store, first int) map[string]int64 {
	cs, _ := s.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, first)
	var patients, insurers, staff, caseIDs, doctors, clinics []int64
	for _, c := range cs {
		caseIDs = append(caseIDs, c.ID)
		patients = append(patients, c.PatientID)
		p, _ := s.Patient(c.PatientID)
		insurers = append(insurers, p.InsurerID)
		if c.AssigneeID != nil {
			staff = append(staff, *c.AssigneeID)
		}
		for _, a := range s.AppointmentsByCase(c.ID) {
			doctors = append(doctors, a.DoctorID)
			d, _ := s.Doctor(a.DoctorID)
			clinics = append(clinics, d.ClinicID)
		}
	}
	casesCalls := int64(1)
	if first > 100 {
		casesCalls = chunks(first)
	}
	return map[string]int64{
		"cases":        casesCalls,
		"patients":     chunks(uniq(patients)),
		"insurers":     chunks(uniq(insurers)),
		"staff":        chunks(uniq(staff)),
		"appointments": chunks(uniq(caseIDs)),
		"documents":    chunks(uniq(caseIDs)),
		"doctors":      chunks(uniq(doctors)),
		"clinics":      chunks(uniq(clinics)),
	}
}

// TestCaseBoardFanOut is the N+1 guard: each level of the case board is one
// call per service, growing only with the services' 100-id limit.
func TestCaseBoardFanOut(t *testing.T) {
	e := startStacker(t, nil)
	for _, first := range []int{1, 50, 100, 250} {
		t.Run(fmt.Sprintf("first=%d", first), func(t *testing.T) {
			want := boardCalls(e.Store, first)
			if first == 50 {
				for s, n := range want {
					if n != 1 {
						t.Fatalf("seeded data changed: %s needs %d calls at first:50", s, n)
					}
				}
			}
			e.Demo.ResetCounts()
			var got caseBoard
			e.mustDo(t, caseBoardQuery(t), map[string]any{"first": first}, &got)
			if len(got.Cases.Nodes) != first {
				t.Fatalf("got %d nodes, want %d", len(got.Cases.Nodes), first)
			}
			if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func countDiff(got, want map[string]int64) string {
	var b strings.Builder
	for _, s := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		if got[s] != want[s] {
			fmt.Fprintf(&b, "%s: %d calls, want %d\n", s, got[s], want[s])
		}
	}
	for s, n := range got {
		if _, ok := want[s]; !ok && n != 0 {
			fmt.Fprintf(&b, "%s: %d unexpected calls\n", s, n)
		}
	}
	return b.String()
}

// TestCaseBoardFanOutUnderLoad: batching must not depend on timing, so at
// concurrency 32 every case board still costs exactly 8 calls.
func TestCaseBoardFanOutUnderLoad(t *testing.T) {
	e := startStacker(t, nil)
	q := caseBoardQuery(t)
	const workers, perWorker = 32, 4
	e.Demo.ResetCounts()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				var got caseBoard
				e.mustDo(t, q, nil, &got)
				if len(got.Cases.Nodes) != 50 {
					t.Errorf("got %d nodes", len(got.Cases.Nodes))
				}
			}
		})
	}
	wg.Wait()
	want := map[string]int64{}
	for s := range boardCalls(e.Store, 50) {
		want[s] = workers * perWorker
	}
	if diff := countDiff(e.Demo.Snapshot(), want); diff != "" {
		t.Error(diff)
	}
}

// TestNestedFanOut: queries that reach the same services from several
// places and levels still cost one call per service per level.
func TestNestedFanOut(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name  string
		query string
		want  map[string]int64
	}{
		{
			name:  "patient cases and their appointments",
			query: `{ cases(first: 10) { nodes { patient { cases { id appointments { status } documents { title } } } } } }`,
			// cases (the list, then by patient), patients, appointments, documents;
			// ten patients have about fifty cases: under the 100-id limit.
			want: map[string]int64{"cases": 2, "patients": 1, "appointments": 1, "documents": 1},
		},
		{
			name:  "back references are served from the cache",
			query: `{ cases(first: 20) { nodes { id appointments { case { id } } documents { case { id summary } } } } }`,
			want:  map[string]int64{"cases": 1, "appointments": 1, "documents": 1},
		},
		{
			name:  "aliases and fragments share one call",
			query: `{ cases(first: 20) { nodes { a: patient { id } b: patient { ...P } } edges { node { patient { city } } } } } fragment P on Patient { fullName insurer { name } }`,
			want:  map[string]int64{"cases": 1, "patients": 1, "insurers": 1},
		},
		{
			name:  "root lookups are batched",
			query: `{ a: case(id: 1) { id patient { id } } b: case(id: 2) { id } c: patient(id: 3) { id } d: doctor(id: 4) { clinic { name } } }`,
			want:  map[string]int64{"cases": 1, "patients": 2, "doctors": 1, "clinics": 1},
		},
		{
			name:  "skipped fields cost nothing",
			query: `query($x: Boolean = false) { cases(first: 10) { nodes { id patient @include(if: $x) { id } documents @skip(if: true) { id } } } }`,
			want:  map[string]int64{"cases": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.Demo.ResetCounts()
			e.mustDo(t, tc.query, nil, nil)
			if diff := countDiff(e.Demo.Snapshot(), tc.want); diff != "" {
				t.Error(diff)
			}
		})
	}
}
