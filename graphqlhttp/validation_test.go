package graphqlhttp

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// With suggestions off, no validation message names a member of the schema
// the client did not write: arguments, enum values, types, input fields.
func TestValidationRulesWithoutSuggestions(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: varSchema})
	docs := map[string]string{
		"argument":    `{ find(idd: 1) }`,
		"enum value":  `{ find(e: REDD) }`,
		"type":        `{ ...F } fragment F on Querry { find }`,
		"input field": `{ find(in: { nn: 1 }) }`,
	}
	for name, q := range docs {
		t.Run(name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: q})
			if err != nil {
				t.Fatal(err)
			}
			with := validator.ValidateWithRules(schema, doc, ValidationRules(true)())
			if !strings.Contains(with.Error(), "Did you mean") {
				t.Fatalf("the case does not make a suggestion even with suggestions on: %v", with)
			}
			without := validator.ValidateWithRules(schema, doc, ValidationRules(false)())
			if len(without) == 0 || strings.Contains(without.Error(), "Did you mean") {
				t.Errorf("with suggestions off: %v", without)
			}
		})
	}
}

// @stream is refused with a message saying it is not supported, with
// suggestions on or off; an unknown directive keeps gqlparser's message.
func TestValidationRulesRefuseStream(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: varSchema})
	tests := map[string]string{
		`{ find @stream(initialCount: 1) }`: "@stream is not supported",
		`{ find @streamed }`:                `Unknown directive "@streamed".`,
	}
	for q, want := range tests {
		for _, suggestions := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/suggestions=%v", q, suggestions), func(t *testing.T) {
				doc, err := parser.ParseQuery(&ast.Source{Input: q})
				if err != nil {
					t.Fatal(err)
				}
				errs := validator.ValidateWithRules(schema, doc, ValidationRules(suggestions)())
				if len(errs) != 1 || !strings.HasPrefix(errs[0].Message, want) {
					t.Errorf("errors %v, want one starting %q", errs, want)
				}
			})
		}
	}
}

func TestLimitErrors(t *testing.T) {
	list := func(n int) gqlerror.List {
		var l gqlerror.List
		for i := range n {
			l = append(l, gqlerror.Errorf("error %d", i))
		}
		return l
	}
	mw := LimitErrors(3)
	for _, n := range []int{0, 3, 4, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			resp := mw(context.Background(), func(context.Context) *graphql.Response { return &graphql.Response{Errors: list(n)} })
			if n <= 3 {
				if len(resp.Errors) != n {
					t.Fatalf("%d errors kept of %d", len(resp.Errors), n)
				}
				return
			}
			if len(resp.Errors) != 4 || resp.Errors[2].Message != "error 2" {
				t.Fatalf("kept %v", resp.Errors)
			}
			last := resp.Errors[3]
			if last.Extensions["code"] != CodeTooManyErrors || last.Message != fmt.Sprintf("too many errors: %d more were left out", n-3) {
				t.Errorf("last error %v %v", last.Message, last.Extensions)
			}
		})
	}
}

func TestNoIntrospection(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: varSchema})
	tests := map[string]bool{
		`{ __schema { types { name } } }`:                                            true,
		`{ __type(name: "Color") { name } }`:                                         true,
		`{ ...F } fragment F on Query { ... on Query { __schema { description } } }`: true,
		`{ __typename find }`:                                                        false,
	}
	for q, refused := range tests {
		doc := gqlparser.MustLoadQuery(schema, q)
		err := NoIntrospection{}.MutateOperationContext(context.Background(), &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]})
		if got := err != nil && err.Extensions["code"] == CodeIntrospectionDisabled; got != refused {
			t.Errorf("%s: refused %v, want %v", q, got, refused)
		}
	}
}

// A long name or value written by the client comes back clipped.
func TestLimitErrorsClipsEchoedValues(t *testing.T) {
	long := strings.Repeat("x", 900<<10)
	resp := LimitErrors(10)(context.Background(), func(context.Context) *graphql.Response {
		return &graphql.Response{Errors: gqlerror.List{gqlerror.Errorf(`Cannot query field "%s" on type "Case".`, long)}}
	})
	want := `Cannot query field "` + strings.Repeat("x", 64) + `…" on type "Case".`
	if got := resp.Errors[0].Message; got != want {
		t.Errorf("got %.200q", got)
	}
}
