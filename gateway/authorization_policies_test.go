package gateway

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/demo"
)

// staffToken is a valid token for a console role (its scopes, the role in
// "roles") naming a staff member in "staff_id" ("" for none).
func staffToken(t *testing.T, p *authtest.Provider, k *authtest.Key, role, staffID string) string {
	t.Helper()
	c := p.Claims("user-" + role)
	c["scope"] = strings.Join(authz.Roles()[role], " ")
	c["roles"] = []string{role}
	if staffID != "" {
		c["staff_id"] = staffID
	}
	return k.Sign(t, c)
}

// The @policy rules through a whole gateway: a case manager sees the
// contact details of the patients of their own cases only, documents of a
// closed case are for medical advisors only; a denied value is null with
// UNAUTHORIZED_FIELD_OR_TYPE and the same message whether the value exists
// or not; what the policies need is fetched in one batched call per level,
// never one per case.
func TestAuthorizationPolicies(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	e := startStacker(t, authEnv(p, env))
	s := demoEnv.Store

	// The board's 50 cases, and a case manager assigned some of them.
	board, _ := s.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, 50)
	if len(board) != 50 {
		t.Fatalf("board has %d cases", len(board))
	}
	var manager int64
	for _, c := range board {
		if c.AssigneeID == nil {
			continue
		}
		if m, _ := s.StaffMember(*c.AssigneeID); m.Role == "case_manager" {
			manager = m.ID
			break
		}
	}
	if manager == 0 {
		t.Fatal("no case manager assigned on the board")
	}
	// mine: whether the manager is assigned one of the patient's cases (any
	// status, not only the board's).
	mine := func(patientID int64) bool {
		return slices.ContainsFunc(s.CasesByPatients([]int64{patientID}), func(c demo.Case) bool {
			return c.AssigneeID != nil && *c.AssigneeID == manager
		})
	}

	t.Run("case board as a case manager: own patients only, one more batched call", func(t *testing.T) {
		var out struct {
			Cases struct {
				Nodes []struct {
					Patient *struct{ ID, DateOfBirth string }
				}
			}
		}
		errs := e.doWith(t, authHeader(staffToken(t, p, k, "case_manager", strconv.FormatInt(manager, 10)), "board-manager"), caseBoardQuery(t), nil, &out)
		var wantPaths []string
		seen, denied := 0, 0
		for i, c := range board {
			if mine(c.PatientID) {
				seen++
				if n := out.Cases.Nodes[i].Patient; n == nil || n.DateOfBirth == "" {
					t.Errorf("case %d: patient %d of the manager's case not shown", c.ID, c.PatientID)
				}
				continue
			}
			denied++
			if out.Cases.Nodes[i].Patient != nil {
				t.Errorf("case %d: patient %d's date of birth shown to a manager not on their cases", c.ID, c.PatientID)
			}
			wantPaths = append(wantPaths, "cases.nodes."+strconv.Itoa(i)+".patient.dateOfBirth")
		}
		if seen == 0 || denied == 0 {
			t.Fatalf("want both outcomes on the board: %d seen, %d denied", seen, denied)
		}
		checkErrors(t, errs, wantPaths)
		for _, err := range errs {
			if want := "not authorized to see Patient.dateOfBirth: it needs the policies assignedToCaller, or admin"; err.Message != want {
				t.Errorf("message %q, want %q", err.Message, want)
			}
		}
		// 8 calls, plus the patients' cases (the policy's need) in one
		// batched call to the cases service.
		n := callsFor(calls(), "board-manager")
		want := map[string]int{"cases": 2, "patients": 1, "insurers": 1, "staff": 1, "appointments": 1, "documents": 1, "doctors": 1, "clinics": 1}
		if !maps.Equal(n, want) {
			t.Errorf("calls %v, want %v", n, want)
		}
		t.Logf("case board, case manager with the policy: %v", n)
	})

	// An admin meets the contact policy by role alone, so nothing is
	// fetched for it: the board's 8 calls.
	t.Run("admin sees every patient's contact details", func(t *testing.T) {
		var out caseBoard
		errs := e.doWith(t, authHeader(staffToken(t, p, k, "admin", ""), "board-admin"), caseBoardQuery(t), nil, &out)
		if len(errs) > 0 {
			t.Fatal(jsonString(errs))
		}
		n := callsFor(calls(), "board-admin")
		want := map[string]int{"cases": 1, "patients": 1, "insurers": 1, "staff": 1, "appointments": 1, "documents": 1, "doctors": 1, "clinics": 1}
		if !maps.Equal(n, want) {
			t.Errorf("calls %v, want %v", n, want)
		}
		t.Logf("case board, admin: %v", n)
	})

	// Without a staff id the policy is refused by the caller alone: no
	// contact details, and no call for the patient's cases.
	t.Run("case manager without a staff id sees no contact details", func(t *testing.T) {
		var out map[string]any
		errs := e.doWith(t, authHeader(staffToken(t, p, k, "case_manager", ""), "no-staff-id"), `{ patient(id: "1") { id email } }`, nil, &out)
		checkErrors(t, errs, []string{"patient.email"})
		if n := callsFor(calls(), "no-staff-id"); !maps.Equal(n, map[string]int{"patients": 1}) {
			t.Errorf("calls %v, want the patient only", n)
		}
	})

	// Closed cases, some with documents and some without.
	closed, _ := s.ListCases([]string{demo.StatusClosed}, nil, 1, 20)
	var withDocs, withoutDocs int64
	for _, c := range closed {
		if len(s.DocumentsByCase(c.ID)) > 0 {
			withDocs = c.ID
		} else {
			withoutDocs = c.ID
		}
	}
	if withDocs == 0 || withoutDocs == 0 {
		t.Fatalf("want closed cases with and without documents: %d, %d", withDocs, withoutDocs)
	}
	q := `{ a: case(id: "` + id(withDocs) + `") { id documents { id } } b: case(id: "` + id(withoutDocs) + `") { id documents { id } } }`

	t.Run("closed case's documents: not for a case manager, same error either way", func(t *testing.T) {
		data, errs := doAs(t, e, staffToken(t, p, k, "case_manager", strconv.FormatInt(manager, 10)), q)
		// Nor are they fetched: the case's status decides, before the
		// planner's documents call.
		var out json.RawMessage
		e.doWith(t, authHeader(staffToken(t, p, k, "case_manager", ""), "closed-docs-manager"), q, nil, &out)
		if n := callsFor(calls(), "closed-docs-manager"); n["documents"] != 0 || n["cases"] != 1 {
			t.Errorf("calls %v: want the cases alone, the closed cases' documents unfetched", n)
		}
		checkErrors(t, errs, []string{"a.documents", "b.documents"})
		if len(errs) == 2 && errs[0].Message != errs[1].Message {
			t.Errorf("the messages tell the cases apart: %q, %q", errs[0].Message, errs[1].Message)
		}
		want := `{"a":{"id":"` + id(withDocs) + `","documents":null},"b":{"id":"` + id(withoutDocs) + `","documents":null}}`
		if data != want {
			t.Errorf("data = %s, want %s", data, want)
		}
	})

	t.Run("closed case's documents: for a medical advisor", func(t *testing.T) {
		data, errs := doAs(t, e, staffToken(t, p, k, "medical_advisor", ""), q)
		var out json.RawMessage
		e.doWith(t, authHeader(staffToken(t, p, k, "medical_advisor", ""), "closed-docs-advisor"), q, nil, &out)
		if n := callsFor(calls(), "closed-docs-advisor"); n["documents"] == 0 || n["cases"] != 1 {
			t.Errorf("calls %v: want one cases call and the documents fetched", n)
		}
		if len(errs) > 0 {
			t.Fatal(jsonString(errs))
		}
		if !strings.Contains(data, `"documents":[{"id"`) || !strings.Contains(data, `"documents":[]`) {
			t.Errorf("data = %s", data)
		}
	})

	t.Run("open case's documents: for a case manager", func(t *testing.T) {
		_, errs := doAs(t, e, staffToken(t, p, k, "case_manager", ""), `{ case(id: "`+id(board[0].ID)+`") { documents { id } } }`)
		if len(errs) > 0 {
			t.Fatal(jsonString(errs))
		}
	})
}

// authHeader sends token with a request id, so that the calls made for the
// request can be told from a previous request's late ones (callsFor).
func authHeader(token, requestID string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + token}, "X-Request-Id": {requestID}}
}

// callsFor counts the recorded calls per service made for one request.
func callsFor(all []call, requestID string) map[string]int {
	n := map[string]int{}
	for _, c := range all {
		if c.requestID == requestID {
			n[c.service]++
		}
	}
	return n
}
