package schemacheck

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// checkChanges asserts what every Change must satisfy.
func checkChanges(t *testing.T, changes []Change) {
	t.Helper()
	severities := map[ChangeType][]Severity{}
	for _, info := range ChangeTypes() {
		severities[info.Type] = info.Severities
	}
	for _, c := range changes {
		allowed, ok := severities[c.Type]
		if !ok {
			t.Fatalf("unknown change type in %+v", c)
		}
		found := false
		for _, s := range allowed {
			found = found || s == c.Severity
		}
		if !found {
			t.Fatalf("%s with severity %s, which ChangeTypes does not allow", c.Type, c.Severity)
		}
		if c.Coordinate == "" || c.Message == "" {
			t.Fatalf("change without coordinate or message: %+v", c)
		}
	}
}

// loadForFuzz parses SDL; a failure must be an input error with a message,
// never a panic.
func loadForFuzz(t *testing.T, name, sdl string) *ast.Schema {
	t.Helper()
	s, err := parseSchema(name, sdl)
	if err != nil {
		var ie inputError
		if !errors.As(err, &ie) || ie.msg == "" {
			t.Fatalf("parse error is not an input error with a message: %#v", err)
		}
		return nil
	}
	return s
}

// FuzzDiff feeds pairs of schema texts through parsing, Diff, Print and the
// reports. Properties: nothing panics; a schema does not differ from itself;
// a pair differs both ways or neither; every change is well formed; Print's
// output parses, prints again identically and loses nothing Diff can see.
//
//	go test -fuzz=FuzzDiff -fuzztime=2m ./schemacheck/
func FuzzDiff(f *testing.F) {
	for _, tc := range diffCases() {
		f.Add(tc.base, tc.new)
	}
	for _, pair := range [][2]string{
		{fixtureBase, fixtureNew},
		{repoBaseline, repoSchemaSDL},
		{"testdata/bad/syntax.graphqls", "testdata/bad/unknown-type.graphqls"},
	} {
		a, errA := os.ReadFile(pair[0])
		b, errB := os.ReadFile(pair[1])
		if errA != nil || errB != nil {
			f.Fatal(errors.Join(errA, errB))
		}
		f.Add(string(a), string(b))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa := loadForFuzz(t, "a.graphqls", a)
		sb := loadForFuzz(t, "b.graphqls", b)
		if sa == nil || sb == nil {
			return
		}
		changes := Diff(sa, sb)
		checkChanges(t, changes)
		reverse := Diff(sb, sa)
		checkChanges(t, reverse)
		if (len(changes) == 0) != (len(reverse) == 0) {
			t.Fatalf("Diff found %d changes one way and %d the other", len(changes), len(reverse))
		}
		if self := Diff(sa, sa); len(self) != 0 {
			t.Fatalf("a schema differs from itself: %v", self)
		}
		checkRoundTrip(t, sa)
		checkRoundTrip(t, sb)

		r := newDiffReport("a", "b", changes)
		if err := r.writeText(io.Discard, "", false); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(io.Discard, r); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzValidate feeds a schema and an operation document through validation.
// Properties: nothing panics, and every problem names its file and severity.
//
//	go test -fuzz=FuzzValidate -fuzztime=1m ./schemacheck/
func FuzzValidate(f *testing.F) {
	f.Add(validateSchema, "query A { cases(status: CLOSED, first: 3) { oldTitle ...F } }\nfragment F on Case { id }")
	f.Add(validateSchema, "mutation B { update(input: {id: 1, legacy: true}) { id } }")
	f.Add("type Query { a: Int }", "{ a ...on Query { a } }")
	f.Add("type Query { a: Int }", "query {")
	f.Fuzz(func(t *testing.T, sdl, doc string) {
		s := loadForFuzz(t, "s.graphqls", sdl)
		if s == nil {
			return
		}
		sources := []*ast.Source{{Name: "a.graphql", Input: doc}, {Name: "b.graphql", Input: doc}}
		for _, p := range ValidateOperations(s, sources) {
			if p.File == "" || (p.Severity != ProblemError && p.Severity != ProblemWarning) || p.Message == "" {
				t.Fatalf("malformed problem %+v", p)
			}
		}
	})
}
