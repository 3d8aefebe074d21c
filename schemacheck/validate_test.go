package schemacheck

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

const validateSchema = `
type Query {
  case(id: ID!): Case
  cases(status: Status, first: Int @deprecated(reason: "use limit"), limit: Int): [Case!]!
}
type Mutation { update(input: UpdateInput!): Case }
type Case {
  id: ID!
  title: String!
  oldTitle: String @deprecated(reason: "use title")
  status: Status
}
enum Status { OPEN CLOSED @deprecated }
input UpdateInput { id: ID! title: String legacy: Boolean @deprecated(reason: "ignored") }
`

func TestValidateOperations(t *testing.T) {
	schema := mustSchema(t, validateSchema)
	src := func(name, text string) *ast.Source { return &ast.Source{Name: name, Input: text} }
	cases := []struct {
		name    string
		sources []*ast.Source
		want    []string // Problem.String()
	}{
		{"valid", []*ast.Source{src("a.graphql", "query A { case(id: 1) { id title } }")}, nil},
		{"unknown field",
			[]*ast.Source{src("a.graphql", "query A {\n  case(id: 1) { id nope }\n}")},
			[]string{`a.graphql:2:20: error: Cannot query field "nope" on type "Case".`}},
		{"parse error with its position",
			[]*ast.Source{src("a.graphql", "query A {\n  case(id: 1) {\n")},
			[]string{`a.graphql:3:1: error: Expected Name, found <EOF>`}},
		{"a fragment from another file",
			[]*ast.Source{
				src("a.graphql", "query A { case(id: 1) { ...F } }"),
				src("f.graphql", "fragment F on Case { id title }"),
			}, nil},
		{"an error in a shared fragment is reported once, in its own file",
			[]*ast.Source{
				src("a.graphql", "query A { case(id: 1) { ...F } }"),
				src("b.graphql", "query B { cases { ...F } }"),
				src("f.graphql", "fragment F on Case {\n  nope\n}"),
			},
			[]string{`f.graphql:2:3: error: Cannot query field "nope" on type "Case".`}},
		{"fragments reaching fragments in other files",
			[]*ast.Source{
				src("a.graphql", "query A { case(id: 1) { ...F } }"),
				src("f.graphql", "fragment F on Case { id ...G }"),
				src("g.graphql", "fragment G on Case { title }"),
			}, nil},
		{"unknown fragment",
			[]*ast.Source{src("a.graphql", "query A { case(id: 1) { ...Missing } }")},
			[]string{`a.graphql:1:28: error: Unknown fragment "Missing".`}},
		{"unused fragment is a warning",
			[]*ast.Source{src("f.graphql", "fragment F on Case { id }")},
			[]string{`f.graphql:1:1: warning: Fragment "F" is never used in any operation.`}},
		{"fragment defined twice across files",
			[]*ast.Source{
				src("a.graphql", "query A { case(id: 1) { ...F } }"),
				src("f.graphql", "fragment F on Case { id }"),
				src("g.graphql", "fragment F on Case { title }"),
			},
			[]string{`g.graphql:1:1: error: There can be only one fragment named "F"; it is also defined at f.graphql:1:1.`}},
		{"operation name used twice across files",
			[]*ast.Source{
				src("a.graphql", "query A { case(id: 1) { id } }"),
				src("b.graphql", "query A { cases { id } }"),
			},
			[]string{`b.graphql:1:1: error: There can be only one operation named "A"; it is also defined at a.graphql:1:1.`}},
		{"deprecated field, argument, enum value and input field are warnings",
			[]*ast.Source{src("a.graphql", `query A {
  cases(status: CLOSED, first: 3) { oldTitle }
}
mutation B {
  update(input: {id: 1, legacy: true}) { id }
}`)},
			[]string{
				`a.graphql:2:17: warning: Enum value Status.CLOSED is deprecated: No longer supported`,
				`a.graphql:2:25: warning: Argument Query.cases(first:) is deprecated: use limit`,
				`a.graphql:2:37: warning: Field Case.oldTitle is deprecated: use title`,
				`a.graphql:5:25: warning: Input field UpdateInput.legacy is deprecated: ignored`,
			}},
		{"deprecated enum value in a variable default",
			[]*ast.Source{src("a.graphql", "query A($s: Status = CLOSED) { cases(status: $s) { id } }")},
			[]string{`a.graphql:1:22: warning: Enum value Status.CLOSED is deprecated: No longer supported`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range ValidateOperations(schema, tc.sources) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// The repository's example operations are valid against the running schema
// and use nothing deprecated.
func TestRepoOperationsAreValid(t *testing.T) {
	code, stdout, stderr := runCLI(t, runningSchemaForTest(t), "validate", repoOperations)
	if code != ExitOK {
		t.Fatalf("validate exited %d\n%s%s", code, stdout, stderr)
	}
	files, err := expandPatterns([]string{repoOperations})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "../operations/CaseBoard.graphql") || len(files) < 5 {
		t.Errorf("operations found: %v", files)
	}
}
