package schemacheck

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// mustSchema parses SDL or fails the test.
func mustSchema(t testing.TB, sdl string) *ast.Schema {
	t.Helper()
	s, err := parseSchema("test.graphqls", sdl)
	if err != nil {
		t.Fatalf("schema does not parse: %v\n%s", err, sdl)
	}
	return s
}

// want is the part of a Change a table test asserts: its message is covered
// by the golden files.
type want struct {
	sev   Severity
	typ   ChangeType
	coord string
}

func (w want) String() string { return fmt.Sprintf("%s %s %s", w.sev, w.typ, w.coord) }

// diffCase is a pair of small schemas and the changes between them.
type diffCase struct {
	name      string
	base, new string
	want      []want
}

// diffCases pairs small schemas, one case per judgement. Every change type
// with every severity it can have appears here (TestDiffCoversEveryChangeType).
func diffCases() []diffCase {
	return []diffCase{
		// Types and roots.
		{"no change, other order and an extension",
			"type Query { a: Int b: String }",
			"type Query { b: String }\nextend type Query { a: Int }",
			nil},
		{"type added", "type Query { a: Int }", "type Query { a: Int }\ntype B { x: Int }",
			[]want{{Safe, TypeAdded, "B"}}},
		{"type removed", "type Query { a: Int }\ntype B { x: Int }", "type Query { a: Int }",
			[]want{{Breaking, TypeRemoved, "B"}}},
		{"type kind changed", "type Query { a: Int }\ntype B { x: Int }", "type Query { a: Int }\ninput B { x: Int }",
			[]want{{Breaking, TypeKindChanged, "B"}}},
		{"root type added", "type Query { a: Int }", "type Query { a: Int }\ntype Mutation { m: Int }",
			[]want{{Safe, TypeAdded, "Mutation"}, {Safe, RootTypeAdded, "schema"}}},
		{"root type removed", "type Query { a: Int }\ntype Mutation { m: Int }", "type Query { a: Int }",
			[]want{{Breaking, TypeRemoved, "Mutation"}, {Breaking, RootTypeRemoved, "schema"}}},
		{"root type changed",
			"schema { query: Q1 }\ntype Q1 { a: Int }\ntype Q2 { a: Int }",
			"schema { query: Q2 }\ntype Q1 { a: Int }\ntype Q2 { a: Int }",
			[]want{{Breaking, RootTypeChanged, "schema"}}},

		// Fields.
		{"field added", "type Query { a: Int }", "type Query { a: Int b: Int }",
			[]want{{Safe, FieldAdded, "Query.b"}}},
		{"field removed", "type Query { a: Int b: Int }", "type Query { a: Int }",
			[]want{{Breaking, FieldRemoved, "Query.b"}}},
		{"deprecated field removed", `type Query { a: Int b: Int @deprecated }`, "type Query { a: Int }",
			[]want{{Breaking, FieldRemoved, "Query.b"}}},
		{"output String to String! is safe", "type Query { a: String }", "type Query { a: String! }",
			[]want{{Safe, FieldTypeChanged, "Query.a"}}},
		{"output [String] to [String!]! is safe", "type Query { a: [String] }", "type Query { a: [String!]! }",
			[]want{{Safe, FieldTypeChanged, "Query.a"}}},
		{"output String! to String breaks", "type Query { a: String! }", "type Query { a: String }",
			[]want{{Breaking, FieldTypeChanged, "Query.a"}}},
		{"output [String!] to [String] breaks", "type Query { a: [String!] }", "type Query { a: [String] }",
			[]want{{Breaking, FieldTypeChanged, "Query.a"}}},
		{"output String to Int breaks", "type Query { a: String }", "type Query { a: Int }",
			[]want{{Breaking, FieldTypeChanged, "Query.a"}}},
		{"output String to [String] breaks", "type Query { a: String }", "type Query { a: [String] }",
			[]want{{Breaking, FieldTypeChanged, "Query.a"}}},

		// Arguments.
		{"nullable argument added", "type Query { a: Int }", "type Query { a(x: Int): Int }",
			[]want{{Safe, ArgAdded, "Query.a(x:)"}}},
		{"non-null argument with default added", "type Query { a: Int }", "type Query { a(x: Int! = 1): Int }",
			[]want{{Safe, ArgAdded, "Query.a(x:)"}}},
		{"non-null argument added", "type Query { a: Int }", "type Query { a(x: Int!): Int }",
			[]want{{Breaking, ArgAddedNonNull, "Query.a(x:)"}}},
		{"argument removed", "type Query { a(x: Int): Int }", "type Query { a: Int }",
			[]want{{Breaking, ArgRemoved, "Query.a(x:)"}}},
		{"argument String to String! breaks", "type Query { a(x: String): Int }", "type Query { a(x: String!): Int }",
			[]want{{Breaking, ArgTypeChanged, "Query.a(x:)"}}},
		{"argument String! to String is safe", "type Query { a(x: String!): Int }", "type Query { a(x: String): Int }",
			[]want{{Safe, ArgTypeChanged, "Query.a(x:)"}}},
		{"argument [Int!]! to [Int] is safe", "type Query { a(x: [Int!]!): Int }", "type Query { a(x: [Int]): Int }",
			[]want{{Safe, ArgTypeChanged, "Query.a(x:)"}}},
		{"argument Int to Float breaks", "type Query { a(x: Int): Int }", "type Query { a(x: Float): Int }",
			[]want{{Breaking, ArgTypeChanged, "Query.a(x:)"}}},
		{"argument Int to [Int] breaks", "type Query { a(x: Int): Int }", "type Query { a(x: [Int]): Int }",
			[]want{{Breaking, ArgTypeChanged, "Query.a(x:)"}}},
		{"arguments of an added field are not reported", "type Query { a: Int }", "type Query { a: Int b(x: Int!): Int }",
			[]want{{Safe, FieldAdded, "Query.b"}}},

		// Input fields.
		{"nullable input field added",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int y: String }",
			[]want{{Safe, InputFieldAdded, "I.y"}}},
		{"non-null input field added",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int y: String! }",
			[]want{{Breaking, InputFieldAddedNonNull, "I.y"}}},
		{"non-null input field with default added",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			`type Query { a(i: I): Int }` + "\n" + `input I { x: Int y: String! = "z" }`,
			[]want{{Safe, InputFieldAdded, "I.y"}}},
		{"input field removed",
			"type Query { a(i: I): Int }\ninput I { x: Int y: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			[]want{{Breaking, InputFieldRemoved, "I.y"}}},
		{"input field Int to Int! breaks",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int! }",
			[]want{{Breaking, InputFieldTypeChanged, "I.x"}}},
		{"input field Int! to Int is safe",
			"type Query { a(i: I): Int }\ninput I { x: Int! }",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			[]want{{Safe, InputFieldTypeChanged, "I.x"}}},

		// Default values.
		{"default added to a nullable argument", "type Query { a(x: Int): Int }", "type Query { a(x: Int = 5): Int }",
			[]want{{Dangerous, DefaultValueAdded, "Query.a(x:)"}}},
		{"default added to a non-null argument", "type Query { a(x: Int!): Int }", "type Query { a(x: Int! = 5): Int }",
			[]want{{Safe, DefaultValueAdded, "Query.a(x:)"}}},
		{"default changed", "type Query { a(x: Int = 5): Int }", "type Query { a(x: Int = 6): Int }",
			[]want{{Dangerous, DefaultValueChanged, "Query.a(x:)"}}},
		{"default removed from a nullable argument", "type Query { a(x: Int = 5): Int }", "type Query { a(x: Int): Int }",
			[]want{{Dangerous, DefaultValueRemoved, "Query.a(x:)"}}},
		{"default removed from a non-null argument", "type Query { a(x: Int! = 5): Int }", "type Query { a(x: Int!): Int }",
			[]want{{Breaking, DefaultValueRemoved, "Query.a(x:)"}}},
		{"default of an input field changed",
			"type Query { a(i: I): Int }\ninput I { x: Int = 1 }",
			"type Query { a(i: I): Int }\ninput I { x: Int = 2 }",
			[]want{{Dangerous, DefaultValueChanged, "I.x"}}},
		{"object default with its fields reordered is unchanged",
			"type Query { a(i: I = {x: 1, y: 2}): Int }\ninput I { x: Int y: Int }",
			"type Query { a(i: I = {y: 2, x: 1}): Int }\ninput I { x: Int y: Int }",
			nil},
		{"list default changed", "type Query { a(x: [Int] = [1, 2]): Int }", "type Query { a(x: [Int] = [2, 1]): Int }",
			[]want{{Dangerous, DefaultValueChanged, "Query.a(x:)"}}},

		// Enums.
		{"enum value added", "type Query { a: E }\nenum E { A }", "type Query { a: E }\nenum E { A B }",
			[]want{{Dangerous, EnumValueAdded, "E.B"}}},
		{"enum value removed", "type Query { a: E }\nenum E { A B }", "type Query { a: E }\nenum E { A }",
			[]want{{Breaking, EnumValueRemoved, "E.B"}}},

		// Unions.
		{"union member added",
			"type Query { a: U }\ntype A { x: Int }\ntype B { y: Int }\nunion U = A",
			"type Query { a: U }\ntype A { x: Int }\ntype B { y: Int }\nunion U = A | B",
			[]want{{Dangerous, UnionMemberAdded, "U"}}},
		{"union member removed",
			"type Query { a: U }\ntype A { x: Int }\ntype B { y: Int }\nunion U = A | B",
			"type Query { a: U }\ntype A { x: Int }\ntype B { y: Int }\nunion U = A",
			[]want{{Breaking, UnionMemberRemoved, "U"}}},

		// Interfaces.
		{"interface added to a type",
			"type Query { a: A }\ninterface N { id: ID }\ntype A { id: ID }",
			"type Query { a: A }\ninterface N { id: ID }\ntype A implements N { id: ID }",
			[]want{{Dangerous, InterfaceAdded, "A"}}},
		{"interface removed from a type",
			"type Query { a: A }\ninterface N { id: ID }\ntype A implements N { id: ID }",
			"type Query { a: A }\ninterface N { id: ID }\ntype A { id: ID }",
			[]want{{Breaking, InterfaceRemoved, "A"}}},
		{"field removed from an interface and its implementation",
			"type Query { a: A }\ninterface N { id: ID x: Int }\ntype A implements N { id: ID x: Int }",
			"type Query { a: A }\ninterface N { id: ID }\ntype A implements N { id: ID }",
			[]want{{Breaking, FieldRemoved, "A.x"}, {Breaking, FieldRemoved, "N.x"}}},

		// Directive definitions.
		{"directive added", "type Query { a: Int }", "directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Safe, DirectiveAdded, "@d"}}},
		{"directive removed", "directive @d on FIELD\ntype Query { a: Int }", "type Query { a: Int }",
			[]want{{Breaking, DirectiveRemoved, "@d"}}},
		{"directive location added", "directive @d on FIELD\ntype Query { a: Int }", "directive @d on FIELD | FRAGMENT_SPREAD\ntype Query { a: Int }",
			[]want{{Safe, DirectiveLocationAdded, "@d"}}},
		{"directive location removed", "directive @d on FIELD | FRAGMENT_SPREAD\ntype Query { a: Int }", "directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Breaking, DirectiveLocationRemoved, "@d"}}},
		{"directive became repeatable", "directive @d on FIELD\ntype Query { a: Int }", "directive @d repeatable on FIELD\ntype Query { a: Int }",
			[]want{{Safe, DirectiveRepeatableAdded, "@d"}}},
		{"directive no longer repeatable", "directive @d repeatable on FIELD\ntype Query { a: Int }", "directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Breaking, DirectiveRepeatableRemoved, "@d"}}},
		{"nullable directive argument added", "directive @d on FIELD\ntype Query { a: Int }", "directive @d(x: Int) on FIELD\ntype Query { a: Int }",
			[]want{{Safe, ArgAdded, "@d(x:)"}}},
		{"non-null directive argument added", "directive @d on FIELD\ntype Query { a: Int }", "directive @d(x: Int!) on FIELD\ntype Query { a: Int }",
			[]want{{Breaking, ArgAddedNonNull, "@d(x:)"}}},
		{"directive argument removed", "directive @d(x: Int) on FIELD\ntype Query { a: Int }", "directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Breaking, ArgRemoved, "@d(x:)"}}},
		{"built-in directives are not compared", "type Query { a: Int }", "directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Safe, DirectiveAdded, "@d"}}},

		// Applied directives.
		{"directive applied to a field",
			"directive @auth(role: String) on FIELD_DEFINITION\ntype Query { a: Int }",
			`directive @auth(role: String) on FIELD_DEFINITION` + "\n" + `type Query { a: Int @auth(role: "admin") }`,
			[]want{{Dangerous, DirectiveUsageAdded, "Query.a"}}},
		{"directive removed from a field",
			`directive @auth(role: String) on FIELD_DEFINITION` + "\n" + `type Query { a: Int @auth(role: "admin") }`,
			"directive @auth(role: String) on FIELD_DEFINITION\ntype Query { a: Int }",
			[]want{{Dangerous, DirectiveUsageRemoved, "Query.a"}}},
		{"applied directive's arguments changed",
			`directive @auth(role: String) on FIELD_DEFINITION` + "\n" + `type Query { a: Int @auth(role: "admin") }`,
			`directive @auth(role: String) on FIELD_DEFINITION` + "\n" + `type Query { a: Int @auth(role: "staff") }`,
			[]want{{Dangerous, DirectiveUsageChanged, "Query.a"}}},
		// The authorization directives, as Apollo Router and Cosmo define
		// them: a scope added to an inner list (AND) or as an alternative
		// (OR) changes who sees the field.
		{"requiresScopes: a scope ANDed",
			scopesDir + `type Query { a: Int @requiresScopes(scopes: [["cases:read"]]) }`,
			scopesDir + `type Query { a: Int @requiresScopes(scopes: [["cases:read", "patients:read"]]) }`,
			[]want{{Dangerous, DirectiveUsageChanged, "Query.a"}}},
		{"requiresScopes: an alternative ORed",
			scopesDir + `type Query { a: T } type T @requiresScopes(scopes: [["a"]]) { b: Int }`,
			scopesDir + `type Query { a: T } type T @requiresScopes(scopes: [["a"], ["b"]]) { b: Int }`,
			[]want{{Dangerous, DirectiveUsageChanged, "T"}}},
		{"authenticated added to a type",
			scopesDir + `type Query { a: T } type T { b: Int }`,
			scopesDir + `type Query { a: T } type T @authenticated { b: Int }`,
			[]want{{Dangerous, DirectiveUsageAdded, "T"}}},
		{"specifiedBy url changed",
			`type Query { a: D }` + "\n" + `scalar D @specifiedBy(url: "https://a")`,
			`type Query { a: D }` + "\n" + `scalar D @specifiedBy(url: "https://b")`,
			[]want{{Dangerous, DirectiveUsageChanged, "D"}}},
		{"input became oneOf",
			"type Query { a(i: I): Int }\ninput I { x: Int y: Int }",
			"type Query { a(i: I): Int }\ninput I @oneOf { x: Int y: Int }",
			[]want{{Breaking, OneOfAdded, "I"}}},
		{"input no longer oneOf",
			"type Query { a(i: I): Int }\ninput I @oneOf { x: Int y: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int y: Int }",
			[]want{{Safe, OneOfRemoved, "I"}}},

		// Deprecations.
		{"field deprecated", "type Query { a: Int }", `type Query { a: Int @deprecated(reason: "use b") }`,
			[]want{{Safe, DeprecationAdded, "Query.a"}}},
		{"field no longer deprecated", `type Query { a: Int @deprecated(reason: "use b") }`, "type Query { a: Int }",
			[]want{{Dangerous, DeprecationRemoved, "Query.a"}}},
		{"deprecation reason changed", `type Query { a: Int @deprecated }`, `type Query { a: Int @deprecated(reason: "use b") }`,
			[]want{{Safe, DeprecationReasonChanged, "Query.a"}}},
		{"default deprecation reason spelled out is unchanged", `type Query { a: Int @deprecated }`, `type Query { a: Int @deprecated(reason: "No longer supported") }`,
			nil},
		{"enum value deprecated", "type Query { a: E }\nenum E { A B }", "type Query { a: E }\nenum E { A B @deprecated }",
			[]want{{Safe, DeprecationAdded, "E.B"}}},
		{"argument deprecated", "type Query { a(x: Int): Int }", "type Query { a(x: Int @deprecated): Int }",
			[]want{{Safe, DeprecationAdded, "Query.a(x:)"}}},
		{"input field deprecated",
			"type Query { a(i: I): Int }\ninput I { x: Int }",
			"type Query { a(i: I): Int }\ninput I { x: Int @deprecated }",
			[]want{{Safe, DeprecationAdded, "I.x"}}},

		// Descriptions.
		{"type description added", "type Query { a: Int }", `"The root." type Query { a: Int }`,
			[]want{{Safe, DescriptionAdded, "Query"}}},
		{"field description changed", `type Query { "A." a: Int }`, `type Query { "An a." a: Int }`,
			[]want{{Safe, DescriptionChanged, "Query.a"}}},
		{"argument description removed", `type Query { a("X." x: Int): Int }`, `type Query { a(x: Int): Int }`,
			[]want{{Safe, DescriptionRemoved, "Query.a(x:)"}}},
		{"enum value description added", "type Query { a: E }\nenum E { A }", "type Query { a: E }\nenum E { \"The A.\" A }",
			[]want{{Safe, DescriptionAdded, "E.A"}}},
		{"directive description added", "directive @d on FIELD\ntype Query { a: Int }", "\"D.\" directive @d on FIELD\ntype Query { a: Int }",
			[]want{{Safe, DescriptionAdded, "@d"}}},
		{"schema description added", "schema { query: Query }\ntype Query { a: Int }", "\"The API.\" schema { query: Query }\ntype Query { a: Int }",
			[]want{{Safe, DescriptionAdded, "schema"}}},
		{"block and quoted descriptions with the same text are equal", `type Query { "A." a: Int }`, "type Query {\n  \"\"\"\n  A.\n  \"\"\"\n  a: Int\n}",
			nil},
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range diffCases() {
		t.Run(tc.name, func(t *testing.T) {
			base, next := mustSchema(t, tc.base), mustSchema(t, tc.new)
			var got []want
			for _, c := range Diff(base, next) {
				got = append(got, want{c.Severity, c.Type, c.Coordinate})
				if c.Message == "" {
					t.Errorf("%s %s has no message", c.Type, c.Coordinate)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Diff:\n got %v\nwant %v", got, tc.want)
			}
			// The other way round, everything added is removed and vice versa:
			// no change is invisible from one side.
			if len(tc.want) > 0 && len(Diff(next, base)) == 0 {
				t.Errorf("reverse Diff found nothing")
			}
		})
	}
}

// TestDiffCoversEveryChangeType keeps the table honest: every change type
// appears in diffCases with every severity ChangeTypes says it can have, and
// Diff never produces a type or severity the table does not list.
func TestDiffCoversEveryChangeType(t *testing.T) {
	seen := map[ChangeType]map[Severity]bool{}
	for _, tc := range diffCases() {
		for _, w := range tc.want {
			if seen[w.typ] == nil {
				seen[w.typ] = map[Severity]bool{}
			}
			seen[w.typ][w.sev] = true
		}
	}
	listed := map[ChangeType]bool{}
	for _, info := range ChangeTypes() {
		listed[info.Type] = true
		for _, sev := range info.Severities {
			if !seen[info.Type][sev] {
				t.Errorf("no diff case for %s with severity %s", info.Type, sev)
			}
		}
		for sev := range seen[info.Type] {
			if !slices.Contains(info.Severities, sev) {
				t.Errorf("%s is produced as %s, which ChangeTypes does not list", info.Type, sev)
			}
		}
	}
	for typ := range seen {
		if !listed[typ] {
			t.Errorf("%s is produced but missing from ChangeTypes", typ)
		}
	}
}

func TestDiffIdenticalRealSchemaHasNoChanges(t *testing.T) {
	s := runningSchemaForTest(t)
	if changes := Diff(s, s); len(changes) != 0 {
		t.Errorf("Diff(s, s) = %v", changes)
	}
}

func TestDiffNilSchemas(t *testing.T) {
	s := mustSchema(t, "type Query { a: Int }")
	if got := Diff(nil, nil); len(got) != 0 {
		t.Errorf("Diff(nil, nil) = %v", got)
	}
	got := Diff(nil, s)
	var types []string
	for _, c := range got {
		types = append(types, string(c.Type))
	}
	if strings.Join(types, " ") != "TYPE_ADDED ROOT_TYPE_ADDED" {
		t.Errorf("Diff(nil, s) = %v", got)
	}
}

// scopesDir declares the authorization directives as schema.graphqls does.
const scopesDir = "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n" +
	"directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n"
