package resolvers

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Every policy the schema names has a function in the table, and every
// function in the table is named by the schema; what a policy needs is a
// declared relation.
func TestPoliciesRegistered(t *testing.T) {
	rs := newRelations()
	p := newPolicy(realSchema())
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
	if got := unregisteredPolicies(newPolicy(s), newRelations()); !slices.Equal(got, []string{"noSuchPolicy"}) {
		t.Fatalf("unregistered = %q, want [noSuchPolicy]", got)
	}
}
