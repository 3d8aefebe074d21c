package schemacheck

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// checkRoundTrip asserts Print's promises for s: its output parses, printing
// that again gives the same text, and nothing the diff looks at was lost.
func checkRoundTrip(t testing.TB, s *ast.Schema) {
	t.Helper()
	printed := Print(s)
	reparsed, err := parseSchema("printed.graphqls", printed)
	if err != nil {
		t.Fatalf("printed schema does not parse: %v\n%s", err, printed)
	}
	if again := Print(reparsed); again != printed {
		t.Fatalf("print is not idempotent:\n--- first\n%s\n--- second\n%s", printed, again)
	}
	if changes := Diff(s, reparsed); len(changes) != 0 {
		t.Fatalf("printing lost something: %v\n%s", changes, printed)
	}
}

func TestPrintRoundTrip(t *testing.T) {
	cases := []struct{ name, sdl string }{
		{"minimal", "type Query { a: Int }"},
		{"no schema definition, roots by name", "type Query { a: Int }\ntype Mutation { b: Int }\ntype Subscription { c: Int }"},
		{"roots with other names", "schema { query: Root mutation: Change }\ntype Root { a: Int }\ntype Change { b: Int }\ntype Mutation { c: Int }"},
		{"schema directives", "directive @link(url: String) on SCHEMA\nschema @link(url: \"x\") { query: Query }\ntype Query { a: Int }"},
		{"authorization directives", "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n" +
			"directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n" +
			`type Query @authenticated { a: Int @requiresScopes(scopes: [["a", "b"], ["c"]]) }`},
		{"schema directives without roots", "directive @link(url: String) on SCHEMA\nextend schema @link(url: \"x\")\ntype T { a: Int }"},
		{"everything",
			`"""
Multi-line
  indented
schema description
"""
schema { query: Query }
"A repeatable directive."
directive @tag(name: String!, "why" why: [Int] = [1, 2]) repeatable on FIELD_DEFINITION | OBJECT | UNION
type Query implements Node @tag(name: "q") {
  id: ID!
  "described" node(id: ID! = "1" @deprecated, other: String = "a\"b\\c\nd"): Node @tag(name: "x") @tag(name: "y")
  list(a: [[Int!]]! = [[1], [2, 3]], obj: In = {a: 1, b: {c: [A, B]}}): [[String]!]
}
interface Node { id: ID! }
interface Named implements Node { id: ID! name: String }
union U @tag(name: "u") = Query
enum E { A @deprecated(reason: "gone") B }
input In @oneOf { a: Int b: In2 }
input In2 { c: [E!] = [A] d: Float = 1.5e3 e: Boolean = false f: String = null }
scalar S @specifiedBy(url: "https://example.com")`},
		{"descriptions that a block string cannot carry",
			"type Query {\n" +
				`  "  leading spaces\nsecond" a: Int` + "\n" +
				`  "trailing newline\n" b: Int` + "\n" +
				`  "\nleading newline" c: Int` + "\n" +
				`  "carriage\r\nreturn" d: Int` + "\n" +
				`  "control \u0001 char\nx" e: Int` + "\n" +
				`  "triple \"\"\" quotes\nand \\\"\"\" escaped" f: Int` + "\n" +
				`  "  all\n  indented" g: Int` + "\n" +
				`  "blank\n\n\nlines" h: Int` + "\n" +
				`  "whitespace line\n   \nx" i: Int` + "\n" +
				`  "tab\tand unicode ✓ \u2028" j: Int` + "\n" +
				`  "ends with quote\n\"" k: Int` + "\n" +
				"}"},
		{"description with invalid UTF-8", "type Query {\n  \"bad \xff byte\\nx\" a: Int\n}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkRoundTrip(t, mustSchema(t, tc.sdl))
		})
	}
	t.Run("running schema", func(t *testing.T) {
		checkRoundTrip(t, runningSchemaForTest(t))
	})
}

func TestPrintLeavesOutBuiltins(t *testing.T) {
	got := Print(mustSchema(t, "type Query { a: String }"))
	want := "schema {\n  query: Query\n}\n\ntype Query {\n  a: String\n}\n"
	if got != want {
		t.Errorf("Print:\n%s\nwant:\n%s", got, want)
	}
	for _, builtin := range []string{"__schema", "__Type", "scalar String", "@skip", "@deprecated"} {
		if strings.Contains(got, builtin) {
			t.Errorf("output contains the built-in %s", builtin)
		}
	}
}

func TestPrintNil(t *testing.T) {
	if got := Print(nil); got != "" {
		t.Errorf("Print(nil) = %q", got)
	}
}

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"plain":        `"plain"`,
		`a"b\c`:        `"a\"b\\c"`,
		"\n\r\t\b\f":   `"\n\r\t\b\f"`,
		"\x01\x1f\x7f": `"\u0001\u001F\u007F"`,
		"ü ✓":          `"ü ✓"`,
		"bad \xff":     "\"bad \uFFFD\"",
	}
	for in, want := range cases {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
