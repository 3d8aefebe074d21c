package resolvers

import (
	"context"
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
// entities walks the selection below it and loads every relation the client
// asked for with LoadAll, which sends the whole, already complete key set at
// once: one call per service per level (more only past the 100-id limit), each
// level starting as soon as its parents have arrived. The field resolvers then
// find their values in the loaders' cache. Load's own batching remains the
// fallback for anything the planner does not cover.

// planner prefetches the relations below a set of entities. Each relation runs
// in its own goroutine as soon as its parents are known; wait blocks until the
// whole tree is loaded. Errors are not returned: they sit in the loaders'
// cache, and the field resolvers that need the value report them at the
// right path.
type planner struct {
	oc *graphql.OperationContext
	l  *loaders.Loaders
	wg sync.WaitGroup
}

func newPlanner(ctx context.Context, l *loaders.Loaders) *planner {
	return &planner{oc: graphql.GetOperationContext(ctx), l: l}
}

func (p *planner) wait() { p.wg.Wait() }

// collect returns the fields selected on typeName, with fragments, @skip and
// @include applied.
func (p *planner) collect(sel ast.SelectionSet, typeName string) []graphql.CollectedField {
	return graphql.CollectFields(p.oc, sel, []string{typeName})
}

// loadAll loads keys with l and returns the values that loaded (errors stay
// in the cache for the resolvers to report).
func loadAll[V any](ctx context.Context, l *loaders.Loader[V], keys []int) []V {
	if len(keys) == 0 {
		return nil
	}
	vals, errs := l.LoadAll(ctx, keys)
	if errs == nil {
		return vals
	}
	ok := vals[:0:0]
	for i, v := range vals {
		if errs[i] == nil {
			ok = append(ok, v)
		}
	}
	return ok
}

// loadLists is loadAll for one-to-many relations: it flattens the lists.
func loadLists[V any](ctx context.Context, l *loaders.Loader[[]V], keys []int) []V {
	var out []V
	for _, list := range loadAll(ctx, l, keys) {
		out = append(out, list...)
	}
	return out
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
			ids := make([]int, len(cs))
			for i, c := range cs {
				ids[i] = c.PatientID
			}
			p.wg.Go(func() { p.patients(ctx, loadAll(ctx, p.l.Patients, ids), f.Selections) })
		case "assignee":
			ids := make([]int, 0, len(cs))
			for _, c := range cs {
				if c.AssigneeID != nil {
					ids = append(ids, *c.AssigneeID)
				}
			}
			p.wg.Go(func() { loadAll(ctx, p.l.Staff, ids) })
		case "appointments":
			ids := caseIDs(cs)
			p.wg.Go(func() { p.appointments(ctx, loadLists(ctx, p.l.AppointmentsByCase, ids), f.Selections) })
		case "documents":
			ids := caseIDs(cs)
			p.wg.Go(func() { p.documents(ctx, loadLists(ctx, p.l.DocumentsByCase, ids), f.Selections) })
		}
	}
}

func caseIDs(cs []*model.Case) []int {
	ids := make([]int, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
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
			ids := make([]int, len(ps))
			for i, pt := range ps {
				ids[i] = pt.InsurerID
			}
			p.wg.Go(func() { loadAll(ctx, p.l.Insurers, ids) })
		case "cases":
			ids := make([]int, len(ps))
			for i, pt := range ps {
				ids[i] = pt.ID
			}
			p.wg.Go(func() { p.cases(ctx, loadLists(ctx, p.l.CasesByPatient, ids), f.Selections) })
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
			ids := make([]int, len(as))
			for i, a := range as {
				ids[i] = a.DoctorID
			}
			p.wg.Go(func() { p.doctors(ctx, loadAll(ctx, p.l.Doctors, ids), f.Selections) })
		case "case":
			ids := make([]int, len(as))
			for i, a := range as {
				ids[i] = a.CaseID
			}
			p.wg.Go(func() { p.cases(ctx, loadAll(ctx, p.l.Cases, ids), f.Selections) })
		}
	}
}

func (p *planner) doctors(ctx context.Context, ds []*model.Doctor, sel ast.SelectionSet) {
	if len(ds) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Doctor") {
		if f.Name == "clinic" {
			ids := make([]int, len(ds))
			for i, d := range ds {
				ids[i] = d.ClinicID
			}
			p.wg.Go(func() { loadAll(ctx, p.l.Clinics, ids) })
		}
	}
}

func (p *planner) documents(ctx context.Context, ds []*model.Document, sel ast.SelectionSet) {
	if len(ds) == 0 {
		return
	}
	for _, f := range p.collect(sel, "Document") {
		if f.Name == "case" {
			ids := make([]int, len(ds))
			for i, d := range ds {
				ids[i] = d.CaseID
			}
			p.wg.Go(func() { p.cases(ctx, loadAll(ctx, p.l.Cases, ids), f.Selections) })
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
