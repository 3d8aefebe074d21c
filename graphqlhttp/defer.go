package graphqlhttp

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// @defer is served in one of two ways. A client that can read incremental
// delivery (multipart/mixed here, or Server-Sent Events and WebSockets in
// gqlgen's transports) gets gqlgen's deferred execution: an initial payload
// with hasNext, then one payload per deferred fragment. Everywhere else the
// directive is ignored, as the specification allows: the operation runs as
// if @defer were not in the document, so the one answer is the one the same
// query without @defer gets (deferred fields inline, errors at their paths,
// null bubbling as usual). gqlgen itself would instead answer the initial
// payload alone, every deferred field null and no error saying so.
//
// Ignoring the directive is done on a copy of the document rather than by
// merging deferred payloads afterwards: the executor then never starts the
// goroutines and channel of deferred execution for an answer that is sent
// whole anyway, and the result is the plain query's by construction.

// deferName is the directive's name (gqlparser's prelude declares it).
const deferName = "defer"

// HasDefer reports whether the operation, or a fragment it spreads, carries
// @defer (whatever its if argument): whether its response handler may
// return more than one response.
func HasDefer(oc *graphql.OperationContext) bool {
	if oc == nil || oc.Operation == nil {
		return false
	}
	return hasDefer(oc.Doc, oc.Operation.SelectionSet, map[string]bool{})
}

func hasDefer(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if hasDefer(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName(deferName) != nil || hasDefer(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName(deferName) != nil {
				return true
			}
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil && hasDefer(doc, f.SelectionSet, seen) {
				return true
			}
		}
	}
	return false
}

// inlineDefers makes the operation run as if it carried no @defer. The
// document may be shared (the parsed-query cache holds it), so the
// operation and fragments are copied, never changed.
func inlineDefers(oc *graphql.OperationContext) {
	if !HasDefer(oc) {
		return
	}
	doc := *oc.Doc
	doc.Fragments = make(ast.FragmentDefinitionList, len(oc.Doc.Fragments))
	byName := make(map[string]*ast.FragmentDefinition, len(oc.Doc.Fragments))
	for i, f := range oc.Doc.Fragments {
		c := *f
		doc.Fragments[i], byName[f.Name] = &c, &c
	}
	for _, f := range doc.Fragments {
		f.SelectionSet = withoutDefer(f.SelectionSet, byName)
	}
	op := *oc.Operation
	op.SelectionSet = withoutDefer(op.SelectionSet, byName)
	doc.Operations = slices.Clone(oc.Doc.Operations)
	if i := slices.Index(doc.Operations, oc.Operation); i >= 0 {
		doc.Operations[i] = &op
	}
	oc.Doc, oc.Operation = &doc, &op
}

func withoutDefer(set ast.SelectionSet, frags map[string]*ast.FragmentDefinition) ast.SelectionSet {
	if set == nil {
		return nil
	}
	out := make(ast.SelectionSet, len(set))
	for i, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			c := *s
			c.SelectionSet = withoutDefer(s.SelectionSet, frags)
			out[i] = &c
		case *ast.InlineFragment:
			c := *s
			c.Directives = dropDirective(s.Directives, deferName)
			c.SelectionSet = withoutDefer(s.SelectionSet, frags)
			out[i] = &c
		case *ast.FragmentSpread:
			c := *s
			c.Directives = dropDirective(s.Directives, deferName)
			if d, ok := frags[s.Name]; ok {
				c.Definition = d
			}
			out[i] = &c
		default:
			out[i] = sel
		}
	}
	return out
}

func dropDirective(list ast.DirectiveList, name string) ast.DirectiveList {
	if list.ForName(name) == nil {
		return list
	}
	out := make(ast.DirectiveList, 0, len(list)-1)
	for _, d := range list {
		if d.Name != name {
			out = append(out, d)
		}
	}
	return out
}

// DeferOnlyOnQueries ignores @defer in mutations and subscriptions, on
// every transport: gqlgen defers their fields into payloads that nobody
// reads (a mutation answers once; a subscription's event is one payload),
// so the fields would come back null. Queries keep it; their transport
// decides (see Transport).
type DeferOnlyOnQueries struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DeferOnlyOnQueries{}

// ExtensionName implements graphql.HandlerExtension.
func (DeferOnlyOnQueries) ExtensionName() string { return "DeferOnlyOnQueries" }

// Validate implements graphql.HandlerExtension.
func (DeferOnlyOnQueries) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (DeferOnlyOnQueries) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation != nil && rc.Operation.Operation != ast.Query {
		inlineDefers(rc)
	}
	return nil
}
