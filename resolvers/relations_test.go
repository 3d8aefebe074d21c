package resolvers

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/loaders"
)

// relationCheck is what has to agree about the fields that cross into
// another service: the schema, the fields gqlgen resolves with a resolver,
// the declarations, the cost model and the loaders.
type relationCheck struct {
	schema   *ast.Schema
	resolved []string // coordinates of the fields with a resolver method
	rels     *relations
	cost     *graphqlhttp.CostModel
	loaders  *loaders.Loaders
}

// problems lists every disagreement, one line each.
func (c relationCheck) problems() []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	declared := map[string]*decl{}
	entities := map[string]bool{} // the types relations lead to
	for _, d := range c.rels.all {
		if declared[d.coordinate()] != nil {
			bad("%s: declared twice", d.coordinate())
		}
		declared[d.coordinate()] = d
		if d.target != "" {
			entities[d.target] = true
		}
	}

	// (a) Every field that crosses into another service is declared: the
	// root fields, every field with a resolver (a value the parent's model
	// does not hold) and every field from one entity type to another, even
	// one whose value a model came to hold.
	must := map[string]bool{}
	for _, coord := range c.resolved {
		must[coord] = true
	}
	for _, t := range c.schema.Types {
		if t.Kind != ast.Object || strings.HasPrefix(t.Name, "__") {
			continue
		}
		for _, f := range t.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			root := t == c.schema.Query || t == c.schema.Mutation
			if root || (entities[t.Name] && entities[f.Type.Name()]) {
				must[t.Name+"."+f.Name] = true
			}
		}
	}
	for coord := range must {
		if declared[coord] == nil {
			bad("%s: crosses into another service but has no declaration in newRelations", coord)
		}
	}

	// (b) Every declaration is of a field the schema has, with the type
	// and the loader it says.
	for _, d := range c.rels.all {
		t := c.schema.Types[d.parent]
		if t == nil {
			bad("%s: declared, but the schema has no type %s", d.coordinate(), d.parent)
			continue
		}
		f := t.Fields.ForName(d.name)
		if f == nil {
			bad("%s: declared, but the schema has no such field", d.coordinate())
			continue
		}
		returns := d.target
		if d.connection != "" {
			returns = d.connection
		}
		if d.target != "" && (f.Type.Name() != returns || (f.Type.Elem != nil) != d.list) {
			bad("%s: declared as %s (list: %t), but the schema says %s", d.coordinate(), returns, d.list, f.Type)
		}
		if _, ok := c.rels.lookups[d.name]; ok && d.parent == "Query" && f.Arguments.ForName("id") == nil {
			bad("%s: declared as a lookup by id, but has no id argument", d.coordinate())
		}
		if d.hasLoader != nil && !d.hasLoader(c.loaders) {
			bad("%s: the loader it is declared to read does not exist in loaders.New", d.coordinate())
		}
		if d.target != "" && d.hasLoader == nil {
			bad("%s: a relation with no loader", d.coordinate())
		}
		// The plan's dry run names the service from the declaration.
		switch {
		case d.service == nil:
			bad("%s: names no service", d.coordinate())
		case d.hasLoader != nil && !d.hasLoader(c.loaders):
			// reported above
		case !slices.Contains(config.Services(), d.service(c.loaders)):
			bad("%s: names the service %q, not one of config.Services()", d.coordinate(), d.service(c.loaders))
		}
	}

	// (c) The cost model charges every declaration as declared.
	for _, d := range c.rels.all {
		coord := d.coordinate()
		if calls, ok := c.cost.Calls[coord]; !ok || calls != d.calls {
			bad("%s: the cost model charges %d calls (present: %t), the declaration %d", coord, calls, ok, d.calls)
		}
		if d.list && d.size.Default <= 0 {
			bad("%s: a list declared without its typical size", coord)
		}
		if size, ok := c.cost.ListSizes[coord]; (d.list || ok) && !reflect.DeepEqual(size, d.size) {
			bad("%s: the cost model sizes it %+v, the declaration %+v", coord, size, d.size)
		}
	}
	slices.Sort(out)
	return out
}

// resolverFields lists the fields gqlgen generated a resolver method for,
// by reading the resolver interfaces of package graph: each is a field
// whose value the parent's model does not hold. Subscription fields only
// open a stream, and are left out.
func resolverFields(t *testing.T, s *ast.Schema) []string {
	t.Helper()
	var out []string
	root := reflect.TypeFor[graph.ResolverRoot]()
	for i := range root.NumMethod() {
		m := root.Method(i) // Case() graph.CaseResolver
		typ := s.Types[m.Name]
		if typ == nil {
			t.Fatalf("graph.ResolverRoot.%s: no such type in the schema", m.Name)
		}
		if typ == s.Subscription {
			continue
		}
		it := m.Type.Out(0)
		for j := range it.NumMethod() {
			name := it.Method(j).Name
			k := slices.IndexFunc(typ.Fields, func(f *ast.FieldDefinition) bool { return strings.EqualFold(f.Name, name) })
			if k < 0 {
				t.Fatalf("graph.%s.%s: no such field in the schema", it.Name(), name)
			}
			out = append(out, typ.Name+"."+typ.Fields[k].Name)
		}
	}
	return out
}

// loadSchema is the schema the gateway serves, or, to show the checks
// failing, schema.graphqls with extra appended.
func loadSchema(t *testing.T, extra string) *ast.Schema {
	t.Helper()
	if extra == "" {
		return graph.NewExecutableSchema(graph.Config{}).Schema()
	}
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)}, &ast.Source{Name: "extra.graphqls", Input: extra})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Each field that crosses into another service is declared once, and the
// schema, the resolvers, the loaders and the cost model agree with the
// declarations. The other cases show the check failing for each way one of
// them can be forgotten.
func TestRelations(t *testing.T) {
	tests := []struct {
		name   string
		schema string // appended to schema.graphqls
		change func(c *relationCheck)
		want   string // a problem reported; "" for none at all
	}{
		{name: "the schema and the declarations agree"},
		{
			name:   "a field from one service's type to another's is not declared",
			schema: `extend type Case { secondOpinion: Doctor }`,
			want:   "Case.secondOpinion: crosses into another service but has no declaration",
		},
		{
			name:   "a root field is not declared",
			schema: `extend type Query { clinics: [Clinic!]! }`,
			want:   "Query.clinics: crosses into another service but has no declaration",
		},
		{
			name:   "a field with a resolver is not declared",
			schema: `extend type UpdateCasePayload { assignee: StaffMember }`,
			change: func(c *relationCheck) { c.resolved = append(c.resolved, "UpdateCasePayload.assignee") },
			want:   "UpdateCasePayload.assignee: crosses into another service but has no declaration",
		},
		{
			name: "a declared field does not exist",
			change: func(c *relationCheck) {
				one(c.rels, c.rels.Case, "secondOpinion", 1, c.rels.Doctor, nil)
				c.cost = c.rels.costModel()
			},
			want: "Case.secondOpinion: declared, but the schema has no such field",
		},
		{
			name:   "a declared field returns another type",
			change: func(c *relationCheck) { c.rels.casePatient.target = "Doctor" },
			want:   "Case.patient: declared as Doctor (list: false), but the schema says Patient",
		},
		{
			name:   "a declared list is not a list",
			change: func(c *relationCheck) { c.rels.caseDocuments.list = false },
			want:   "Case.documents: declared as Document (list: false), but the schema says [Document!]",
		},
		{
			name:   "a declared loader does not exist",
			change: func(c *relationCheck) { c.loaders.Staff = nil },
			want:   "Case.assignee: the loader it is declared to read does not exist",
		},
		{
			name:   "a relation leads to a type with no loader by id",
			change: func(c *relationCheck) { c.rels.Clinic.byID = nil },
			want:   "Doctor.clinic: the loader it is declared to read does not exist",
		},
		{
			name:   "a lookup has no id argument",
			schema: `extend type Query { clinicByName(name: String!): Clinic }`,
			change: func(c *relationCheck) {
				byIDArg(c.rels, "clinicByName", c.rels.Clinic)
				c.cost = c.rels.costModel()
			},
			want: "Query.clinicByName: declared as a lookup by id, but has no id argument",
		},
		{
			name:   "the cost model lacks a relation",
			change: func(c *relationCheck) { delete(c.cost.Calls, "Patient.insurer") },
			want:   "Patient.insurer: the cost model charges 0 calls (present: false), the declaration 1",
		},
		{
			name:   "the cost model lacks a list's size",
			change: func(c *relationCheck) { delete(c.cost.ListSizes, "Patient.cases") },
			want:   "Patient.cases: the cost model sizes it {SlicingArgument: Default:0 SizedFields:[]}, the declaration {SlicingArgument: Default:10 SizedFields:[]}",
		},
		{
			name:   "a list is declared without its size",
			change: func(c *relationCheck) { c.rels.caseAppointments.size.Default = 0; c.cost = c.rels.costModel() },
			want:   "Case.appointments: a list declared without its typical size",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadSchema(t, tt.schema)
			c := relationCheck{
				schema:   s,
				resolved: resolverFields(t, s),
				rels:     newRelations(),
				cost:     CostModel(),
				loaders:  loaders.New(loaders.Clients{}, loaders.Options{}),
			}
			if tt.change != nil {
				tt.change(&c)
			}
			got := c.problems()
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems:\n%s", strings.Join(got, "\n"))
			case tt.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, tt.want) }):
				t.Errorf("no problem %q among:\n%s", tt.want, strings.Join(got, "\n"))
			}
		})
	}
}
