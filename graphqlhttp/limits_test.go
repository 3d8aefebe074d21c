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
