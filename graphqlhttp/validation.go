package graphqlhttp

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// CodeTooManyErrors marks the last error of a response whose errors were cut.
const CodeTooManyErrors = "TOO_MANY_ERRORS"

// ValidationRules returns gqlparser's validation rules for
// handler.Server.SetValidationRulesFn. Without suggestions, no message says
// "Did you mean": gqlgen's own switch only covers unknown fields, while
// unknown arguments, types, enum values and input fields would still name
// the schema's members to someone probing it with introspection off.
func ValidationRules(suggestions bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.ReplaceRule(rules.KnownDirectivesRule.Name, withErrorOption(rules.KnownDirectivesRule.RuleFunc, explainStream))
		if suggestions {
			return r
		}
		inner := r.GetInner()
		names := make([]string, 0, len(inner))
		for name := range inner {
			names = append(names, name)
		}
		for _, name := range names {
			r.ReplaceRule(name, withErrorOption(inner[name], dropSuggestion))
		}
		return r
	}
}

// withErrorOption applies opt to every error rule reports.
func withErrorOption(rule core.RuleFunc, opt core.ErrorOption) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		rule(observers, func(options ...core.ErrorOption) {
			addError(append(slices.Clip(options), opt)...)
		})
	}
}

// explainStream says why @stream is unknown. gqlgen does not implement
// it, so the schema does not declare it and validation refuses it (rather
// than a list arriving whole while the client waits for it in parts); the
// message says what to use instead.
func explainStream(err *gqlerror.Error) {
	if err.Message == `Unknown directive "@stream".` {
		err.Message = "@stream is not supported: lists arrive whole. Use @defer on a fragment to receive part of a selection later."
	}
}

// longQuoted finds a quoted name or value longer than an echo may be.
var longQuoted = regexp.MustCompile(`"[^"]{` + strconv.Itoa(MaxEcho) + `,}"`)

func dropSuggestion(err *gqlerror.Error) {
	if i := strings.Index(err.Message, " Did you mean"); i >= 0 {
		err.Message = err.Message[:i]
	}
}

// LimitErrors keeps at most max errors in a response and ends the list with
// one that says how many were left out: a document of 7,000 unknown fields
// (41 KB) would otherwise answer with a megabyte of errors. It also clips
// the quoted names and values in messages (a 900 KB field name would come
// back whole in "Cannot query field ..."). Register it before any
// middleware that orders errors, so the ones kept come first.
func LimitErrors(max int) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil {
			return resp
		}
		for _, e := range resp.Errors {
			if len(e.Message) > 2*MaxEcho {
				e.Message = longQuoted.ReplaceAllStringFunc(e.Message, func(q string) string { return `"` + clip(q[1:len(q)-1]) + `"` })
			}
		}
		if len(resp.Errors) <= max {
			return resp
		}
		left := len(resp.Errors) - max
		resp.Errors = append(resp.Errors[:max:max], &gqlerror.Error{
			Message:    fmt.Sprintf("too many errors: %d more were left out", left),
			Extensions: map[string]any{"code": CodeTooManyErrors},
		})
		return resp
	}
}

// CodeIntrospectionDisabled is the code of an operation refused because it
// asks for the schema while introspection is off.
const CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"

// NoIntrospection refuses, as a request error, an operation that asks for
// __schema or __type when introspection is off; gqlgen would run it and
// answer a field error that reads like the client's mistake.
type NoIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = NoIntrospection{}

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (NoIntrospection) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil || !asksForSchema(rc.Doc, rc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	return limitError(CodeIntrospectionDisabled, "introspection is disabled on this server")
}

// asksForSchema looks at the root selection, where __schema and __type
// live, through inline fragments and fragment spreads.
func asksForSchema(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if asksForSchema(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				if asksForSchema(doc, f.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
