package floor

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

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

// The answer's types follow operations/CaseBoard.graphql field by field, in
// its order, so encoding/json writes the bytes gqlgen writes: ids as
// strings, enums upper-cased, times in RFC 3339, a missing relation as null
// and an empty list as [].
type (
	answer struct {
		Data struct {
			Cases caseConnection `json:"cases"`
		} `json:"data"`
	}
	caseConnection struct {
		TotalCount int        `json:"totalCount"`
		Nodes      []caseNode `json:"nodes"`
	}
	caseNode struct {
		ID           int64         `json:"id,string"`
		Status       string        `json:"status"`
		Priority     string        `json:"priority"`
		Summary      string        `json:"summary"`
		UpdatedAt    time.Time     `json:"updatedAt"`
		Patient      *patient      `json:"patient"`
		Assignee     *assignee     `json:"assignee"`
		Appointments []appointment `json:"appointments"`
		Documents    []document    `json:"documents"`
	}
	patient struct {
		ID          int64    `json:"id,string"`
		FullName    string   `json:"fullName"`
		DateOfBirth string   `json:"dateOfBirth"`
		Insurer     *insurer `json:"insurer"`
	}
	insurer struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	assignee struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	appointment struct {
		StartsAt time.Time `json:"startsAt"`
		Status   string    `json:"status"`
		Doctor   *doctor   `json:"doctor"`
	}
	doctor struct {
		Name      string  `json:"name"`
		Specialty string  `json:"specialty"`
		Clinic    *clinic `json:"clinic"`
	}
	clinic struct {
		Name string `json:"name"`
		City string `json:"city"`
	}
	document struct {
		Title     string `json:"title"`
		Kind      string `json:"kind"`
		SizeBytes int64  `json:"sizeBytes"`
	}
)

// caseBoard makes the case board's calls and assembles its answer. Each
// chain of levels starts as soon as its own parents have arrived, as the
// gateway's planner does: cases; then patients -> insurers, staff,
// appointments -> doctors -> clinics, and documents side by side.
func (h *Handler) caseBoard(ctx context.Context, first int) (caseConnection, error) {
	q := url.Values{}
	q.Set("status", cases.StatusNew+","+cases.StatusInReview)
	q.Set("page", "1")
	q.Set("per_page", strconv.Itoa(first))
	var page cases.Page
	if err := h.get(ctx, "cases", "/cases?"+q.Encode(), &page); err != nil {
		return caseConnection{}, err
	}

	caseIDs := make([]int64, len(page.Cases))
	patientIDs := make([]int64, len(page.Cases))
	var staffIDs []int64
	for i, c := range page.Cases {
		caseIDs[i], patientIDs[i] = c.ID, c.PatientID
		if c.AssigneeID != nil {
			staffIDs = append(staffIDs, *c.AssigneeID)
		}
	}

	var (
		ps   []patients.Patient
		ins  []insurers.Insurer
		ms   []staff.Member
		as   []appointments.Appointment
		ds   []doctors.Doctor
		cls  []clinics.Clinic
		docs []documents.Document
	)
	err := parallel(ctx,
		func(ctx context.Context) (err error) {
			if ps, err = byIDs[patients.Patient](ctx, h, "patients", "/patients", "ids", patientIDs); err != nil {
				return err
			}
			ins, err = byIDs[insurers.Insurer](ctx, h, "insurers", "/insurers", "ids", column(ps, func(p patients.Patient) int64 { return p.InsurerID }))
			return err
		},
		func(ctx context.Context) (err error) {
			ms, err = byIDs[staff.Member](ctx, h, "staff", "/staff", "ids", staffIDs)
			return err
		},
		func(ctx context.Context) (err error) {
			if as, err = byIDs[appointments.Appointment](ctx, h, "appointments", "/appointments", "case_ids", caseIDs); err != nil {
				return err
			}
			if ds, err = byIDs[doctors.Doctor](ctx, h, "doctors", "/doctors", "ids", column(as, func(a appointments.Appointment) int64 { return a.DoctorID })); err != nil {
				return err
			}
			cls, err = byIDs[clinics.Clinic](ctx, h, "clinics", "/clinics", "ids", column(ds, func(d doctors.Doctor) int64 { return d.ClinicID }))
			return err
		},
		func(ctx context.Context) (err error) {
			docs, err = byIDs[documents.Document](ctx, h, "documents", "/documents", "case_ids", caseIDs)
			return err
		},
	)
	if err != nil {
		return caseConnection{}, err
	}

	// Joined by id, never by upstream order; an id a service did not return
	// is null, as it is in the gateway's data (which adds an error too).
	insurerByID := index(ins, func(i insurers.Insurer) int64 { return i.ID }, func(i insurers.Insurer) *insurer {
		return &insurer{Name: i.Name, Kind: strings.ToUpper(i.Kind)}
	})
	patientByID := index(ps, func(p patients.Patient) int64 { return p.ID }, func(p patients.Patient) *patient {
		return &patient{ID: p.ID, FullName: p.FirstName + " " + p.LastName, DateOfBirth: p.DateOfBirth, Insurer: insurerByID[p.InsurerID]}
	})
	staffByID := index(ms, func(m staff.Member) int64 { return m.ID }, func(m staff.Member) *assignee {
		return &assignee{Name: m.Name, Role: strings.ToUpper(m.Role)}
	})
	clinicByID := index(cls, func(c clinics.Clinic) int64 { return c.ID }, func(c clinics.Clinic) *clinic {
		return &clinic{Name: c.Name, City: c.City}
	})
	doctorByID := index(ds, func(d doctors.Doctor) int64 { return d.ID }, func(d doctors.Doctor) *doctor {
		return &doctor{Name: d.Name, Specialty: d.Specialty, Clinic: clinicByID[d.ClinicID]}
	})
	// Rows keep the service's order within a case, as the gateway's loaders
	// group them.
	appointmentsByCase := make(map[int64][]appointment, len(caseIDs))
	for _, a := range as {
		appointmentsByCase[a.CaseID] = append(appointmentsByCase[a.CaseID],
			appointment{StartsAt: a.StartsAt, Status: strings.ToUpper(a.Status), Doctor: doctorByID[a.DoctorID]})
	}
	documentsByCase := make(map[int64][]document, len(caseIDs))
	for _, d := range docs {
		documentsByCase[d.CaseID] = append(documentsByCase[d.CaseID],
			document{Title: d.Title, Kind: strings.ToUpper(d.Kind), SizeBytes: d.SizeBytes})
	}

	conn := caseConnection{TotalCount: page.Meta.Total, Nodes: make([]caseNode, len(page.Cases))}
	for i, c := range page.Cases {
		n := caseNode{
			ID: c.ID, Status: strings.ToUpper(c.Status), Priority: strings.ToUpper(c.Priority),
			Summary: c.Summary, UpdatedAt: c.UpdatedAt,
			Patient:      patientByID[c.PatientID],
			Appointments: orEmpty(appointmentsByCase[c.ID]),
			Documents:    orEmpty(documentsByCase[c.ID]),
		}
		if c.AssigneeID != nil {
			n.Assignee = staffByID[*c.AssigneeID]
		}
		conn.Nodes[i] = n
	}
	return conn, nil
}

// byIDs fetches the rows of ids from path?param=..., each id once, in calls
// of at most upstream.MaxIDs ids sent side by side: the chunking the
// gateway's loaders do. No ids make no call.
func byIDs[T any](ctx context.Context, h *Handler, service, path, param string, ids []int64) ([]T, error) {
	ids = upstream.Unique(ids)
	var chunks [][]int64
	for start := 0; start < len(ids); start += upstream.MaxIDs {
		chunks = append(chunks, ids[start:min(start+upstream.MaxIDs, len(ids))])
	}
	rows := make([][]T, len(chunks))
	fetches := make([]func(context.Context) error, len(chunks))
	for i, chunk := range chunks {
		fetches[i] = func(ctx context.Context) error {
			// The only key of the answer is the service's plural
			// ({"patients": [...]}), so a map holds it without a struct per
			// service.
			var body map[string][]T
			if err := h.get(ctx, service, path+"?"+param+"="+upstream.JoinIDs(chunk), &body); err != nil {
				return err
			}
			var ok bool
			if rows[i], ok = body[service]; !ok {
				return fmt.Errorf("%s: answer has no %q key", service, service)
			}
			return nil
		}
	}
	if err := parallel(ctx, fetches...); err != nil {
		return nil, err
	}
	if len(rows) == 1 {
		return rows[0], nil
	}
	var all []T
	for _, r := range rows {
		all = append(all, r...)
	}
	return all, nil
}

// parallel runs fns side by side and returns the first error; that error
// cancels the context the others run with, so a failed level stops the
// rest of the board instead of waiting for it.
func parallel(ctx context.Context, fns ...func(context.Context) error) error {
	if len(fns) == 1 {
		return fns[0](ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}

func column[T any](rows []T, key func(T) int64) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = key(r)
	}
	return out
}

func index[T, V any](rows []T, key func(T) int64, conv func(T) *V) map[int64]*V {
	m := make(map[int64]*V, len(rows))
	for _, r := range rows {
		m[key(r)] = conv(r)
	}
	return m
}

// orEmpty keeps a case with no rows an empty list: the gateway answers []
// for it, not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
