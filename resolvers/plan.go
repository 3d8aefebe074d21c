package resolvers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/plan"
)

// PlanOperations answers the plan header (plan.Header; docs/plan.md) of a
// query or mutation whose caller allowed says may see plans: with "true"
// the operation runs with a recorder in its context and its last response
// carries extensions.plan; with "dry-run" nothing runs and the answer is
// data null with the plan the declarations in relations.go predict. The
// header of a caller not allowed is ignored, as Apollo Router ignores its
// query-plan header unless it is enabled, so a production client that
// sends it by mistake gets its data.
//
// The gateway installs it after AroundOperations (a dry run reads the
// operation's loaders and access) and before CompiledOperations: it wraps
// the compiled path's answer as it wraps gqlgen's, so a plan does not turn
// the compiled path off.
func (r *Resolver) PlanOperations(allowed func(context.Context) bool) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		mode := plan.ParseMode(oc.Headers.Get(plan.Header))
		if mode == plan.Off || oc.Operation == nil || oc.Operation.Operation == ast.Subscription || !allowed(ctx) {
			return next(ctx)
		}
		if mode == plan.DryRun {
			return graphql.OneShot(&graphql.Response{
				Data:       json.RawMessage("null"),
				Extensions: map[string]any{"plan": r.dryRun(ctx, oc)},
			})
		}
		rec := plan.NewRecorder()
		h := next(plan.NewContext(ctx, rec))
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if resp == nil || (resp.HasNext != nil && *resp.HasNext) {
				return resp // the plan goes on the last response, complete
			}
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["plan"] = rec.Plan()
			return resp
		}
	}
}

// dryRun is the plan of the operation from its selection: a call for every
// declared field selected (the root field's at level 0, a relation's one
// level below the call that loaded its parent), fields the caller may not
// see left out, as the planner leaves them. It lists one call per selected
// relation: what the planner would batch, not how many chunks the ids
// would need, nor what authorization policies load to decide.
func (r *Resolver) dryRun(ctx context.Context, oc *graphql.OperationContext) plan.Plan {
	l := r.loaders(ctx)
	a := accessOf(ctx)
	decls := make(map[string]*decl, len(r.rels.all))
	for _, d := range r.rels.all {
		decls[d.coordinate()] = d
	}
	var calls []plan.Call
	var visit func(sel ast.SelectionSet, def *ast.Definition, level int, path []string)
	visit = func(sel ast.SelectionSet, def *ast.Definition, level int, path []string) {
		for _, t := range r.possibleTypes(def) {
			for _, f := range graphql.CollectFields(oc, sel, []string{t}) {
				if _, denied := a.Denied(t, f.Name); denied || f.Definition == nil {
					continue
				}
				p, below := append(path[:len(path):len(path)], f.Alias), level
				if d, ok := decls[t+"."+f.Name]; ok && d.service != nil {
					calls = append(calls, plan.Planned(level, d.service(l), strings.Join(p, ".")))
					below = level + 1
				}
				if len(f.Selections) > 0 {
					visit(f.Selections, r.schema.Types[f.Definition.Type.Name()], below, p)
				}
			}
		}
	}
	root := r.schema.Query
	if oc.Operation.Operation == ast.Mutation {
		root = r.schema.Mutation
	}
	visit(oc.Operation.SelectionSet, root, 0, nil)
	return plan.DryRunOf(calls)
}

// possibleTypes are the object types a value of def can be.
func (r *Resolver) possibleTypes(def *ast.Definition) []string {
	if def == nil {
		return nil
	}
	if !def.IsAbstractType() {
		return []string{def.Name}
	}
	var names []string
	for _, t := range r.schema.GetPossibleTypes(def) {
		names = append(names, t.Name)
	}
	return names
}
