package resolvers

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/graph"
)

func realSchema() *ast.Schema {
	return graph.NewExecutableSchema(graph.Config{Resolvers: &Resolver{}}).Schema()
}

// testPolicy reads the authorization directives of s.
func testPolicy(t *testing.T, s *ast.Schema) *authz.Policy {
	t.Helper()
	p, err := authz.NewPolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// roleAccess is what a token with role's scopes may see.
func roleAccess(t *testing.T, role string) *authz.Access {
	t.Helper()
	scopes, ok := authz.Roles()[role]
	if !ok {
		t.Fatalf("no role %q", role)
	}
	return testPolicy(t, realSchema()).For(auth.Identity{Subject: "u1", Scopes: scopes}, true)
}

// The role model on Stacker's schema: each role with and without the scope
// of a type-level and a field-level directive, and the mutations' write
// scopes.
func TestRoleModel(t *testing.T) {
	p := testPolicy(t, realSchema())
	anonymous := p.For(auth.Identity{}, false)
	bare := p.For(auth.Identity{Subject: "u1"}, true)
	tests := []struct {
		access *authz.Access
		who    string
		field  authz.Coordinate
		denied bool
	}{
		{anonymous, "anonymous", authz.Coordinate{Type: "Query", Field: "cases"}, true},
		{anonymous, "anonymous", authz.Coordinate{Type: "PageInfo", Field: "hasNextPage"}, false},
		{bare, "no scopes", authz.Coordinate{Type: "Query", Field: "case"}, true},
		{bare, "no scopes", authz.Coordinate{Type: "Mutation", Field: "updateCase"}, true},
		{roleAccess(t, "case_manager"), "case_manager", authz.Coordinate{Type: "Query", Field: "cases"}, false},
		{roleAccess(t, "case_manager"), "case_manager", authz.Coordinate{Type: "Patient", Field: "email"}, false},
		{roleAccess(t, "case_manager"), "case_manager", authz.Coordinate{Type: "Mutation", Field: "updateCase"}, false},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Case", Field: "documents"}, false},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Case", Field: "patient"}, false},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Patient", Field: "fullName"}, false},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Patient", Field: "email"}, true},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Patient", Field: "insurer"}, true},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Mutation", Field: "updateCase"}, true},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Mutation", Field: "scheduleAppointment"}, true},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "Subscription", Field: "caseActivity"}, false},
		{roleAccess(t, "medical_advisor"), "medical_advisor", authz.Coordinate{Type: "DocumentUploadedEvent", Field: "document"}, false},
		{roleAccess(t, "admin"), "admin", authz.Coordinate{Type: "Patient", Field: "phone"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.who+" "+tc.field.String(), func(t *testing.T) {
			if _, denied := tc.access.Denied(tc.field.Type, tc.field.Field); denied != tc.denied {
				t.Fatalf("denied = %v, want %v", denied, tc.denied)
			}
		})
	}
}

// Every operation the console sends runs whole for the roles meant to use
// it; the admin is denied nothing.
func TestOperationsPerRole(t *testing.T) {
	s := realSchema()
	var src strings.Builder
	for _, pattern := range []string{"../operations/*.graphql", "../operations/fragments/*.graphql"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
			src.WriteByte('\n')
		}
	}
	doc, errs := gqlparser.LoadQuery(s, src.String())
	if errs != nil {
		t.Fatal(errs)
	}
	want := map[string]map[string][]string{
		"case_manager": {},
		"admin":        {},
		"medical_advisor": {
			"CaseBoard":  {"Insurer.kind", "Insurer.name", "Patient.dateOfBirth", "Patient.insurer"},
			"CaseDetail": {"Insurer.id", "Insurer.kind", "Insurer.name", "Patient.dateOfBirth", "Patient.email", "Patient.insurer", "Patient.phone"},
			// The insurer screen is a case manager's: no insurers:read.
			"InsurerPatients":     {"Insurer.id", "Insurer.kind", "Insurer.name", "Insurer.patients", "Query.insurer"},
			"PatientSearch":       {"Insurer.id", "Insurer.kind", "Insurer.name", "Patient.dateOfBirth", "Patient.email", "Patient.insurer", "Patient.phone"},
			"AddCaseNote":         {"Mutation.addCaseNote"},
			"CreateCase":          {"Mutation.createCase"},
			"ScheduleAppointment": {"Mutation.scheduleAppointment"},
			"UpdateCase":          {"Mutation.updateCase"},
			// Changing appointments needs appointments:write.
			"CancelAppointment":     {"Mutation.cancelAppointment"},
			"RescheduleAppointment": {"Mutation.rescheduleAppointment"},
			"UploadDocument":        {"Mutation.uploadDocument"},
		},
	}
	for role, byOp := range want {
		a := roleAccess(t, role)
		for _, op := range doc.Operations {
			var got []string
			for _, c := range a.DeniedIn(s, op, nil) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, byOp[op.Name]) {
				t.Errorf("%s, %s: denied %v, want %v", role, op.Name, got, byOp[op.Name])
			}
		}
	}
}

// The planner leaves out what the caller may not see, so no relation under
// it is prefetched.
func TestPlannerSkipsDenied(t *testing.T) {
	s := realSchema()
	doc, errs := gqlparser.LoadQuery(s, `{ cases { nodes { id documents { title } patient { id email insurer { name } } } } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	op := doc.Operations[0]
	nodes := op.SelectionSet[0].(*ast.Field).SelectionSet[0].(*ast.Field).SelectionSet
	for _, tc := range []struct {
		scopes []string
		want   []string
	}{
		{[]string{"cases:read", "documents:read", "patients:read"}, []string{"patient", "documents", "id"}},
		{[]string{"cases:read", "patients:read"}, []string{"patient", "id"}},
		{[]string{"cases:read"}, []string{"id"}},
		{nil, nil},
	} {
		t.Run(strings.Join(tc.scopes, ","), func(t *testing.T) {
			p := &planner{
				oc:     &graphql.OperationContext{Doc: doc, Operation: op},
				access: testPolicy(t, s).For(auth.Identity{Subject: "u1", Scopes: tc.scopes}, true),
			}
			var got []string
			for _, f := range p.collect(nodes, "Case") {
				got = append(got, f.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("collect = %v, want %v", got, tc.want)
			}
		})
	}
}

// The scopes the schema asks for are exactly authz.Scopes(), and every
// role's scopes are among them.
func TestScopesMatchSchema(t *testing.T) {
	inSchema := map[string]bool{}
	for _, r := range directiveRows(realSchema()) {
		for _, s := range r.scopes {
			inSchema[s] = true
		}
	}
	known := map[string]bool{}
	for _, s := range authz.Scopes() {
		known[s] = true
		if !inSchema[s] {
			t.Errorf("authz.Scopes() lists %s, which no directive in the schema asks for", s)
		}
	}
	for s := range inSchema {
		if !known[s] {
			t.Errorf("the schema asks for %s, which authz.Scopes() does not list", s)
		}
	}
	for role, scopes := range authz.Roles() {
		for _, s := range scopes {
			if !known[s] {
				t.Errorf("role %s has %s, which the schema does not ask for", role, s)
			}
		}
	}
}

// docs/authorization.md's tables say what the schema and authz.Roles() say.
func TestAuthorizationDocs(t *testing.T) {
	b, err := os.ReadFile("../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var dirs strings.Builder
	dirs.WriteString("| type or field | needs |\n| --- | --- |\n")
	for _, r := range directiveRows(realSchema()) {
		fmt.Fprintf(&dirs, "| `%s` | %s |\n", r.where, r.needs)
	}
	var roles strings.Builder
	roles.WriteString("| role | scopes |\n| --- | --- |\n")
	all := authz.Roles()
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&roles, "| `%s` | `%s` |\n", n, strings.Join(all[n], "`, `"))
	}
	for marker, want := range map[string]string{"schema-directives": dirs.String(), "roles": roles.String()} {
		_, rest, ok1 := strings.Cut(doc, "<!-- "+marker+" -->\n")
		got, _, ok2 := strings.Cut(rest, "<!-- /"+marker+" -->")
		if !ok1 || !ok2 {
			t.Errorf("docs/authorization.md has no %s table between <!-- %s --> markers", marker, marker)
			continue
		}
		if got != want {
			t.Errorf("docs/authorization.md's %s table is out of date; it should read:\n%s", marker, want)
		}
	}
}

type directiveRow struct {
	where, needs string
	scopes       []string
}

// directiveRows lists where the schema applies the authorization
// directives, sorted: a type (Case) or a field (Patient.email).
func directiveRows(s *ast.Schema) []directiveRow {
	var rows []directiveRow
	add := func(where string, list ast.DirectiveList) {
		r := directiveRow{where: where}
		var needs []string
		for _, d := range list {
			switch d.Name {
			case authz.DirAuthenticated:
				needs = append(needs, "authenticated")
			case authz.DirRequiresScopes:
				v, _ := d.Arguments.ForName("scopes").Value.Value(nil)
				var alts []string
				for _, all := range v.([]any) {
					var and []string
					for _, sc := range all.([]any) {
						and = append(and, "`"+sc.(string)+"`")
						r.scopes = append(r.scopes, sc.(string))
					}
					alts = append(alts, strings.Join(and, " and "))
				}
				needs = append(needs, strings.Join(alts, " or "))
			case authz.DirPolicy:
				v, _ := d.Arguments.ForName("policies").Value.Value(nil)
				var alts []string
				for _, all := range v.([]any) {
					var and []string
					for _, n := range all.([]any) {
						and = append(and, "`"+n.(string)+"`")
					}
					alts = append(alts, strings.Join(and, " and "))
				}
				needs = append(needs, "policy "+strings.Join(alts, " or "))
			}
		}
		if len(needs) > 0 {
			r.needs = strings.Join(needs, "; ")
			rows = append(rows, r)
		}
	}
	for _, t := range s.Types {
		if t.BuiltIn {
			continue
		}
		add(t.Name, t.Directives)
		for _, f := range t.Fields {
			add(t.Name+"."+f.Name, f.Directives)
		}
	}
	slices.SortFunc(rows, func(a, b directiveRow) int { return strings.Compare(a.where, b.where) })
	return rows
}
