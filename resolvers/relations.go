package resolvers

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/plan"
)

// Every schema field that crosses into another service (its value is not in
// the parent's model but loaded by key, or, at the root, fetched by its own
// resolver) is declared once, in newRelations. The rest follows from that
// declaration:
//   - the field's resolver is one line calling the declaration's load, so it
//     uses the loader the declaration names;
//   - the planner (walk) prefetches the declared relations a client selected
//     below a set of values, level by level, and prefetchRoot batches the
//     declared lookups by id;
//   - the cost model (CostModel) charges each declared field its calls and
//     sizes its lists.
// TestRelations checks the declarations against the schema: a crossing field
// with no declaration, a declaration of a field that does not exist or with
// the wrong type, a missing loader or cost entry all fail it.
//
// A Go table rather than a schema directive: a declaration has to say how
// to read the key from the parent's model (Case.PatientID, a nullable
// AssigneeID) and which loader to use, and in Go both are typed, so a wrong
// loader or key is a compile error and the planner reads keys with a plain
// function call rather than by reflection on the hot path. A directive's
// definition would also be public: gqlgen's introspection and `schema print`
// list every directive definition, so clients and the baseline would see it.
//
// To add a relation:
//  1. Add the field to schema.graphqls, nullable, and run go generate ./...;
//     gqlgen adds a resolver stub to schema.resolvers.go, since the model
//     has no such field (the model keeps the key, such as Case.PatientID).
//  2. Declare it in newRelations: one (a key the parent holds), many (a
//     list by the parent's id, with its typical size), firstOf (such a list
//     cut to an argument, such as limit), pick (one item of
//     such a list), byIDArg (a Query field by id) or root (a root field
//     with its own resolver, only its cost); a new type needs its object
//     in relations, with its loader by id if it has one.
//  3. Make the stub one line: return r.rels.<name>.load(ctx, r.loaders(ctx), obj)
//     (resolve(ctx, r.Resolver, id) for a lookup).
// The planner and the cost model then include it. TestRelations fails
// while a field that crosses has no declaration, or a declaration disagrees
// with the schema, the loaders or the cost model. A new service needs its
// client and its loader in package loaders first.

// decl is what every declaration says about its field, for the cost model
// and the schema checks.
type decl struct {
	parent, name string // the field's coordinate: parent type and field name
	// target is the GraphQL type the field returns, list whether it is a
	// list of them; target is "" for root fields with resolvers of their
	// own, which only declare their cost.
	target string
	list   bool
	// connection, for a relation served as a connection (paged), is the
	// connection type the field returns; target is then its node type.
	connection string
	calls      int                  // upstream calls the field costs, per level
	size       graphqlhttp.ListSize // for lists: how long they usually are
	// hasLoader, for the checks, reports whether l has the loader the
	// field reads; nil for root fields with resolvers of their own.
	hasLoader func(l *loaders.Loaders) bool
	// service is the service the field calls, for a dry run's plan: the
	// one its loader names, so the two cannot disagree.
	service func(l *loaders.Loaders) string
}

func (d *decl) coordinate() string { return d.parent + "." + d.name }

// object is a GraphQL object type whose values Stacker holds as T, with the
// relations that leave it.
type object[T any] struct {
	name string
	// byID is its loader by id; nil for types not looked up by id
	// (appointments and documents come by case, events from the bus).
	byID func(*loaders.Loaders) *loaders.Loader[T]
	rels []edge[T]
}

// edge is o's relation declared as d; nil when d is not one of o's.
func (o *object[T]) edge(d *decl) edge[T] {
	for _, r := range o.rels {
		if r.declared() == d {
			return r
		}
	}
	return nil
}

// loadable reports whether o is loaded by id and l has that loader.
func (o *object[T]) loadable(l *loaders.Loaders) bool { return o.byID != nil && o.byID(l) != nil }

// service is the service o is loaded from by id.
func (o *object[T]) service(l *loaders.Loaders) string { return o.byID(l).Service() }

// edge is a relation leaving values of type T.
type edge[T any] interface {
	declared() *decl
	// prefetch claims the relation for all of from at once, and below
	// them what sel selects; args are the field's arguments, defaults
	// applied (nil when the policies prefetch it for their checks).
	prefetch(p *planner, ctx context.Context, from []T, args map[string]any, sel ast.SelectionSet)
	// value is the relation's value for from, as its resolver returns it,
	// for the compiled path (compiled.go), which holds values untyped.
	value(ctx context.Context, l *loaders.Loaders, from T) (any, error)
}

// anyObject is an object whose values are held untyped: the compiled path
// follows a relation by the parent's GraphQL type and field name.
type anyObject interface {
	// relation is the value of the relation field of from; ok is false
	// when field is not a relation of the object (or from is not one of
	// its values).
	relation(ctx context.Context, l *loaders.Loaders, field string, from any) (v any, ok bool, err error)
}

func (o *object[T]) relation(ctx context.Context, l *loaders.Loaders, field string, from any) (any, bool, error) {
	t, ok := from.(T)
	if !ok {
		return nil, false, nil
	}
	for _, r := range o.rels {
		if r.declared().name == field {
			v, err := r.value(ctx, l, t)
			return v, true, err
		}
	}
	return nil, false, nil
}

// toOne is a relation to one value by a key the parent holds.
type toOne[P, V any] struct {
	decl
	// key is the related value's id; false when there is none (an
	// unassigned case), which resolves to null without a call.
	key func(P) (int, bool)
	to  *object[V]
}

func (r *toOne[P, V]) declared() *decl { return &r.decl }

func (r *toOne[P, V]) load(ctx context.Context, l *loaders.Loaders, from P) (V, error) {
	k, ok := r.key(from)
	if !ok {
		var zero V
		return zero, nil
	}
	return r.to.byID(l).Load(ctx, k)
}

func (r *toOne[P, V]) value(ctx context.Context, l *loaders.Loaders, from P) (any, error) {
	return r.load(ctx, l, from)
}

func (r *toOne[P, V]) prefetch(p *planner, ctx context.Context, from []P, _ map[string]any, sel ast.SelectionSet) {
	ctx = plan.Below(ctx, r.name)
	ids := make([]int, 0, len(from))
	for _, v := range from {
		if k, ok := r.key(v); ok {
			ids = append(ids, k)
		}
	}
	prefetch(ctx, r.to.byID(p.l), ids, below(p, ctx, r.to, sel))
}

// toMany is a one-to-many relation: a list loaded by the parent's own id.
type toMany[P, V any] struct {
	decl
	key    func(P) int
	loader func(*loaders.Loaders) *loaders.Loader[[]V]
	to     *object[V]
}

func (r *toMany[P, V]) declared() *decl { return &r.decl }

func (r *toMany[P, V]) load(ctx context.Context, l *loaders.Loaders, from P) ([]V, error) {
	return r.loader(l).Load(ctx, r.key(from))
}

func (r *toMany[P, V]) value(ctx context.Context, l *loaders.Loaders, from P) (any, error) {
	return r.load(ctx, l, from)
}

func (r *toMany[P, V]) prefetch(p *planner, ctx context.Context, from []P, _ map[string]any, sel ast.SelectionSet) {
	ctx = plan.Below(ctx, r.name)
	prefetchLists(ctx, r.loader(p.l), keys(from, r.key), 0, below(p, ctx, r.to, sel))
}

// firstN is a one-to-many relation cut to the first n of each parent's
// list, n the field's argument arg (Doctor.appointments(limit:)). The
// service takes no limit per parent, so the loader holds each parent's whole
// list, already in the field's order, and the cut is made here: when the
// field resolves, and when the planner prefetches below it, so the level
// below is fetched only for the values returned.
type firstN[P, V any] struct {
	toMany[P, V]
	arg      string
	def, max int // the argument's default (as in the schema) and bound
}

// n is the number of values the argument asks for, checked.
func (r *firstN[P, V]) n(limit *int) (int, error) {
	n := r.def
	if limit != nil {
		n = *limit
	}
	if n < 1 || n > r.max {
		return 0, badInput("%s must be between 1 and %d, got %d", r.arg, r.max, n)
	}
	return n, nil
}

func (r *firstN[P, V]) load(ctx context.Context, l *loaders.Loaders, from P, limit *int) ([]V, error) {
	n, err := r.n(limit)
	if err != nil {
		return nil, err
	}
	list, err := r.toMany.load(ctx, l, from)
	return list[:min(n, len(list))], err
}

// value is the relation with the argument's default: the compiled path
// follows only fields written without arguments.
func (r *firstN[P, V]) value(ctx context.Context, l *loaders.Loaders, from P) (any, error) {
	return r.load(ctx, l, from, nil)
}

func (r *firstN[P, V]) prefetch(p *planner, ctx context.Context, from []P, args map[string]any, sel ast.SelectionSet) {
	var limit *int
	if v, ok := args[r.arg]; ok && v != nil {
		i, err := graphql.UnmarshalInt(v)
		if err != nil {
			return // the resolver reports it
		}
		limit = &i
	}
	n, err := r.n(limit)
	if err != nil {
		return
	}
	ctx = plan.Below(ctx, r.name)
	prefetchLists(ctx, r.loader(p.l), keys(from, r.key), n, below(p, ctx, r.to, sel))
}

// paged is a one-to-many relation served as one page of a connection
// (StaffMember.cases, Insurer.patients): each parent's list, filtered by
// the field's other arguments (keep), from after its `after` cursor, cut to
// `first`, with the filtered list's length as totalCount. As for firstN, the
// service takes no limit or filter per parent: the loader holds each
// parent's whole list, so one call serves every parent of a level and every
// alias of the field whatever its arguments, and the filter and the cut are
// made here, when the field resolves and when the planner prefetches below
// it (the level below is fetched only for the page's values).
type paged[P, V, C any] struct {
	toMany[P, V]
	conn, edge string // the connection and edge types, for the planner
	def, max   int    // first's default (as in the schema) and bound
	// keep is the filter the arguments ask for, nil for none; it reads
	// arguments as gqlgen passes them to the resolver and as the planner
	// reads them from the query (raw values).
	keep func(args map[string]any) (func(V) bool, error)
	// build makes the connection's model from a page.
	build func(total, offset int, nodes []V) C
}

func (r *paged[P, V, C]) declared() *decl { return &r.decl }

// window reads the arguments: the filter, the position of the page's first
// value and its length.
func (r *paged[P, V, C]) window(args map[string]any) (keep func(V) bool, offset, n int, err error) {
	n = r.def
	if v, ok := present(args["first"]); ok {
		if n, err = graphql.UnmarshalInt(v); err != nil {
			return nil, 0, 0, badInput("first: %v", err)
		}
	}
	if n < 0 || n > r.max {
		return nil, 0, 0, badInput("first must be between 0 and %d, got %d", r.max, n)
	}
	if v, ok := present(args["after"]); ok {
		c, _ := v.(string)
		pos, err := model.DecodeCursor(c)
		if err != nil {
			return nil, 0, 0, badInput("after: %v", err)
		}
		offset = pos + 1
	}
	if r.keep != nil {
		if keep, err = r.keep(args); err != nil {
			return nil, 0, 0, err
		}
	}
	return keep, offset, n, nil
}

// cut is the page of list the window selects, and the filtered total.
func cut[V any](list []V, keep func(V) bool, offset, n int) (total int, page []V) {
	if keep != nil {
		kept := make([]V, 0, len(list))
		for _, v := range list {
			if keep(v) {
				kept = append(kept, v)
			}
		}
		list = kept
	}
	lo := min(offset, len(list))
	return len(list), list[lo:min(lo+n, len(list))]
}

func (r *paged[P, V, C]) load(ctx context.Context, l *loaders.Loaders, from P, args map[string]any) (C, error) {
	var zero C
	keep, offset, n, err := r.window(args)
	if err != nil {
		return zero, err
	}
	list, err := r.toMany.load(ctx, l, from)
	if err != nil {
		return zero, err
	}
	total, page := cut(list, keep, offset, n)
	return r.build(total, offset, page), nil
}

// value is the relation with the arguments' defaults: the compiled path
// follows only fields written without arguments.
func (r *paged[P, V, C]) value(ctx context.Context, l *loaders.Loaders, from P) (any, error) {
	return r.load(ctx, l, from, nil)
}

func (r *paged[P, V, C]) prefetch(p *planner, ctx context.Context, from []P, args map[string]any, sel ast.SelectionSet) {
	keep, offset, n, err := r.window(args)
	if err != nil {
		return // the resolver reports it
	}
	ctx = plan.Below(ctx, r.name)
	var then func([][]V)
	if len(r.to.rels) > 0 {
		then = func(lists [][]V) {
			var flat []V
			for _, list := range lists {
				_, page := cut(list, keep, offset, n)
				flat = append(flat, page...)
			}
			connection(p, ctx, r.to, r.conn, r.edge, flat, sel)
		}
	}
	prefetch(ctx, r.loader(p.l), keys(from, r.key), then)
}

// connection walks below the nodes and edges of a connection of values of
// o, its types named conn and edge.
func connection[V any](p *planner, ctx context.Context, o *object[V], conn, edge string, vs []V, sel ast.SelectionSet) {
	for _, f := range p.collect(sel, conn) {
		switch f.Name {
		case "nodes":
			walk(p, plan.Within(ctx, f.Alias), o, vs, f.Selections)
		case "edges":
			for _, e := range p.collect(f.Selections, edge) {
				if e.Name == "node" {
					walk(p, plan.Within(plan.Within(ctx, f.Alias), e.Alias), o, vs, e.Selections)
				}
			}
		}
	}
}

// present is an optional argument's value, dereferenced when the resolver
// passed it as a pointer; false when it is absent or null.
func present(v any) (any, bool) {
	switch p := v.(type) {
	case nil:
		return nil, false
	case *int:
		if p == nil {
			return nil, false
		}
		return *p, true
	case *string:
		if p == nil {
			return nil, false
		}
		return *p, true
	}
	return v, true
}

// oneOf is one value picked by id from a one-to-many list: an event names a
// case and one of its documents, and the documents service lists documents
// by case. It prefetches the whole list, as a toMany.
type oneOf[P, V any] struct {
	toMany[P, V]
	id   func(P) int // the id of the value wanted
	idOf func(V) int
}

func (r *oneOf[P, V]) value(ctx context.Context, l *loaders.Loaders, from P) (any, error) {
	return r.load(ctx, l, from)
}

func (r *oneOf[P, V]) load(ctx context.Context, l *loaders.Loaders, from P) (V, error) {
	return findByID(r.loader(l), ctx, r.key(from), r.id(from), r.idOf)
}

// lookup is a root field returning one value by its `id` argument. The
// value comes from the root prefetch (one call per service for all such
// fields of the operation), and the relations below it are prefetched
// level by level.
type lookup[V any] struct {
	decl
	to *object[V]
}

func (q *lookup[V]) resolve(ctx context.Context, r *Resolver, id int) (V, error) {
	r.prefetchRoot(ctx)
	l := r.loaders(ctx)
	v, err := q.to.byID(l).Load(ctx, id)
	if err != nil || len(q.to.rels) == 0 {
		return v, err
	}
	walk(newPlanner(ctx, l), ctx, q.to, []V{v}, selections(ctx))
	return v, nil
}

func (q *lookup[V]) loadAll(ctx context.Context, l *loaders.Loaders, ids []int) {
	q.to.byID(l).LoadAll(ctx, ids)
}

// rootLookup is a lookup whatever its type, for prefetchRoot.
type rootLookup interface {
	loadAll(ctx context.Context, l *loaders.Loaders, ids []int)
}

// relations holds the declarations; the Resolver builds it once.
type relations struct {
	// The object types the relations connect, named as in the schema.
	Case                      *object[*model.Case]
	Patient                   *object[*model.Patient]
	Insurer                   *object[*model.Insurer]
	StaffMember               *object[*model.StaffMember]
	Doctor                    *object[*model.Doctor]
	Clinic                    *object[*model.Clinic]
	Appointment               *object[*model.Appointment]
	Document                  *object[*model.Document]
	CaseUpdatedEvent          *object[*model.CaseUpdatedEvent]
	DocumentUploadedEvent     *object[*model.DocumentUploadedEvent]
	AppointmentScheduledEvent *object[*model.AppointmentScheduledEvent]
	CaseNote                  *object[*model.CaseNote]
	CaseNoteAddedEvent        *object[*model.CaseNoteAddedEvent]

	casePatient                          *toOne[*model.Case, *model.Patient]
	caseAssignee                         *toOne[*model.Case, *model.StaffMember]
	caseAppointments                     *toMany[*model.Case, *model.Appointment]
	clinicDoctors                        *toMany[*model.Clinic, *model.Doctor]
	doctorAppointments                   *firstN[*model.Doctor, *model.Appointment]
	staffMemberCases                     *paged[*model.StaffMember, *model.Case, *model.CaseConnection]
	insurerPatients                      *paged[*model.Insurer, *model.Patient, *model.PatientConnection]
	caseDocuments                        *toMany[*model.Case, *model.Document]
	patientInsurer                       *toOne[*model.Patient, *model.Insurer]
	patientCases                         *toMany[*model.Patient, *model.Case]
	appointmentDoctor                    *toOne[*model.Appointment, *model.Doctor]
	appointmentCase                      *toOne[*model.Appointment, *model.Case]
	doctorClinic                         *toOne[*model.Doctor, *model.Clinic]
	documentCase                         *toOne[*model.Document, *model.Case]
	caseUpdatedEventCase                 *toOne[*model.CaseUpdatedEvent, *model.Case]
	documentUploadedEventDocument        *oneOf[*model.DocumentUploadedEvent, *model.Document]
	documentUploadedEventCase            *toOne[*model.DocumentUploadedEvent, *model.Case]
	appointmentScheduledEventAppointment *oneOf[*model.AppointmentScheduledEvent, *model.Appointment]
	caseNotes                            *toMany[*model.Case, *model.CaseNote]
	caseNoteAuthor                       *toOne[*model.CaseNote, *model.StaffMember]
	caseNoteCase                         *toOne[*model.CaseNote, *model.Case]
	caseNoteAddedEventNote               *oneOf[*model.CaseNoteAddedEvent, *model.CaseNote]
	caseNoteAddedEventCase               *toOne[*model.CaseNoteAddedEvent, *model.Case]

	// Cancelled and rescheduled appointments (cancelAppointment,
	// rescheduleAppointment): their events' types and appointment.
	AppointmentCancelledEvent              *object[*model.AppointmentCancelledEvent]
	AppointmentRescheduledEvent            *object[*model.AppointmentRescheduledEvent]
	appointmentCancelledEventAppointment   *oneOf[*model.AppointmentCancelledEvent, *model.Appointment]
	appointmentRescheduledEventAppointment *oneOf[*model.AppointmentRescheduledEvent, *model.Appointment]

	queryCase        *lookup[*model.Case]
	queryPatient     *lookup[*model.Patient]
	queryStaffMember *lookup[*model.StaffMember]
	queryDoctor      *lookup[*model.Doctor]
	queryClinic      *lookup[*model.Clinic]
	queryInsurer     *lookup[*model.Insurer]

	// all is every declaration, in declaration order.
	all []*decl
	// lookups are the lookups by Query field name.
	lookups map[string]rootLookup
	// policies are the named policies of @policy (policies.go).
	policies map[string]policy
	// objects are the object types above by GraphQL name.
	objects map[string]anyObject
}

// newRelations declares every field that crosses into another service.
//
// Costs: each relation is one upstream call per level of the query. List
// sizes are the services' typical sizes, rounded up: about 3 appointments
// and 2 documents a case, 5 cases a patient. The event payloads cost
// nothing: the cost model has never charged them (an event's entities are
// loaded once for all its subscribers), and charging them would change which
// subscriptions the cost limit refuses.
func newRelations() *relations {
	rs := &relations{
		Case:        &object[*model.Case]{name: "Case", byID: func(l *loaders.Loaders) *loaders.Loader[*model.Case] { return l.Cases }},
		Patient:     &object[*model.Patient]{name: "Patient", byID: func(l *loaders.Loaders) *loaders.Loader[*model.Patient] { return l.Patients }},
		Insurer:     &object[*model.Insurer]{name: "Insurer", byID: func(l *loaders.Loaders) *loaders.Loader[*model.Insurer] { return l.Insurers }},
		StaffMember: &object[*model.StaffMember]{name: "StaffMember", byID: func(l *loaders.Loaders) *loaders.Loader[*model.StaffMember] { return l.Staff }},
		Doctor:      &object[*model.Doctor]{name: "Doctor", byID: func(l *loaders.Loaders) *loaders.Loader[*model.Doctor] { return l.Doctors }},
		Clinic:      &object[*model.Clinic]{name: "Clinic", byID: func(l *loaders.Loaders) *loaders.Loader[*model.Clinic] { return l.Clinics }},
		Appointment: &object[*model.Appointment]{name: "Appointment"},
		Document:    &object[*model.Document]{name: "Document"},

		CaseUpdatedEvent:          &object[*model.CaseUpdatedEvent]{name: "CaseUpdatedEvent"},
		DocumentUploadedEvent:     &object[*model.DocumentUploadedEvent]{name: "DocumentUploadedEvent"},
		AppointmentScheduledEvent: &object[*model.AppointmentScheduledEvent]{name: "AppointmentScheduledEvent"},
		CaseNote:                  &object[*model.CaseNote]{name: "CaseNote"},
		CaseNoteAddedEvent:        &object[*model.CaseNoteAddedEvent]{name: "CaseNoteAddedEvent"},

		AppointmentCancelledEvent:   &object[*model.AppointmentCancelledEvent]{name: "AppointmentCancelledEvent"},
		AppointmentRescheduledEvent: &object[*model.AppointmentRescheduledEvent]{name: "AppointmentRescheduledEvent"},

		lookups: map[string]rootLookup{},
	}
	caseID := func(c *model.Case) int { return c.ID }

	rs.casePatient = one(rs, rs.Case, "patient", 1, rs.Patient, func(c *model.Case) (int, bool) { return c.PatientID, true })
	rs.caseAssignee = one(rs, rs.Case, "assignee", 1, rs.StaffMember, func(c *model.Case) (int, bool) {
		if c.AssigneeID == nil {
			return 0, false
		}
		return *c.AssigneeID, true
	})
	rs.caseAppointments = many(rs, rs.Case, "appointments", 1, 5, rs.Appointment,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Appointment] { return l.AppointmentsByCase }, caseID)
	rs.caseDocuments = many(rs, rs.Case, "documents", 1, 5, rs.Document,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Document] { return l.DocumentsByCase }, caseID)

	rs.patientInsurer = one(rs, rs.Patient, "insurer", 1, rs.Insurer, func(p *model.Patient) (int, bool) { return p.InsurerID, true })
	rs.patientCases = many(rs, rs.Patient, "cases", 1, 10, rs.Case,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Case] { return l.CasesByPatient },
		func(p *model.Patient) int { return p.ID })

	rs.appointmentDoctor = one(rs, rs.Appointment, "doctor", 1, rs.Doctor, func(a *model.Appointment) (int, bool) { return a.DoctorID, true })
	rs.appointmentCase = one(rs, rs.Appointment, "case", 1, rs.Case, func(a *model.Appointment) (int, bool) { return a.CaseID, true })
	rs.doctorClinic = one(rs, rs.Doctor, "clinic", 1, rs.Clinic, func(d *model.Doctor) (int, bool) { return d.ClinicID, true })
	rs.clinicDoctors = many(rs, rs.Clinic, "doctors", 1, 10, rs.Doctor,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Doctor] { return l.DoctorsByClinic },
		func(c *model.Clinic) int { return c.ID })
	rs.doctorAppointments = firstOf(rs, rs.Doctor, "appointments", "limit", 10, 50, rs.Appointment,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Appointment] { return l.UpcomingByDoctor },
		func(d *model.Doctor) int { return d.ID })
	rs.staffMemberCases = page(rs, rs.StaffMember, "cases", "CaseConnection", "CaseEdge", 10, 100, rs.Case,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Case] { return l.CasesByAssignee },
		func(s *model.StaffMember) int { return s.ID }, caseStatusFilter,
		func(total, offset int, nodes []*model.Case) *model.CaseConnection {
			return &model.CaseConnection{TotalCount: total, Offset: offset, Nodes: nodes}
		})
	rs.insurerPatients = page(rs, rs.Insurer, "patients", "PatientConnection", "PatientEdge", 10, 100, rs.Patient,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.Patient] { return l.PatientsByInsurer },
		func(i *model.Insurer) int { return i.ID }, nil,
		func(total, offset int, nodes []*model.Patient) *model.PatientConnection {
			return &model.PatientConnection{TotalCount: total, Offset: offset, Nodes: nodes}
		})
	rs.documentCase = one(rs, rs.Document, "case", 1, rs.Case, func(d *model.Document) (int, bool) { return d.CaseID, true })

	rs.caseUpdatedEventCase = one(rs, rs.CaseUpdatedEvent, "case", 0, rs.Case, func(e *model.CaseUpdatedEvent) (int, bool) { return e.CaseID, true })
	rs.documentUploadedEventDocument = pick(rs, rs.DocumentUploadedEvent, "document", rs.caseDocuments,
		func(e *model.DocumentUploadedEvent) int { return e.CaseID },
		func(e *model.DocumentUploadedEvent) int { return e.DocumentID },
		func(d *model.Document) int { return d.ID })
	rs.documentUploadedEventCase = one(rs, rs.DocumentUploadedEvent, "case", 0, rs.Case, func(e *model.DocumentUploadedEvent) (int, bool) { return e.CaseID, true })
	rs.appointmentScheduledEventAppointment = pick(rs, rs.AppointmentScheduledEvent, "appointment", rs.caseAppointments,
		func(e *model.AppointmentScheduledEvent) int { return e.CaseID },
		func(e *model.AppointmentScheduledEvent) int { return e.AppointmentID },
		func(a *model.Appointment) int { return a.ID })
	// A cancelled or moved appointment is read back from its case's list,
	// as a booked one is: the list is what the event's loaders share, and it
	// holds the appointment's state after the change.
	rs.appointmentCancelledEventAppointment = pick(rs, rs.AppointmentCancelledEvent, "appointment", rs.caseAppointments,
		func(e *model.AppointmentCancelledEvent) int { return e.CaseID },
		func(e *model.AppointmentCancelledEvent) int { return e.AppointmentID },
		func(a *model.Appointment) int { return a.ID })
	rs.appointmentRescheduledEventAppointment = pick(rs, rs.AppointmentRescheduledEvent, "appointment", rs.caseAppointments,
		func(e *model.AppointmentRescheduledEvent) int { return e.CaseID },
		func(e *model.AppointmentRescheduledEvent) int { return e.AppointmentID },
		func(a *model.Appointment) int { return a.ID })

	// A case's notes come from the cases service itself, a second call to
	// it per level beside the cases; about 1 note a case, sized as
	// documents. Their authors batch with every other staff lookup.
	rs.caseNotes = many(rs, rs.Case, "notes", 1, 5, rs.CaseNote,
		func(l *loaders.Loaders) *loaders.Loader[[]*model.CaseNote] { return l.NotesByCase }, caseID)
	rs.caseNoteAuthor = one(rs, rs.CaseNote, "author", 1, rs.StaffMember, func(n *model.CaseNote) (int, bool) { return n.AuthorID, true })
	rs.caseNoteCase = one(rs, rs.CaseNote, "case", 1, rs.Case, func(n *model.CaseNote) (int, bool) { return n.CaseID, true })
	rs.caseNoteAddedEventNote = pick(rs, rs.CaseNoteAddedEvent, "note", rs.caseNotes,
		func(e *model.CaseNoteAddedEvent) int { return e.CaseID },
		func(e *model.CaseNoteAddedEvent) int { return e.NoteID },
		func(n *model.CaseNote) int { return n.ID })
	rs.caseNoteAddedEventCase = one(rs, rs.CaseNoteAddedEvent, "case", 0, rs.Case, func(e *model.CaseNoteAddedEvent) (int, bool) { return e.CaseID, true })

	rs.queryCase = byIDArg(rs, "case", rs.Case)
	rs.queryPatient = byIDArg(rs, "patient", rs.Patient)
	rs.queryStaffMember = byIDArg(rs, "staffMember", rs.StaffMember)
	rs.queryDoctor = byIDArg(rs, "doctor", rs.Doctor)
	rs.queryClinic = byIDArg(rs, "clinic", rs.Clinic)
	rs.queryInsurer = byIDArg(rs, "insurer", rs.Insurer)

	// Root fields with resolvers of their own (query.go, mutation.go): only
	// their cost is declared here.
	rs.root("Query", "cases", "cases", graphqlhttp.ListSize{SlicingArgument: "first", Default: 25, SizedFields: []string{"nodes", "edges"}})
	rs.root("Query", "searchPatients", "patients", graphqlhttp.ListSize{SlicingArgument: "first", Default: 10})
	rs.root("Query", "doctorsBySpecialty", "doctors", graphqlhttp.ListSize{SlicingArgument: "first", Default: 10})
	rs.root("Mutation", "updateCase", "cases", graphqlhttp.ListSize{})
	rs.root("Mutation", "scheduleAppointment", "appointments", graphqlhttp.ListSize{})
	rs.root("Mutation", "createCase", "cases", graphqlhttp.ListSize{})
	rs.root("Mutation", "cancelAppointment", "appointments", graphqlhttp.ListSize{})
	rs.root("Mutation", "rescheduleAppointment", "appointments", graphqlhttp.ListSize{})
	rs.root("Mutation", "uploadDocument", "documents", graphqlhttp.ListSize{})
	rs.root("Mutation", "addCaseNote", "cases", graphqlhttp.ListSize{})
	rs.policies = newPolicies(rs)
	rs.objects = map[string]anyObject{
		rs.Case.name: rs.Case, rs.Patient.name: rs.Patient, rs.Insurer.name: rs.Insurer,
		rs.StaffMember.name: rs.StaffMember, rs.Doctor.name: rs.Doctor, rs.Clinic.name: rs.Clinic,
		rs.Appointment.name: rs.Appointment, rs.Document.name: rs.Document,
		rs.CaseUpdatedEvent.name: rs.CaseUpdatedEvent, rs.DocumentUploadedEvent.name: rs.DocumentUploadedEvent,
		rs.AppointmentScheduledEvent.name: rs.AppointmentScheduledEvent,
		rs.AppointmentCancelledEvent.name: rs.AppointmentCancelledEvent, rs.AppointmentRescheduledEvent.name: rs.AppointmentRescheduledEvent,
		rs.CaseNote.name: rs.CaseNote, rs.CaseNoteAddedEvent.name: rs.CaseNoteAddedEvent,
	}
	return rs
}

// one declares a relation to one value by a key the parent holds.
func one[P, V any](rs *relations, from *object[P], field string, calls int, to *object[V], key func(P) (int, bool)) *toOne[P, V] {
	r := &toOne[P, V]{decl: decl{parent: from.name, name: field, target: to.name, calls: calls, hasLoader: to.loadable, service: to.service}, key: key, to: to}
	from.rels = append(from.rels, r)
	rs.all = append(rs.all, &r.decl)
	return r
}

// many declares a one-to-many relation, loaded by the parent's id (key).
func many[P, V any](rs *relations, from *object[P], field string, calls, size int, to *object[V],
	loader func(*loaders.Loaders) *loaders.Loader[[]V], key func(P) int,
) *toMany[P, V] {
	r := &toMany[P, V]{
		decl: decl{
			parent: from.name, name: field, target: to.name, list: true, calls: calls, size: graphqlhttp.ListSize{Default: size},
			hasLoader: func(l *loaders.Loaders) bool { return loader(l) != nil },
			service:   func(l *loaders.Loaders) string { return loader(l).Service() },
		},
		key:    key,
		loader: loader,
		to:     to,
	}
	from.rels = append(from.rels, r)
	rs.all = append(rs.all, &r.decl)
	return r
}

// firstOf declares a one-to-many relation cut to its argument arg (default
// def, at most max): what many declares, sized by the argument.
func firstOf[P, V any](rs *relations, from *object[P], field, arg string, def, max int, to *object[V],
	loader func(*loaders.Loaders) *loaders.Loader[[]V], key func(P) int,
) *firstN[P, V] {
	m := many(rs, from, field, 1, def, to, loader, key)
	m.size.SlicingArgument = arg
	r := &firstN[P, V]{toMany: *m, arg: arg, def: def, max: max}
	from.rels[len(from.rels)-1] = r
	rs.all[len(rs.all)-1] = &r.decl
	return r
}

// page declares a one-to-many relation served as a page of the connection
// type conn (edges of type edge), cut to its argument first (default def,
// at most max) and filtered by keep (nil: no filter); build makes the
// connection's model. It is sized by first, like a root connection.
func page[P, V, C any](rs *relations, from *object[P], field, conn, edge string, def, max int, to *object[V],
	loader func(*loaders.Loaders) *loaders.Loader[[]V], key func(P) int,
	keep func(map[string]any) (func(V) bool, error), build func(total, offset int, nodes []V) C,
) *paged[P, V, C] {
	m := many(rs, from, field, 1, def, to, loader, key)
	m.list, m.connection = false, conn
	m.size = graphqlhttp.ListSize{SlicingArgument: "first", Default: def, SizedFields: []string{"nodes", "edges"}}
	r := &paged[P, V, C]{toMany: *m, conn: conn, edge: edge, def: def, max: max, keep: keep, build: build}
	from.rels[len(from.rels)-1] = r
	rs.all[len(rs.all)-1] = &r.decl
	return r
}

// pick declares a value picked by id from the list of the relation in,
// which is keyed by key.
func pick[P, Q, V any](rs *relations, from *object[P], field string, in *toMany[Q, V], key, id func(P) int, idOf func(V) int) *oneOf[P, V] {
	r := &oneOf[P, V]{
		toMany: toMany[P, V]{decl: decl{parent: from.name, name: field, target: in.to.name, hasLoader: in.hasLoader, service: in.service}, key: key, loader: in.loader, to: in.to},
		id:     id,
		idOf:   idOf,
	}
	from.rels = append(from.rels, r)
	rs.all = append(rs.all, &r.decl)
	return r
}

// byIDArg declares a Query field returning one value by its `id` argument.
func byIDArg[V any](rs *relations, field string, to *object[V]) *lookup[V] {
	q := &lookup[V]{decl: decl{parent: "Query", name: field, target: to.name, calls: 1, hasLoader: to.loadable, service: to.service}, to: to}
	rs.lookups[field] = q
	rs.all = append(rs.all, &q.decl)
	return q
}

// root declares a root field that one upstream call to service serves,
// sized when it is a list. Its resolver calls the service's client itself,
// so the name is given here rather than read from a loader.
func (rs *relations) root(parent, field, service string, size graphqlhttp.ListSize) {
	rs.all = append(rs.all, &decl{parent: parent, name: field, calls: 1, size: size,
		service: func(*loaders.Loaders) string { return service }})
}

// walk prefetches, below the values vs of o, the relations sel selects.
func walk[T any](p *planner, ctx context.Context, o *object[T], vs []T, sel ast.SelectionSet) {
	if len(vs) == 0 || len(o.rels) == 0 {
		return
	}
	fields := p.collect(sel, o.name)
	done := map[*decl]bool{}
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Name)
		for _, r := range o.rels {
			if r.declared().name == f.Name {
				r.prefetch(p, ctx, permitted(p, ctx, o, vs, f.Name), f.ArgumentMap(p.oc.Variables), f.Selections)
				done[r.declared()] = true
				break
			}
		}
	}
	// What the policies of the selected fields need, for the whole level.
	prefetchPolicyNeeds(p, ctx, o, vs, names, done)
}

// below is what a prefetch of values of o runs once they have loaded: the
// walk of the next level, or nothing when o has no relations.
func below[V any](p *planner, ctx context.Context, o *object[V], sel ast.SelectionSet) func([]V) {
	if len(o.rels) == 0 {
		return nil
	}
	return func(vs []V) { walk(p, ctx, o, vs, sel) }
}

// caseStatusFilter is StaffMember.cases's status argument as a filter: the
// cases in one of the statuses, or every case when it is absent or empty.
func caseStatusFilter(args map[string]any) (func(*model.Case) bool, error) {
	var want []model.CaseStatus
	switch v := args["status"].(type) {
	case nil:
	case []model.CaseStatus:
		want = v
	case []any:
		for _, s := range v {
			var st model.CaseStatus
			if err := st.UnmarshalGQL(s); err != nil {
				return nil, badInput("status: %v", err)
			}
			want = append(want, st)
		}
	default:
		var st model.CaseStatus // a single value for a list argument
		if err := st.UnmarshalGQL(v); err != nil {
			return nil, badInput("status: %v", err)
		}
		want = append(want, st)
	}
	if len(want) == 0 {
		return nil, nil
	}
	return func(c *model.Case) bool { return slices.Contains(want, c.Status) }, nil
}
