// Package loaders holds the per-operation dataloaders: one per entity by id and
// one per one-to-many relation by foreign key, each turning many lookups into
// as few upstream calls as the services' 100-id limit allows.
//
// A Loaders set lives for one GraphQL operation (or one subscription event) and
// is reached through the request context; it must never be shared between
// operations, since its cache would then serve stale data.
//
// A new entity needs a field in Loaders and one line in New: byID for an
// entity by id (the client's batch lookup, a conversion from the service's
// row, the id), or byParent for a one-to-many relation (the client's read by
// parent ids, the conversion, the foreign key). Which schema field reads
// which loader is declared once, in package resolvers (relations.go), not
// here.
package loaders

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/tracing"
	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/appointments"
	"github.com/stacker/stacker/upstream/cases"
	"github.com/stacker/stacker/upstream/clinics"
	"github.com/stacker/stacker/upstream/doctors"
	"github.com/stacker/stacker/upstream/documents"
	"github.com/stacker/stacker/upstream/insurers"
	"github.com/stacker/stacker/upstream/patients"
	"github.com/stacker/stacker/upstream/staff"
)

// maxIDs is the services' limit on ids per request.
const maxIDs = upstream.MaxIDs

// Clients are the typed upstream clients the loaders read through.
type Clients struct {
	Patients     *patients.Client
	Insurers     *insurers.Client
	Cases        *cases.Client
	Staff        *staff.Client
	Doctors      *doctors.Client
	Clinics      *clinics.Client
	Appointments *appointments.Client
	Documents    *documents.Client
}

// NewClients builds the typed client of every service from its base URL in
// urls (keyed by service name), all sharing hc, each with its own policy.
// Every missing or malformed URL is reported, not only the first.
func NewClients(urls map[string]string, hc *http.Client, policy func(service string) upstream.Policy) (Clients, error) {
	var c Clients
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	opt := func(s string) upstream.Option { return upstream.WithPolicy(policy(s)) }
	var err error
	c.Patients, err = patients.New(urls["patients"], hc, opt("patients"))
	check(err)
	c.Insurers, err = insurers.New(urls["insurers"], hc, opt("insurers"))
	check(err)
	c.Cases, err = cases.New(urls["cases"], hc, opt("cases"))
	check(err)
	c.Staff, err = staff.New(urls["staff"], hc, opt("staff"))
	check(err)
	c.Doctors, err = doctors.New(urls["doctors"], hc, opt("doctors"))
	check(err)
	c.Clinics, err = clinics.New(urls["clinics"], hc, opt("clinics"))
	check(err)
	c.Appointments, err = appointments.New(urls["appointments"], hc, opt("appointments"))
	check(err)
	c.Documents, err = documents.New(urls["documents"], hc, opt("documents"))
	check(err)
	return c, errors.Join(errs...)
}

// Services are the services the clients call, in the order of the
// fields (config.Services()'s, a test checks).
func (c Clients) Services() []*upstream.Service {
	return []*upstream.Service{
		c.Patients.Service(), c.Insurers.Service(), c.Cases.Service(), c.Staff.Service(),
		c.Doctors.Service(), c.Clinics.Service(), c.Appointments.Service(), c.Documents.Service(),
	}
}

// Options tunes the loaders.
type Options struct {
	// Wait is how long a Load waits for more keys before its batch goes out.
	// Queries do not depend on it: the resolvers prefetch every level with
	// LoadAll, which dispatches at once, so Load finds its key cached. It only
	// batches lookups nothing prefetched, so it is kept short.
	Wait time.Duration
	// Shared marks the loaders of a subscription event burst, which every
	// subscription of one caller on the replica resolves through: a level's
	// values then reach those waiting subscribers first, rather than the
	// level below being sent first (see Loader.Prefetch).
	Shared bool
	// Now is the clock that says which appointments are upcoming, read once
	// per Loaders set so one operation sees one "now"; nil is time.Now.
	Now func() time.Time
	// Tracer makes a span of every level the planner fetches (see
	// Loader.Prefetch); nil makes none.
	Tracer *tracing.Tracer
}

// DefaultWait is the batch window for lookups that were not prefetched: long
// enough for sibling resolvers that are already running to add their keys,
// short against a service's own latency.
const DefaultWait = 500 * time.Microsecond

// Loaders is the set of dataloaders of one operation.
type Loaders struct {
	Patients *Loader[*model.Patient]
	Insurers *Loader[*model.Insurer]
	Cases    *Loader[*model.Case]
	Staff    *Loader[*model.StaffMember]
	Doctors  *Loader[*model.Doctor]
	Clinics  *Loader[*model.Clinic]

	CasesByPatient     *Loader[[]*model.Case]
	AppointmentsByCase *Loader[[]*model.Appointment]
	DocumentsByCase    *Loader[[]*model.Document]
	DoctorsByClinic    *Loader[[]*model.Doctor]
	// UpcomingByDoctor lists a doctor's appointments from the operation's
	// start on, soonest first.
	UpcomingByDoctor *Loader[[]*model.Appointment]
	// CasesByAssignee lists a staff member's cases, every status, newest
	// activity first (updatedAt, then id, both descending), as Query.cases.
	CasesByAssignee *Loader[[]*model.Case]
	// PatientsByInsurer lists an insurer's patients in id order.
	PatientsByInsurer *Loader[[]*model.Patient]
	// NotesByCase lists a case's notes in id order, oldest first.
	NotesByCase *Loader[[]*model.CaseNote]
}

// New builds a fresh set of loaders for one operation.
func New(c Clients, o Options) *Loaders {
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Loaders{
		Patients: byID("patients", "patient", o, c.Patients.PatientsByIDs, Patient, func(p *model.Patient) int { return p.ID }),
		Insurers: byID("insurers", "insurer", o, c.Insurers.InsurersByIDs, insurer, func(i *model.Insurer) int { return i.ID }),
		Cases:    byID("cases", "case", o, c.Cases.CasesByIDs, Case, func(c *model.Case) int { return c.ID }),
		Staff:    byID("staff", "staff member", o, c.Staff.StaffByIDs, staffMember, func(s *model.StaffMember) int { return s.ID }),
		Doctors:  byID("doctors", "doctor", o, c.Doctors.DoctorsByIDs, Doctor, func(d *model.Doctor) int { return d.ID }),
		Clinics:  byID("clinics", "clinic", o, c.Clinics.ClinicsByIDs, clinic, func(c *model.Clinic) int { return c.ID }),

		CasesByPatient:     byParent("cases", "patient", o, c.Cases.CasesByPatientIDs, Case, func(c *model.Case) int { return c.PatientID }),
		AppointmentsByCase: byParent("appointments", "case", o, c.Appointments.AppointmentsByCaseIDs, Appointment, func(a *model.Appointment) int { return a.CaseID }),
		DocumentsByCase:    byParent("documents", "case", o, c.Documents.DocumentsByCaseIDs, Document, func(d *model.Document) int { return d.CaseID }),
		DoctorsByClinic:    byParent("doctors", "clinic", o, c.Doctors.DoctorsByClinicIDs, Doctor, func(d *model.Doctor) int { return d.ClinicID }),
		UpcomingByDoctor:   byParent("appointments", "doctor", o, upcomingByDoctor(c.Appointments, now()), Appointment, func(a *model.Appointment) int { return a.DoctorID }),
		CasesByAssignee:    byParent("cases", "assignee", o, casesByAssignee(c.Cases), Case, assigneeOf),
		PatientsByInsurer:  byParent("patients", "insurer", o, patientsByInsurer(c.Patients), Patient, func(p *model.Patient) int { return p.InsurerID }),
		NotesByCase:        byParent("cases", "case", o, notesByCase(c.Cases), CaseNote, func(n *model.CaseNote) int { return n.CaseID }),
	}
}

type ctxKey struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// NewSourceContext returns ctx whose loaders are whatever get returns when
// they are asked for: a subscription's change with every event (live.Slot).
func NewSourceContext(ctx context.Context, get func() *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, get)
}

// FromContext returns the loaders of the operation ctx belongs to: for a
// subscription, those of the event being resolved.
func FromContext(ctx context.Context) (*Loaders, bool) {
	switch v := ctx.Value(ctxKey{}).(type) {
	case *Loaders:
		return v, v != nil
	case func() *Loaders:
		l := v()
		return l, l != nil
	}
	return nil, false
}

// notFound makes the per-key result of an id the service does not know.
func notFound[V any](service, what string) func(int) (V, error) {
	return func(id int) (V, error) {
		var zero V
		return zero, &upstream.Error{Service: service, Kind: upstream.ErrNotFound, Message: what + " " + strconv.Itoa(id) + " not found"}
	}
}

// none is the per-key result of a foreign key with no rows: an empty list.
func none[V any](int) ([]V, error) { return []V{}, nil }

// ids64 converts GraphQL-side ids to the services' int64 ids.
func ids64(ids []int) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// group builds the one-to-many map of a relation: rows by foreign key.
func group[V any](n int, rows []V, fk func(V) int) map[int][]V {
	m := make(map[int][]V, n)
	for _, r := range rows {
		k := fk(r)
		m[k] = append(m[k], r)
	}
	return m
}
