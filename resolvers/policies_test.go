package resolvers

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/auth"
)

// Every policy the schema names has a function in the table, and every
// function in the table is named by the schema; what a policy needs is a
// declared relation.
func TestPoliciesRegistered(t *testing.T) {
	rs := newRelations()
	p := testPolicy(t, realSchema())
	if missing := unregisteredPolicies(p, rs); len(missing) > 0 {
		t.Errorf("the schema names policies with no function in newPolicies: %q", missing)
	}
	used := p.PolicyNames()
	for name, pol := range rs.policies {
		if !slices.Contains(used, name) {
			t.Errorf("policy %q is registered but the schema never names it", name)
		}
		for _, d := range pol.needs {
			if !slices.Contains(rs.all, d) {
				t.Errorf("policy %q needs %s, which is not a declared relation", name, d.coordinate())
			}
		}
	}
}

// The check itself: a schema naming a policy the table lacks is caught.
func TestUnregisteredPolicyCaught(t *testing.T) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "p.graphqls", Input: `
directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION
type Query { a: Int @policy(policies: [["admin", "noSuchPolicy"]]) }`})
	if err != nil {
		t.Fatal(err)
	}
	if got := unregisteredPolicies(testPolicy(t, s), newRelations()); !slices.Equal(got, []string{"noSuchPolicy"}) {
		t.Fatalf("unregistered = %q, want [noSuchPolicy]", got)
	}
}

// What deciding a @policy loads depends on the caller: nothing for a role
// that holds an alternative, nor for a policy the caller alone refuses.
func TestPolicyNeedsByCaller(t *testing.T) {
	rs := newRelations()
	contact := [][]string{{"assignedToCaller"}, {"admin"}}
	manager := caller{Identity: auth.Identity{Subject: "m", Roles: []string{"case_manager"}, StaffID: "2"}, ok: true}
	tests := []struct {
		name string
		c    caller
		want []*decl
	}{
		{"a case manager with a staff id: the patient's cases", manager, []*decl{&rs.patientCases.decl}},
		{"a case manager without one: nothing", caller{Identity: auth.Identity{Subject: "m", Roles: []string{"case_manager"}}, ok: true}, nil},
		{"an admin: nothing", caller{Identity: auth.Identity{Subject: "a", Roles: []string{"admin"}, StaffID: "1"}, ok: true}, nil},
		{"anonymous: nothing", caller{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rs.needs(tc.c, contact); !slices.Equal(got, tc.want) {
				t.Fatalf("needs = %v, want %v", got, tc.want)
			}
		})
	}
	// caseOpen loads the case of a document.uploaded event; on a case,
	// the entity itself, that relation is not the case's, so it loads
	// nothing there. A medical advisor's alternative holds at once.
	closedDocs := [][]string{{"caseOpen"}, {"medicalAdvisor"}}
	if got := rs.needs(manager, closedDocs); !slices.Equal(got, []*decl{&rs.documentUploadedEventCase.decl}) {
		t.Errorf("caseOpen needs %v, want the event's case", got)
	}
	if rs.Case.edge(&rs.documentUploadedEventCase.decl) != nil {
		t.Errorf("the event's case is a relation of Case: deciding caseOpen on a case would load it")
	}
	advisor := caller{Identity: auth.Identity{Subject: "d", Roles: []string{"medical_advisor"}}, ok: true}
	if got := rs.needs(advisor, closedDocs); len(got) != 0 {
		t.Errorf("a medical advisor's closed-case documents need %v, want nothing", got)
	}
}
