package resolvers

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/plan"
)

// Why a planner: dataloader's batch window is a timer racing the scheduler.
// Under load the resolvers of one level do not all reach Load within the
// window, so one level turns into several upstream calls (a plain gqlgen +
// dataloader build of the case board made 25-45 calls per query at
// concurrency 32 instead of 8). Instead, a resolver that produces a set of
// entities walks the selection below it and claims every relation the client
// asked for with the complete key set, which goes out at once: one call per
// service per level (more only past the 100-id limit), each level starting as
// soon as its own parents have arrived, not when the slowest branch of the
// level above has.
//
// The root resolver does not wait for the tree: gqlgen starts resolving and
// marshalling while deeper levels are still in flight, and each field
// resolver's Load waits on its claimed key. Every level is claimed before the
// level above becomes visible (see Loader.Prefetch), so a resolver never finds
// its key unclaimed; Load's own batch window remains only as the fallback
// for anything the planner does not cover.

// planner prefetches the relations below a set of entities, as the
// declarations in relations.go say (see walk). Errors are not returned: they
// sit in the loaders' cache, and the field resolvers that need the value
// report them at the right path.
type planner struct {
	oc   *graphql.OperationContext
	l    *loaders.Loaders
	rels *relations // nil outside an operation: nothing is prefetched
	// access is what the caller may see: a field it may not is never
	// prefetched (nor below it).
	access *authz.Access
}

func newPlanner(ctx context.Context, l *loaders.Loaders) *planner {
	p := &planner{oc: graphql.GetOperationContext(ctx), l: l}
	if st, ok := ctx.Value(opStateKey{}).(*operationState); ok {
		p.rels, p.access = st.rels, st.access
	}
	return p
}

// collect returns the fields selected on typeName, with fragments, @skip and
// @include applied, the most deeply nested first: the relation with the
// longest chain of levels below it is the critical path, so its request
// should leave first (appointments -> doctors -> clinics before assignee).
// Fields the caller may not see are left out: their resolvers will not run,
// so nothing is fetched for them.
func (p *planner) collect(sel ast.SelectionSet, typeName string) []graphql.CollectedField {
	fields := graphql.CollectFields(p.oc, sel, []string{typeName})
	// A copy: gqlgen caches the slice it returns for the whole operation.
	fields = slices.DeleteFunc(slices.Clone(fields), func(f graphql.CollectedField) bool {
		_, denied := p.access.Denied(typeName, f.Name)
		return denied
	})
	if len(fields) < 2 {
		return fields
	}
	depths := make(map[string]int, len(fields))
	frags := map[string]int{}
	for _, f := range fields {
		depths[f.Alias] = depth(ast.SelectionSet{f.Field}, frags)
	}
	slices.SortStableFunc(fields, func(a, b graphql.CollectedField) int {
		return cmp.Compare(depths[b.Alias], depths[a.Alias])
	})
	return fields
}

// depth is how many levels of objects sel nests (0 for scalars only).
// frags memoises the depth of each named fragment, so that fragments
// spreading fragments cannot make the walk exponential.
func depth(sel ast.SelectionSet, frags map[string]int) int {
	d := 0
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if len(s.SelectionSet) > 0 {
				d = max(d, 1+depth(s.SelectionSet, frags))
			}
		case *ast.InlineFragment:
			d = max(d, depth(s.SelectionSet, frags))
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			fd, ok := frags[s.Name]
			if !ok {
				fd = depth(s.Definition.SelectionSet, frags)
				frags[s.Name] = fd
			}
			d = max(d, fd)
		}
	}
	return d
}

// prefetch claims keys in l at once and, when their values have loaded,
// runs below on them (to claim the next level) before the field resolvers
// waiting on those keys are released. below may be nil.
func prefetch[V any](ctx context.Context, l *loaders.Loader[V], keys []int, below func([]V)) {
	if len(keys) == 0 {
		return
	}
	l.Prefetch(ctx, keys, func(vals []V) {
		if below != nil && len(vals) > 0 {
			below(vals)
		}
	})
}

// prefetchLists is prefetch for one-to-many relations: below gets the
// flattened lists, at most most values of each (0: all of them).
func prefetchLists[V any](ctx context.Context, l *loaders.Loader[[]V], keys []int, most int, below func([]V)) {
	if below == nil {
		prefetch(ctx, l, keys, nil)
		return
	}
	prefetch(ctx, l, keys, func(lists [][]V) {
		var flat []V
		for _, list := range lists {
			if most > 0 {
				list = list[:min(most, len(list))]
			}
			flat = append(flat, list...)
		}
		below(flat)
	})
}

// caseConnection prefetches below the nodes and edges of a case list.
func (p *planner) caseConnection(ctx context.Context, cs []*model.Case, sel ast.SelectionSet) {
	for _, f := range p.collect(sel, "CaseConnection") {
		switch f.Name {
		case "nodes":
			p.cases(plan.Within(ctx, f.Alias), cs, f.Selections)
		case "edges":
			for _, e := range p.collect(f.Selections, "CaseEdge") {
				if e.Name == "node" {
					p.cases(plan.Within(plan.Within(ctx, f.Alias), e.Alias), cs, e.Selections)
				}
			}
		}
	}
}

// prefetchPayload claims, in one call per service per level, what the
// selection of a mutation's payload asks for below its field (the record
// the mutation created or changed, v), before gqlgen resolves it.
func prefetchPayload[T any](ctx context.Context, r *Resolver, payload, field string, o *object[T], v T) {
	pl := newPlanner(ctx, r.loaders(ctx))
	if pl.rels == nil {
		return
	}
	for _, f := range pl.collect(selections(ctx), payload) {
		if f.Name == field {
			walk(pl, ctx, o, []T{v}, f.Selections)
		}
	}
}

func (p *planner) cases(ctx context.Context, cs []*model.Case, sel ast.SelectionSet) {
	if p.rels != nil {
		walk(p, ctx, p.rels.Case, cs, sel)
	}
}

// keys returns the key of every item, in order (duplicates are fine: the
// loaders claim each key once).
func keys[T any](items []T, key func(T) int) []int {
	ids := make([]int, len(items))
	for i, it := range items {
		ids[i] = key(it)
	}
	return ids
}

// operationState is what the resolvers of one operation share beyond the
// loaders.
type operationState struct {
	rels     *relations
	access   *authz.Access // nil: authorization not enforced
	rootOnce sync.Once

	// roots are the results of the operation's root resolvers, by field
	// (see rootResult).
	mu    sync.Mutex
	roots map[*ast.Field]rootValue
}

type rootValue struct {
	v   any
	err error
}

// rootResult runs compute once per root field of the operation and
// remembers its result: when the compiled path (compiled.go) hands an
// operation back to gqlgen, the root resolvers it already ran answer from
// here rather than calling their service a second time.
func rootResult[T any](ctx context.Context, compute func() (T, error)) (T, error) {
	st, _ := ctx.Value(opStateKey{}).(*operationState)
	fc := graphql.GetFieldContext(ctx)
	if st == nil || fc == nil || fc.Field.Field == nil {
		return compute()
	}
	st.mu.Lock()
	if rv, ok := st.roots[fc.Field.Field]; ok {
		st.mu.Unlock()
		v, _ := rv.v.(T)
		return v, rv.err
	}
	st.mu.Unlock()
	v, err := compute()
	st.mu.Lock()
	if st.roots == nil {
		st.roots = map[*ast.Field]rootValue{}
	}
	st.roots[fc.Field.Field] = rootValue{v: v, err: err}
	st.mu.Unlock()
	return v, err
}

type opStateKey struct{}

func withOperationState(ctx context.Context, rels *relations, access *authz.Access) context.Context {
	return context.WithValue(ctx, opStateKey{}, &operationState{rels: rels, access: access})
}

// prefetchRoot loads, in one call per service, the entities that the
// operation's single-entity root fields (case, patient, doctor, ...) ask for,
// so that `{ a: case(id: 1) { id } b: case(id: 2) { id } }` makes one call to
// the cases service, not two. The first root resolver to run does it; the
// others wait for it.
func (r *Resolver) prefetchRoot(ctx context.Context) {
	st, ok := ctx.Value(opStateKey{}).(*operationState)
	if !ok || st.rels == nil {
		return
	}
	st.rootOnce.Do(func() {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Query {
			return
		}
		l := r.loaders(ctx)
		keys := map[string][]int{}
		for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
			if _, ok := st.rels.lookups[f.Name]; !ok {
				continue
			}
			if _, denied := st.access.Denied("Query", f.Name); denied {
				continue // its resolver will not run
			}
			raw, ok := f.ArgumentMap(oc.Variables)["id"]
			if !ok {
				continue
			}
			if id, err := graphql.UnmarshalIntID(raw); err == nil {
				keys[f.Name] = append(keys[f.Name], id)
			}
		}
		var wg sync.WaitGroup
		for name, ids := range keys {
			wg.Go(func() { st.rels.lookups[name].loadAll(ctx, l, ids) })
		}
		wg.Wait()
	})
}

// selections is the selection set below the field being resolved.
func selections(ctx context.Context) ast.SelectionSet {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		return fc.Field.Selections
	}
	return nil
}

// caseUpdatedEvents prefetches below case.updated payloads.
func (p *planner) caseUpdatedEvents(ctx context.Context, es []*model.CaseUpdatedEvent, sel ast.SelectionSet) {
	if p.rels != nil {
		walk(p, ctx, p.rels.CaseUpdatedEvent, es, sel)
	}
}

// caseActivities prefetches below the payloads of caseActivity, whatever
// their concrete type.
func (p *planner) caseActivities(ctx context.Context, es []model.CaseActivity, sel ast.SelectionSet) {
	if p.rels == nil {
		return
	}
	for _, e := range es {
		switch e := e.(type) {
		case *model.CaseUpdatedEvent:
			walk(p, ctx, p.rels.CaseUpdatedEvent, []*model.CaseUpdatedEvent{e}, sel)
		case *model.DocumentUploadedEvent:
			walk(p, ctx, p.rels.DocumentUploadedEvent, []*model.DocumentUploadedEvent{e}, sel)
		case *model.AppointmentScheduledEvent:
			walk(p, ctx, p.rels.AppointmentScheduledEvent, []*model.AppointmentScheduledEvent{e}, sel)
		case *model.AppointmentCancelledEvent:
			walk(p, ctx, p.rels.AppointmentCancelledEvent, []*model.AppointmentCancelledEvent{e}, sel)
		case *model.AppointmentRescheduledEvent:
			walk(p, ctx, p.rels.AppointmentRescheduledEvent, []*model.AppointmentRescheduledEvent{e}, sel)
		case *model.CaseNoteAddedEvent:
			walk(p, ctx, p.rels.CaseNoteAddedEvent, []*model.CaseNoteAddedEvent{e}, sel)
		}
	}
}
