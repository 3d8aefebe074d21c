package graphqlhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const costSchema = `
type Query {
  items(first: Int): ItemConnection!
  item(id: ID!): Item
  tags: [Tag!]!
}
type ItemConnection { totalCount: Int! nodes: [Item!]! edges: [ItemEdge!]! }
type ItemEdge { cursor: String! node: Item! }
type Item { id: ID! name: String! owner: Person parts: [Part!]! }
type Person { name: String! }
type Part { name: String! }
type Tag { name: String! }
`

func newLimits(t *testing.T, l Limits) *Limits {
	t.Helper()
	l.Schema = gqlparser.MustLoadSchema(&ast.Source{Input: costSchema})
	l.Cost = &CostModel{
		Calls:     map[string]int{"Item.owner": 1},
		ListSizes: map[string]ListSize{"Query.items": {SlicingArgument: "first", Default: 10, SizedFields: []string{"nodes", "edges"}}, "Item.parts": {Default: 3}},
	}
	if err := l.Validate(nil); err != nil {
		t.Fatal(err)
	}
	return &l
}

func check(l *Limits, query string, vars map[string]any) string {
	err := l.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: query, Variables: vars})
	if err == nil {
		return ""
	}
	return err.Extensions["code"].(string) + ": " + err.Message
}

func TestCost(t *testing.T) {
	l := newLimits(t, Limits{MaxCost: 1 << 30})
	cost := func(q string, vars map[string]any) int {
		doc, err := gqlparser.LoadQuery(l.Schema, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		c := &costWalk{l: l, vars: vars, frags: newFragments(doc)}
		return c.selection(doc.Operations[0].SelectionSet, l.Schema.Query)
	}
	tests := []struct {
		query string
		vars  map[string]any
		want  int
	}{
		{`{ item(id: 1) { id name } }`, nil, 1},
		{`{ item(id: 1) { owner { name } } }`, nil, 1 + 2},
		{`{ items(first: 4) { totalCount nodes { id } } }`, nil, 1 + 4*1},
		{`{ items { nodes { id } } }`, nil, 1 + 10},
		{`query($n: Int) { items(first: $n) { nodes { owner { name } } } }`, map[string]any{"n": json.Number("5")}, 1 + 5*(1+2)},
		{`{ items(first: 2) { edges { node { parts { name } } } } }`, nil, 1 + 2*(1+(1+(1+3*0)))},
		{`{ tags { name } }`, nil, 1},
		{`{ ...F } fragment F on Query { items(first: 3) { nodes { id } } }`, nil, 1 + 3},
	}
	for _, tc := range tests {
		if got := cost(tc.query, tc.vars); got != tc.want {
			t.Errorf("cost(%s) = %d, want %d", tc.query, got, tc.want)
		}
	}
}

// Hostile documents are refused by the limit that catches them, fast, and
// before gqlgen parses or validates them.
func TestHostileDocuments(t *testing.T) {
	l := newLimits(t, Limits{})
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: tags { name }", i)
		}
		b.WriteString(" }")
		return b.String()
	}
	nested := func(depth int) string {
		// item { parts { ... } } is not recursive in this schema, so nest
		// fragments-free selections of an unknown field: depth counts
		// before validation.
		return strings.Repeat("{ a ", depth) + strings.Repeat("}", depth)
	}
	fragmentBomb := func(levels int) string {
		var b strings.Builder
		b.WriteString("{ ...F0 }")
		for i := range levels {
			fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}
		fmt.Fprintf(&b, " fragment F%d on Query { tags { name } }", levels)
		return b.String()
	}
	tests := []struct {
		name, query string
		wantCode    string
	}{
		{"10,000 aliases", aliases(10000), CodeTooManyTokens},
		{"40 aliases", aliases(40), CodeTooManyAliases},
		{"200 levels deep", nested(200), CodeQueryTooDeep},
		{"directive repetition", `{ tags @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) @include(if: true) { name } }`, CodeTooManyDirectives},
		{"too many root fields", "{" + strings.Repeat(" tags { name }", 25) + " }", CodeTooManyRootFields},
		{"too costly", `{ items(first: 5000) { nodes { owner { name } parts { name } } } }`, CodeQueryTooComplex},
		// Each fragment is measured once, so the walk is linear; the estimate is
		// exponential, as the document is, and refused.
		{"fragment bomb", fragmentBomb(40), CodeQueryTooComplex},
		{"fragment cycle does not loop", `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, ""},
		{"syntax errors are left to gqlgen", `{ tags {`, ""},
		{"fine", `{ items(first: 10) { nodes { owner { name } } } }`, ""},
		// Validation compares every pair of selections that merge at one
		// path: these bound the pairs before it runs.
		{"14,000 repeats of one field", `{ items(first: 1) { nodes { ` + strings.Repeat("__typename ", 14000) + `} } }`, CodeTooManyFields},
		{"31 repeats of one field", `{ tags { ` + strings.Repeat("name ", 31) + `} }`, CodeFieldRepeated},
		{"30 repeats of one field", `{ tags { ` + strings.Repeat("name ", 30) + `} }`, ""},
		{"repeats merged across parents", `{ ` + strings.Repeat("tags { name name name name } ", 8) + ` }`, CodeFieldRepeated},
		{"repeats merged through fragments", `{ tags { ...A ...B } } fragment A on Tag { ` + strings.Repeat("name ", 16) + `} fragment B on Tag { ` + strings.Repeat("name ", 16) + `}`, CodeFieldRepeated},
		{"one fragment spread twice counts once", `{ tags { ...A ...A } } fragment A on Tag { ` + strings.Repeat("name ", 20) + `}`, ""},
		{"unused fragment", `{ tags { name } } fragment Unused on Tag { ` + strings.Repeat("name ", 5000) + `}`, "GRAPHQL_VALIDATION_FAILED"},
		{"fragment spreading itself below a field", `{ items { nodes { ...R } } } fragment R on Item { parts { name } owner { name } ...R }`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := check(l, tc.query, nil)
			if tc.wantCode == "" && got != "" || tc.wantCode != "" && !strings.HasPrefix(got, tc.wantCode) {
				t.Errorf("got %q, want code %q", got, tc.wantCode)
			}
		})
	}
}

func TestLimitsOff(t *testing.T) {
	l := newLimits(t, Limits{MaxAliases: -1, MaxDepth: -1, MaxCost: -1})
	if got := check(l, `{ a: tags { name } b: tags { name } }`, nil); got != "" {
		t.Errorf("aliases with the limit off: %s", got)
	}
}

// The cost reads the value a resolver will get: a variable the request does
// not send has its default.
func TestCostUsesVariableDefaults(t *testing.T) {
	l := newLimits(t, Limits{MaxCost: 1000})
	q := `query Q($n: Int = 5000) { items(first: $n) { nodes { owner { name } } } }`
	tests := []struct {
		name     string
		vars     map[string]any
		wantCode string
	}{
		{"default", nil, CodeQueryTooComplex},
		{"sent", map[string]any{"n": json.Number("5000")}, CodeQueryTooComplex},
		{"sent small", map[string]any{"n": json.Number("5")}, ""},
		{"null: the resolver's own default", map[string]any{"n": nil}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := check(l, q, tc.vars); !strings.HasPrefix(got, tc.wantCode) || (tc.wantCode == "") != (got == "") {
				t.Errorf("got %q, want code %q", got, tc.wantCode)
			}
		})
	}
}

func TestOperationSelection(t *testing.T) {
	l := newLimits(t, Limits{})
	doc := `query A { tags { name } } query B { tags { name } }`
	tests := []struct{ name, opName, want string }{
		{"no name, two operations", "", CodeBadRequest + ": the document has 2 operations; operationName must say which one to run"},
		{"unknown name", "C", CodeBadRequest + `: the document has no operation named "C"`},
		{"unknown long name is clipped", strings.Repeat("x", 10000), CodeBadRequest + `: the document has no operation named "` + strings.Repeat("x", 64) + `…"`},
		{"named", "B", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: doc, OperationName: tc.opName})
			got := ""
			if err != nil {
				got = err.Extensions["code"].(string) + ": " + err.Message
			}
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A client that has gone, or a request past its deadline, is not validated.
func TestLimitsStopWhenTheClientHasGone(t *testing.T) {
	l := newLimits(t, Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: `{ tags { name } }`})
	if err == nil || err.Extensions["code"] != CodeCancelled {
		t.Fatalf("got %v, want %s", err, CodeCancelled)
	}
}

// Fields count as execution would collect them: a fragment counts wherever
// it is spread.
func TestMaxFieldsExpandsFragments(t *testing.T) {
	l := newLimits(t, Limits{MaxFields: 20})
	frag := ` fragment A on Item { id name owner { name } parts { name } }` // 6 fields
	if got := check(l, `{ items { nodes { ...A } } }`+frag, nil); got != "" {
		t.Errorf("one spread: %s", got)
	}
	got := check(l, `{ items { nodes { ...A } edges { node { ...A } } } item(id: 1) { ...A } }`+frag, nil)
	if !strings.HasPrefix(got, CodeTooManyFields) {
		t.Errorf("three spreads: got %q, want %s", got, CodeTooManyFields)
	}
}
