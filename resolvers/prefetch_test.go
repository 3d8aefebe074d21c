package resolvers

import (
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/graph"
)

// The planner claims the relation with the longest chain below it first:
// its request is the one the whole answer waits for.
func TestCollectDeepestFirst(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{
			name: "case board",
			query: `{ cases { nodes {
				id status
				patient { id insurer { name } }
				assignee { name }
				appointments { startsAt doctor { name clinic { city } } }
				documents { title }
			} } }`,
			want: []string{"appointments", "patient", "assignee", "documents", "id", "status"},
		},
		{
			name: "fragments count at their full depth",
			query: `query { cases { nodes { assignee { name } ...Deep ...Deep } } }
				fragment Deep on Case { documents { ...Back } }
				fragment Back on Document { case { patient { ...Ins } } }
				fragment Ins on Patient { insurer { name } }`,
			want: []string{"documents", "assignee"},
		},
		{
			name:  "ties keep the client's order",
			query: `{ cases { nodes { documents { title } assignee { name } patient { id } } } }`,
			want:  []string{"documents", "assignee", "patient"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := gqlparser.LoadQuery(schema, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			op := doc.Operations[0]
			p := &planner{oc: &graphql.OperationContext{Doc: doc, Operation: op}}
			nodes := op.SelectionSet[0].(*ast.Field).SelectionSet[0].(*ast.Field).SelectionSet
			var got []string
			for _, f := range p.collect(nodes, "Case") {
				got = append(got, f.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}
