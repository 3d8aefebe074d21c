package demo

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestNewStoreIsDeterministic(t *testing.T) {
	a, b := NewStore(), NewStore()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two NewStore calls built different data")
	}
	// Independent, too: a write to one is not seen by the other.
	if _, err := a.UpdateCase(1, CasePatch{Status: ptr(StatusClosed)}, testNow()); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.Case(1); c.UpdatedAt.Equal(testNow()) {
		t.Fatal("a write to one store changed another")
	}
}

func TestSeedShape(t *testing.T) {
	s := NewStore()
	want := map[string]int{
		"patients": NumPatients, "insurers": NumInsurers, "cases": NumCases,
		"staff": NumStaff, "doctors": NumDoctors, "clinics": NumClinics,
	}
	got := s.Counts()
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d rows, want %d", name, got[name], n)
		}
	}
	if avg := float64(got["appointments"]) / NumCases; avg < 2.8 || avg > 3.2 {
		t.Errorf("appointments per case = %.2f, want about 3", avg)
	}
	if avg := float64(got["documents"]) / NumCases; avg < 1.8 || avg > 2.2 {
		t.Errorf("documents per case = %.2f, want about 2", avg)
	}

	// Ids are dense and start at 1.
	checkDense(t, "patients", ids(s.patients))
	checkDense(t, "cases", ids(s.cases))
	checkDense(t, "doctors", ids(s.doctors))
	checkDense(t, "appointments", ids(s.appointments))
	checkDense(t, "documents", ids(s.documents))

	base := SeedBase()
	statuses := map[string]int{}
	unassigned := 0
	updatedAt := map[time.Time]int{}
	for _, c := range s.cases {
		statuses[c.Status]++
		updatedAt[c.UpdatedAt]++
		if c.AssigneeID == nil {
			unassigned++
		} else if m, ok := s.StaffMember(*c.AssigneeID); !ok || m.Role == "admin" {
			t.Errorf("case %d: assignee %d is not an assignable staff member", c.ID, *c.AssigneeID)
		}
		if _, ok := s.Patient(c.PatientID); !ok {
			t.Errorf("case %d: unknown patient %d", c.ID, c.PatientID)
		}
		if !s.IsSpecialty(c.Specialty) || !isCaseStatus(c.Status) || !isCasePriority(c.Priority) {
			t.Errorf("case %d: bad specialty, status or priority: %+v", c.ID, c)
		}
		if c.UpdatedAt.Before(c.CreatedAt) || c.UpdatedAt.After(base) {
			t.Errorf("case %d: updated_at %v outside [created_at %v, %v]", c.ID, c.UpdatedAt, c.CreatedAt, base)
		}
		if n := len(s.AppointmentsByCase(c.ID)); n < 1 || n > 5 {
			t.Errorf("case %d: %d appointments, want 1..5", c.ID, n)
		}
		if n := len(s.DocumentsByCase(c.ID)); n > 4 {
			t.Errorf("case %d: %d documents, want 0..4", c.ID, n)
		}
	}
	if frac := float64(unassigned) / NumCases; frac < 0.07 || frac > 0.13 {
		t.Errorf("unassigned cases = %.3f, want about 0.1", frac)
	}
	for _, st := range []string{StatusNew, StatusInReview} {
		if statuses[st] < NumCases/5 {
			t.Errorf("%d cases %s, want at least %d", statuses[st], st, NumCases/5)
		}
	}
	if len(statuses) != len(CaseStatuses()) {
		t.Errorf("statuses used: %v, want all of %v", statuses, CaseStatuses())
	}
	shared := 0
	for _, n := range updatedAt {
		if n > 1 {
			shared += n
		}
	}
	if shared < 100 {
		t.Errorf("%d cases share an updated_at, want enough to exercise the id tie-break", shared)
	}

	kinds := map[string]int{}
	for _, in := range s.insurers {
		kinds[in.Kind]++
	}
	if kinds["public"] == 0 || kinds["private"] == 0 || len(kinds) != 2 {
		t.Errorf("insurer kinds = %v, want public and private", kinds)
	}
	for _, sp := range Specialties() {
		if len(s.DoctorsBySpecialty(sp, NumDoctors)) == 0 {
			t.Errorf("no doctors of %s", sp)
		}
	}
	var sizes []int64
	for _, d := range s.documents {
		sizes = append(sizes, d.SizeBytes)
		if c, _ := s.Case(d.CaseID); d.UploadedAt.Before(c.CreatedAt) || d.UploadedAt.After(base) {
			t.Errorf("document %d uploaded at %v, outside its case's lifetime", d.ID, d.UploadedAt)
		}
	}
	if lo, hi := slices.Min(sizes), slices.Max(sizes); hi < 100*lo {
		t.Errorf("document sizes %d..%d, want them to vary by orders of magnitude", lo, hi)
	}
	for _, a := range s.appointments {
		if _, ok := s.Doctor(a.DoctorID); !ok {
			t.Errorf("appointment %d: unknown doctor %d", a.ID, a.DoctorID)
		}
	}
}

func checkDense(t *testing.T, what string, ids []int64) {
	t.Helper()
	for i, id := range ids {
		if id != int64(i+1) {
			t.Errorf("%s: row %d has id %d, want dense ids from 1", what, i, id)
			return
		}
	}
}

// checkCaseOrder fails when cases are not in list order (updated_at desc,
// then id desc) and reports whether an updated_at tie was seen.
func checkCaseOrder(t *testing.T, cases []Case) (sawTie bool) {
	t.Helper()
	for i := 1; i < len(cases); i++ {
		a, b := cases[i-1], cases[i]
		if compareCaseOrder(a.UpdatedAt, a.ID, b.UpdatedAt, b.ID) >= 0 {
			t.Fatalf("case %d (%v) listed before case %d (%v)", a.ID, a.UpdatedAt, b.ID, b.UpdatedAt)
		}
		sawTie = sawTie || a.UpdatedAt.Equal(b.UpdatedAt)
	}
	return sawTie
}

func TestListCasesOrder(t *testing.T) {
	s := NewStore()
	all, total := s.ListCases(nil, nil, 1, NumCases)
	if total != NumCases || len(all) != NumCases {
		t.Fatalf("got %d of %d cases, want %d", len(all), total, NumCases)
	}
	if !checkCaseOrder(t, all) {
		t.Error("no two adjacent cases share updated_at; the tie-break is untested")
	}
}

// TestUpdateCaseKeepsOrder moves cases to times anywhere in the seeded
// range, not only to the top, and checks the maintained order stays exactly
// the sorted order.
func TestUpdateCaseKeepsOrder(t *testing.T) {
	s := NewStore()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		id := 1 + rng.Int64N(NumCases)
		// Reuse an existing updated_at half the time, to land on ties.
		at := SeedBase().Add(-time.Duration(rng.Int64N(int64(400 * day))))
		if rng.IntN(2) == 0 {
			c, _ := s.Case(1 + rng.Int64N(NumCases))
			at = c.UpdatedAt
		}
		if _, err := s.UpdateCase(id, CasePatch{}, at); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.ListCases(nil, nil, 1, NumCases)
	checkCaseOrder(t, got)
	want := slices.Clone(s.cases)
	slices.SortFunc(want, func(a, b Case) int { return compareCaseOrder(a.UpdatedAt, a.ID, b.UpdatedAt, b.ID) })
	if !reflect.DeepEqual(got, want) {
		t.Fatal("maintained order differs from sorting the cases")
	}
}

func TestListCasesFilters(t *testing.T) {
	s := NewStore()
	tests := []struct {
		name     string
		statuses []string
		assignee *int64
	}{
		{"all", nil, nil},
		{"one status", []string{StatusNew}, nil},
		{"two statuses", []string{StatusInReview, StatusClosed}, nil},
		{"assignee", nil, ptr(int64(5))},
		{"status and assignee", []string{StatusNew}, ptr(int64(5))},
		{"unknown assignee", nil, ptr(int64(999))},
		{"assignee zero", nil, ptr(int64(0))},
		{"unknown status", []string{"open"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all, total := s.ListCases(tc.statuses, tc.assignee, 1, NumCases)
			want := 0
			for _, c := range s.cases {
				if (len(tc.statuses) == 0 || slices.Contains(tc.statuses, c.Status)) &&
					(tc.assignee == nil || c.AssigneeID != nil && *c.AssigneeID == *tc.assignee) {
					want++
				}
			}
			if total != want || len(all) != want {
				t.Fatalf("got %d rows, total %d; want %d", len(all), total, want)
			}
			checkCaseOrder(t, all)
			// Pages are consecutive windows of the full result.
			for page := 1; (page-1)*7 < total && page <= 5; page++ {
				rows, n := s.ListCases(tc.statuses, tc.assignee, page, 7)
				if n != total || !reflect.DeepEqual(rows, all[(page-1)*7:min(page*7, total)]) {
					t.Fatalf("page %d differs from the full list", page)
				}
			}
		})
	}
}

// TestForeignKeyIndexes checks the doctors-by-clinic and appointments-by-
// doctor reads against a scan of every row, also after a booking.
func TestForeignKeyIndexes(t *testing.T) {
	s := NewStore()
	from := SeedBase()
	a, err := s.CreateAppointment(AppointmentInput{CaseID: ptr[int64](1), DoctorID: ptr[int64](7), StartsAt: from.Add(48 * time.Hour).Format(time.RFC3339)}, from)
	if err != nil {
		t.Fatal(err)
	}
	keys := []int64{7, 3, 999, 3}
	var wantAppts []Appointment
	for id := int64(1); ; id++ {
		ap, ok := s.Appointment(id)
		if !ok {
			break
		}
		if (ap.DoctorID == 3 || ap.DoctorID == 7) && !ap.StartsAt.Before(from) {
			wantAppts = append(wantAppts, ap)
		}
	}
	got := s.AppointmentsByDoctors(keys, from)
	if !reflect.DeepEqual(got, wantAppts) || !slices.Contains(got, a) {
		t.Errorf("appointments by doctors 3, 7 from %v: %d rows, want %d (with the new one)", from, len(got), len(wantAppts))
	}
	var wantDoctors []Doctor
	for id := int64(1); id <= NumDoctors; id++ {
		if d, _ := s.Doctor(id); d.ClinicID == 2 || d.ClinicID == 5 {
			wantDoctors = append(wantDoctors, d)
		}
	}
	if got := s.DoctorsByClinics([]int64{5, 2, 0}); len(got) == 0 || !reflect.DeepEqual(got, wantDoctors) {
		t.Errorf("doctors by clinics 2, 5: %v, want %v", got, wantDoctors)
	}
}

func TestCasesByAssigneesAndPatientsByInsurers(t *testing.T) {
	s := NewStore()
	// Reassigning a case moves it to its new assignee's list at once.
	c, err := s.UpdateCase(1, CasePatch{SetAssignee: true, AssigneeID: ptr[int64](4)}, SeedBase())
	if err != nil {
		t.Fatal(err)
	}
	var wantCases []Case
	for id := int64(1); id <= NumCases; id++ {
		if k, _ := s.Case(id); k.AssigneeID != nil && (*k.AssigneeID == 4 || *k.AssigneeID == 9) {
			wantCases = append(wantCases, k)
		}
	}
	got := s.CasesByAssignees([]int64{9, 4, 0, 999})
	if len(got) == 0 || !reflect.DeepEqual(got, wantCases) || !slices.Contains(got, c) {
		t.Errorf("cases by assignees 4, 9: %d rows, want %d (with case 1)", len(got), len(wantCases))
	}
	var wantPatients []Patient
	for id := int64(1); id <= NumPatients; id++ {
		if p, _ := s.Patient(id); p.InsurerID == 3 || p.InsurerID == 11 {
			wantPatients = append(wantPatients, p)
		}
	}
	if got := s.PatientsByInsurers([]int64{11, 3, 3}); len(got) == 0 || !reflect.DeepEqual(got, wantPatients) {
		t.Errorf("patients by insurers 3, 11: %d rows, want %d", len(got), len(wantPatients))
	}
}
