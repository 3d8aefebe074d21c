package resolvers

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
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

// planner prefetches the relations below a set of entities. Errors are not
// returned: they sit in the loaders' cache, and the field resolvers that need
// the value report them at the right path.
type planner struct {
	oc *graphql.OperationContext
	l  *loaders.Loaders
}

func newPlanner(ctx context.Context, l *loaders.Loaders) *planner {
	return &planner{oc: graphql.GetOperationContext(ctx), l: l}
}

// collect returns the fields selected on typeName, with fragments, @skip and
// @include applied, the most deeply nested first: the relation with the
// longest chain of levels below it is the critical path, so its request
// should leave first (appointments -> doctors -> clinics before assignee).
func (p *planner) collect(sel ast.SelectionSet, typeName string) []graphql.CollectedField {
	fields := graphql.CollectFields(p.oc, sel, []string{typeName})
	if len(fields) < 2 {
		return fields
	}
	// A copy: gqlgen caches the slice it returns for the whole operation.
	fields = slices.Clone(fields)
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
// waiting on those keys are released.
func prefetch[V any](p *planner, ctx context.Context, l *loaders.Loader[V], keys []int, below func([]V)) {
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
// flattened lists.
func prefetchLists[V any](p *planner, ctx context.Context, l *loaders.Loader[[]V], keys []int, below func([]V)) {
	prefetch(p, ctx, l, keys, func(lists [][]V) {
		var flat []V
		for _, list := range lists {
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
			p.cases(ctx, cs, f.Selections)
		case "edges":
			for _, e := range p.collect(f.Selections, "CaseEdge") {
				if e.Name == "node" {
					p.cases(ctx, cs, e.Selections)
				}
			}
		}
	}
}

func (p *planner) cases(ctx context.Context, cs []*model.Case, sel ast.SelectionSet) {
	if len(cs) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Case") {
		switch f.Name {
		case "patient":
			ids := keys(cs, func(c *model.Case) int { return c.PatientID })
			prefetch(p, ctx, p.l.Patients, ids, func(ps []*model.Patient) { p.patients(ctx, ps, f.Selections) })
		case "assignee":
			ids := make([]int, 0, len(cs))
			for _, c := range cs {
				if c.AssigneeID != nil {
					ids = append(ids, *c.AssigneeID)
				}
			}
			prefetch(p, ctx, p.l.Staff, ids, nil)
		case "appointments":
			ids := caseIDs(cs)
			prefetchLists(p, ctx, p.l.AppointmentsByCase, ids, func(as []*model.Appointment) { p.appointments(ctx, as, f.Selections) })
		case "documents":
			ids := caseIDs(cs)
			prefetchLists(p, ctx, p.l.DocumentsByCase, ids, func(ds []*model.Document) { p.documents(ctx, ds, f.Selections) })
		}
	}
}

func caseIDs(cs []*model.Case) []int {
	return keys(cs, func(c *model.Case) int { return c.ID })
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

func (p *planner) patients(ctx context.Context, ps []*model.Patient, sel ast.SelectionSet) {
	if len(ps) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Patient") {
		switch f.Name {
		case "insurer":
			ids := keys(ps, func(pt *model.Patient) int { return pt.InsurerID })
			prefetch(p, ctx, p.l.Insurers, ids, nil)
		case "cases":
			ids := keys(ps, func(pt *model.Patient) int { return pt.ID })
			prefetchLists(p, ctx, p.l.CasesByPatient, ids, func(cs []*model.Case) { p.cases(ctx, cs, f.Selections) })
		}
	}
}

func (p *planner) appointments(ctx context.Context, as []*model.Appointment, sel ast.SelectionSet) {
	if len(as) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Appointment") {
		switch f.Name {
		case "doctor":
			ids := keys(as, func(a *model.Appointment) int { return a.DoctorID })
			prefetch(p, ctx, p.l.Doctors, ids, func(ds []*model.Doctor) { p.doctors(ctx, ds, f.Selections) })
		case "case":
			ids := keys(as, func(a *model.Appointment) int { return a.CaseID })
			prefetch(p, ctx, p.l.Cases, ids, func(cs []*model.Case) { p.cases(ctx, cs, f.Selections) })
		}
	}
}

func (p *planner) doctors(ctx context.Context, ds []*model.Doctor, sel ast.SelectionSet) {
	if len(ds) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Doctor") {
		if f.Name == "clinic" {
			ids := keys(ds, func(d *model.Doctor) int { return d.ClinicID })
			prefetch(p, ctx, p.l.Clinics, ids, nil)
		}
	}
}

func (p *planner) documents(ctx context.Context, ds []*model.Document, sel ast.SelectionSet) {
	if len(ds) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Document") {
		if f.Name == "case" {
			ids := keys(ds, func(d *model.Document) int { return d.CaseID })
			prefetch(p, ctx, p.l.Cases, ids, func(cs []*model.Case) { p.cases(ctx, cs, f.Selections) })
		}
	}
}

// operationState is what the resolvers of one operation share beyond the
// loaders.
type operationState struct {
	rootOnce sync.Once
}

type opStateKey struct{}

func withOperationState(ctx context.Context) context.Context {
	return context.WithValue(ctx, opStateKey{}, &operationState{})
}

// prefetchRoot loads, in one call per service, the entities that the
// operation's single-entity root fields (case, patient, doctor, ...) ask for,
// so that `{ a: case(id: 1) { id } b: case(id: 2) { id } }` makes one call to
// the cases service, not two. The first root resolver to run does it; the
// others wait for it.
func (r *Resolver) prefetchRoot(ctx context.Context) {
	st, ok := ctx.Value(opStateKey{}).(*operationState)
	if !ok {
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
			switch f.Name {
			case "case", "patient", "staffMember", "doctor", "clinic", "insurer":
				raw, ok := f.ArgumentMap(oc.Variables)["id"]
				if !ok {
					continue
				}
				if id, err := graphql.UnmarshalIntID(raw); err == nil {
					keys[f.Name] = append(keys[f.Name], id)
				}
			}
		}
		var wg sync.WaitGroup
		for name, ids := range keys {
			wg.Go(func() {
				switch name {
				case "case":
					l.Cases.LoadAll(ctx, ids)
				case "patient":
					l.Patients.LoadAll(ctx, ids)
				case "staffMember":
					l.Staff.LoadAll(ctx, ids)
				case "doctor":
					l.Doctors.LoadAll(ctx, ids)
				case "clinic":
					l.Clinics.LoadAll(ctx, ids)
				case "insurer":
					l.Insurers.LoadAll(ctx, ids)
				}
			})
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
	for _, f := range p.collect(sel, "CaseUpdatedEvent") {
		if f.Name == "case" {
			ids := keys(es, func(e *model.CaseUpdatedEvent) int { return e.CaseID })
			prefetch(p, ctx, p.l.Cases, ids, func(cs []*model.Case) { p.cases(ctx, cs, f.Selections) })
		}
	}
}

// caseActivities prefetches below the payloads of caseActivity, whatever
// their concrete type.
func (p *planner) caseActivities(ctx context.Context, es []model.CaseActivity, sel ast.SelectionSet) {
	for _, e := range es {
		switch e := e.(type) {
		case *model.CaseUpdatedEvent:
			p.caseUpdatedEvents(ctx, []*model.CaseUpdatedEvent{e}, sel)
		case *model.DocumentUploadedEvent:
			for _, f := range p.collect(sel, "DocumentUploadedEvent") {
				if f.Name == "document" {
					prefetchLists(p, ctx, p.l.DocumentsByCase, []int{e.CaseID}, func(ds []*model.Document) { p.documents(ctx, ds, f.Selections) })
				}
			}
		case *model.AppointmentScheduledEvent:
			for _, f := range p.collect(sel, "AppointmentScheduledEvent") {
				if f.Name == "appointment" {
					prefetchLists(p, ctx, p.l.AppointmentsByCase, []int{e.CaseID}, func(as []*model.Appointment) { p.appointments(ctx, as, f.Selections) })
				}
			}
		}
	}
}
