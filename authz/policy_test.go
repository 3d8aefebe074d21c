package authz

import (
	"errors"
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const policySchema = `
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

type Query { patient: Patient }

type Patient @requiresScopes(scopes: [["p:read"]]) {
  name: String
  email: String @requiresScopes(scopes: [["p:contact"]]) @policy(policies: [["mine"], ["admin"]])
  notes: String @policy(policies: [["mine", "doctor"]])
}
`

// @policy is read into the Rule; Access hands a field's policies to the
// per-entity check only when the scopes let the field through.
func TestPolicyDirective(t *testing.T) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "p.graphqls", Input: policySchema})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.PolicyNames(); !slices.Equal(got, []string{"admin", "doctor", "mine"}) {
		t.Errorf("PolicyNames = %q", got)
	}
	withContact := p.For(caller("p:read", "p:contact"), true)
	if got := withContact.Policies("Patient", "email"); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("Policies(Patient.email) = %q", got)
	}
	if got := withContact.Policies("Patient", "name"); got != nil {
		t.Errorf("Policies(Patient.name) = %q, want none", got)
	}
	noContact := p.For(caller("p:read"), true)
	if _, denied := noContact.Denied("Patient", "email"); !denied {
		t.Error("email without its scope not denied")
	}
	if got := noContact.Policies("Patient", "email"); got != nil {
		t.Errorf("a field denied by scope still has policies to check: %q", got)
	}
	if got := noContact.Policies("Patient", "notes"); len(got) != 1 {
		t.Errorf("Policies(Patient.notes) = %q", got)
	}
	var none *Access
	if none.Policies("Patient", "email") != nil {
		t.Error("a nil Access has policies")
	}
	r, _ := p.Rule(Coordinate{"Patient", "email"})
	if got, want := (&Error{Coordinate{"Patient", "email"}, Rule{Policies: r.Policies}}).Error(),
		"not authorized to see Patient.email: it needs the policies mine, or admin"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestAllowsPolicies(t *testing.T) {
	lists := [][][]string{{{"a", "b"}, {"c"}}}
	boom := errors.New("boom")
	tests := []struct {
		name string
		true []string
		fail string
		want bool
		err  error
	}{
		{name: "a and b", true: []string{"a", "b"}, want: true},
		{name: "c", true: []string{"c"}, want: true},
		{name: "a alone", true: []string{"a"}, want: false},
		{name: "none", want: false},
		{name: "an error", fail: "a", err: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AllowsPolicies(lists, func(n string) (bool, error) {
				if n == tc.fail {
					return false, boom
				}
				return slices.Contains(tc.true, n), nil
			})
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("got %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestMalformedPolicy(t *testing.T) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "p.graphqls", Input: `
directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION
type Query { a: Int @policy(policies: []) }`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPolicy(s); err == nil {
		t.Fatal("an empty @policy accepted")
	}
}
