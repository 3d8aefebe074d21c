package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stacker/stacker/demo"
)

// The per-parent connections StaffMember.cases and Insurer.patients (issue
// 15, part 1): one call per service per level for every parent.

type staffCases struct {
	StaffMember *struct {
		Cases *struct {
			TotalCount int
			Nodes      []struct {
				ID      string
				Patient *struct{ FullName string }
			}
		}
	}
}

// assignedCases is what StaffMember.cases(status:) should hold: the
// staff member's cases in the statuses (all when none), newest activity
// first.
func assignedCases(s *demo.Store, staffID int64, status ...string) []demo.Case {
	cs := slices.DeleteFunc(s.CasesByAssignees([]int64{staffID}), func(c demo.Case) bool {
		return len(status) > 0 && !slices.Contains(status, c.Status)
	})
	slices.SortStableFunc(cs, func(a, b demo.Case) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	return cs
}

func TestStaffMemberCases(t *testing.T) {
	e := startStacker(t, nil)
	want := assignedCases(e.Store, 2, "new")
	if len(want) < 4 {
		t.Fatalf("seeded data changed: staff member 2 has %d new cases, want over 3", len(want))
	}
	e.Demo.ResetCounts()
	var got staffCases
	e.mustDo(t, `{ staffMember(id: 2) { cases(status: [NEW], first: 3) { totalCount nodes { id patient { fullName } } } } }`, nil, &got)
	if got.StaffMember == nil || got.StaffMember.Cases == nil {
		t.Fatalf("got %+v", got)
	}
	if got.StaffMember.Cases.TotalCount != len(want) || len(got.StaffMember.Cases.Nodes) != 3 {
		t.Fatalf("totalCount %d, %d nodes; want %d and 3", got.StaffMember.Cases.TotalCount, len(got.StaffMember.Cases.Nodes), len(want))
	}
	for i, n := range got.StaffMember.Cases.Nodes {
		p, _ := e.Store.Patient(want[i].PatientID)
		if n.ID != id(want[i].ID) || n.Patient == nil || n.Patient.FullName != p.FirstName+" "+p.LastName {
			t.Errorf("nodes[%d] = %+v, want case %d of %s %s", i, n, want[i].ID, p.FirstName, p.LastName)
		}
	}
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"staff": 1, "cases": 1, "patients": 1}); diff != "" {
		t.Error(diff)
	}
}

// TestStaffMemberCasesManyAssignees: the assignees of fifty cases ask for
// their own cases in one call, and so do eight such operations at once,
// each its own.
func TestStaffMemberCasesManyAssignees(t *testing.T) {
	e := startStacker(t, nil)
	const query = `{ cases(first: 50) { nodes { assignee { id cases(first: 2) { totalCount nodes { id } } } } } }`
	type result struct {
		Cases struct {
			Nodes []struct {
				Assignee *struct {
					ID    string
					Cases struct {
						TotalCount int
						Nodes      []struct{ ID string }
					}
				}
			}
		}
	}
	check := func(t *testing.T, got result) {
		t.Helper()
		if len(got.Cases.Nodes) != 50 {
			t.Fatalf("%d cases, want 50", len(got.Cases.Nodes))
		}
		for _, n := range got.Cases.Nodes {
			if n.Assignee == nil {
				continue
			}
			sid, _ := strconv.ParseInt(n.Assignee.ID, 10, 64)
			want := assignedCases(e.Store, sid)
			if n.Assignee.Cases.TotalCount != len(want) || len(n.Assignee.Cases.Nodes) != min(2, len(want)) {
				t.Fatalf("assignee %s: %+v, want %d cases", n.Assignee.ID, n.Assignee.Cases, len(want))
			}
			for i, c := range n.Assignee.Cases.Nodes {
				if c.ID != id(want[i].ID) {
					t.Errorf("assignee %s: cases[%d] = %s, want %d", n.Assignee.ID, i, c.ID, want[i].ID)
				}
			}
		}
	}
	e.Demo.ResetCounts()
	var got result
	e.mustDo(t, query, nil, &got)
	check(t, got)
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 2, "staff": 1}); diff != "" {
		t.Error(diff)
	}

	const workers = 8
	e.Demo.ResetCounts()
	concurrently(t, e, workers, query, nil, func(got result) { check(t, got) })
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 2 * workers, "staff": workers}); diff != "" {
		t.Error(diff)
	}
}

func TestInsurerPatients(t *testing.T) {
	e := startStacker(t, nil)
	want := e.Store.PatientsByInsurers([]int64{3})
	if len(want) < 6 {
		t.Fatalf("seeded data changed: insurer 3 has %d patients", len(want))
	}
	type result struct {
		Insurer *struct {
			Patients *struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Nodes []struct {
					ID    string
					Cases []struct{ ID string }
				}
			}
		}
	}
	const query = `query($after: String) { insurer(id: 3) { patients(first: 3, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } nodes { id cases { id } } } } }`
	e.Demo.ResetCounts()
	var got result
	e.mustDo(t, query, nil, &got)
	ps := got.Insurer.Patients
	if ps.TotalCount != len(want) || len(ps.Nodes) != 3 || !ps.PageInfo.HasNextPage {
		t.Fatalf("got %+v, want 3 of %d patients", ps, len(want))
	}
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"insurers": 1, "patients": 1, "cases": 1}); diff != "" {
		t.Error(diff)
	}
	var next result
	e.mustDo(t, query, map[string]any{"after": ps.PageInfo.EndCursor}, &next)
	for i, n := range append(ps.Nodes, next.Insurer.Patients.Nodes...) {
		if n.ID != id(want[i].ID) || len(n.Cases) != len(e.Store.CasesByPatients([]int64{want[i].ID})) {
			t.Errorf("patients[%d] = %+v, want patient %d", i, n, want[i].ID)
		}
	}
}

// TestPagedRelationFailures: a failing service or a bad argument nulls only
// the field, with its error at its path.
func TestPagedRelationFailures(t *testing.T) {
	e := startStacker(t, nil)
	t.Run("cases service down", func(t *testing.T) {
		e.Faults.set("cases", http.StatusServiceUnavailable)
		defer e.Faults.set("cases", 0)
		var got struct {
			StaffMember *struct {
				Name  string
				Cases *struct{ TotalCount int }
			}
		}
		errs := e.do(t, `{ staffMember(id: 2) { name cases { totalCount } } }`, nil, &got)
		if got.StaffMember == nil || got.StaffMember.Name == "" || got.StaffMember.Cases != nil {
			t.Fatalf("got %+v, want the staff member with null cases", got.StaffMember)
		}
		if len(errs) != 1 || errs[0].pathString() != "staffMember.cases" || errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
			t.Errorf("errors %s, want UPSTREAM_UNAVAILABLE at staffMember.cases", jsonString(errs))
		}
	})
	for _, q := range []string{
		`{ insurer(id: 3) { name patients(first: 101) { totalCount } } }`,
		`{ insurer(id: 3) { name patients(after: "nope") { totalCount } } }`,
	} {
		e.Demo.ResetCounts()
		var got struct{ Insurer *struct{ Name string } }
		errs := e.do(t, q, nil, &got)
		if got.Insurer == nil || len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.HasSuffix(errs[0].pathString(), "patients") {
			t.Errorf("%s: got %+v, errors %s; want BAD_USER_INPUT at insurer.patients", q, got.Insurer, jsonString(errs))
		}
		if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"insurers": 1}); diff != "" {
			t.Errorf("%s: %s", q, diff)
		}
	}
}
