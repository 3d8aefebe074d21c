package authz

import (
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/auth"
)

const testSchema = `
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

type Query {
  open: Int
  me: Int @authenticated
  secret: Secret
  either: Int @requiresScopes(scopes: [["a"], ["b"]])
  both: Int @requiresScopes(scopes: [["a", "b"]])
  thing: Thing
  things: [Thing!]!
  level: Level
}

type Secret @requiresScopes(scopes: [["s:read"]]) {
  id: ID!
  contact: String! @requiresScopes(scopes: [["s:contact"]])
}

interface Thing { id: ID! @requiresScopes(scopes: [["thing:id"]]) }
type Widget implements Thing { id: ID! name: String }

enum Level @authenticated { LOW HIGH }
`

func testPolicy(t *testing.T) (*Policy, *ast.Schema) {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func caller(scopes ...string) auth.Identity { return auth.Identity{Subject: "u1", Scopes: scopes} }

func TestAccess(t *testing.T) {
	p, _ := testPolicy(t)
	tests := []struct {
		name      string
		anonymous bool
		scopes    []string
		field     Coordinate
		denied    bool
	}{
		{"unguarded field, anonymous", true, nil, Coordinate{"Query", "open"}, false},
		{"@authenticated, anonymous", true, nil, Coordinate{"Query", "me"}, true},
		{"@authenticated, any identity", false, nil, Coordinate{"Query", "me"}, false},
		{"OR: neither", false, []string{"c"}, Coordinate{"Query", "either"}, true},
		{"OR: first", false, []string{"a"}, Coordinate{"Query", "either"}, false},
		{"OR: second", false, []string{"b"}, Coordinate{"Query", "either"}, false},
		{"AND: one of two", false, []string{"a"}, Coordinate{"Query", "both"}, true},
		{"AND: both", false, []string{"b", "a"}, Coordinate{"Query", "both"}, false},
		{"type-level: field returning the type", false, nil, Coordinate{"Query", "secret"}, true},
		{"type-level: with the scope", false, []string{"s:read"}, Coordinate{"Query", "secret"}, false},
		{"type-level: the type's own fields", false, nil, Coordinate{"Secret", "id"}, true},
		{"field-level below type-level: type scope only", false, []string{"s:read"}, Coordinate{"Secret", "contact"}, true},
		{"field-level below type-level: both", false, []string{"s:read", "s:contact"}, Coordinate{"Secret", "contact"}, false},
		{"field-level alone does not pass the type", false, []string{"s:contact"}, Coordinate{"Secret", "contact"}, true},
		{"interface field's directive reaches the object", false, nil, Coordinate{"Widget", "id"}, true},
		{"interface field, with scope", false, []string{"thing:id"}, Coordinate{"Widget", "id"}, false},
		{"object field the interface lacks", false, nil, Coordinate{"Widget", "name"}, false},
		{"enum type", true, nil, Coordinate{"Query", "level"}, true},
		{"requiresScopes implies authenticated", true, []string{"a"}, Coordinate{"Query", "either"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := p.For(caller(tc.scopes...), !tc.anonymous)
			rule, denied := a.Denied(tc.field.Type, tc.field.Field)
			if denied != tc.denied {
				t.Fatalf("Denied(%s) = %v, want %v (rule %+v)", tc.field, denied, tc.denied, rule)
			}
		})
	}
}

func TestNilAccessAllowsEverything(t *testing.T) {
	var a *Access
	if _, denied := a.Denied("Query", "me"); denied {
		t.Fatal("nil Access denied a field")
	}
	if got := a.DeniedIn(nil, &ast.OperationDefinition{}, nil); got != nil {
		t.Fatalf("nil Access: DeniedIn = %v", got)
	}
}

func TestRuleString(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Authenticated: true}, "an authenticated caller"},
		{Rule{Authenticated: true, Scopes: [][][]string{{{"a"}}}}, "the scope a"},
		{Rule{Authenticated: true, Scopes: [][][]string{{{"a", "b"}, {"c"}}}}, "the scopes a and b, or c"},
		{Rule{Authenticated: true, Scopes: [][][]string{{{"a"}}, {{"b"}}}}, "the scopes a; and b"},
	} {
		if got := tc.rule.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.rule, got, tc.want)
		}
	}
}

func TestMalformedRequiresScopes(t *testing.T) {
	src := strings.Replace(testSchema, `[["a"], ["b"]]`, `[[""]]`, 1)
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "bad.graphqls", Input: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPolicy(s); err == nil || !strings.Contains(err.Error(), "Query.either") {
		t.Fatalf("NewPolicy = %v, want an error naming Query.either", err)
	}
}

func TestDeniedIn(t *testing.T) {
	p, s := testPolicy(t)
	tests := []struct {
		name   string
		query  string
		vars   map[string]any
		scopes []string
		want   []string
	}{
		{"nothing guarded", `{ open }`, nil, nil, nil},
		{"type and field", `{ secret { id contact } open }`, nil, []string{"s:read"}, []string{"Secret.contact"}},
		{"every denied field once", `{ secret { id } again: secret { id } }`, nil, nil, []string{"Query.secret", "Secret.id"}},
		{"through a fragment", `{ ...F } fragment F on Query { both }`, nil, []string{"a"}, []string{"Query.both"}},
		{"@skip(if: true) is not selected", `query($s: Boolean!) { both @skip(if: $s) }`, map[string]any{"s": true}, nil, nil},
		{"@include(if: false) is not selected", `{ both @include(if: false) }`, nil, nil, nil},
		{"@skip(if: false) is", `{ both @skip(if: false) }`, nil, nil, []string{"Query.both"}},
		{"interface: every implementation", `{ thing { id } }`, nil, nil, []string{"Thing.id", "Widget.id"}},
		{"allowed", `{ secret { id contact } }`, nil, []string{"s:read", "s:contact"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(s, tc.query)
			if errs != nil {
				t.Fatal(errs)
			}
			var got []string
			for _, c := range p.For(caller(tc.scopes...), true).DeniedIn(s, doc.Operations[0], tc.vars) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("DeniedIn = %v, want %v", got, tc.want)
			}
		})
	}
}
