package demo

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sizes of the seeded data set. Ids of every entity start at 1 and are dense.
const (
	NumPatients = 1000
	NumInsurers = 20
	NumCases    = 5000
	NumStaff    = 30
	NumDoctors  = 200
	NumClinics  = 40
)

// Limits of the contract.
const (
	MaxIDs         = 100 // ids (or foreign keys) one request may name
	MaxPerPage     = 100 // largest per_page of GET /cases
	DefaultPerPage = 25
	MaxLimit       = 50 // largest limit of the patients and doctors searches
	DefaultLimit   = 10
)

// ErrNotFound is returned by writes that name a row that does not exist.
var ErrNotFound = errors.New("demo: not found")

// ValidationError is a failed write: messages keyed by field, in the shape of
// the services' 422 body ({"errors": {"field": ["message"]}}).
type ValidationError struct {
	Fields map[string][]string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("demo: validation failed:")
	for _, f := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, " %s %s;", f, strings.Join(e.Fields[f], ", "))
	}
	return strings.TrimSuffix(b.String(), ";")
}

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = make(map[string][]string)
	}
	e.Fields[field] = append(e.Fields[field], msg)
}

// err returns e as an error, or nil when nothing failed.
func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// SeedBase is the fixed instant the seeded timestamps are relative to: every
// seeded created_at, updated_at and uploaded_at is at or before it, so a
// write stamped with the wall clock sorts after all seeded rows.
func SeedBase() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Store is the seeded data of all eight services; safe for concurrent use.
//
// Rows are kept in slices indexed by id-1 (ids are dense), which serves as the
// by-id index. Patients, insurers, staff, doctors, clinics and documents never
// change after NewStore and are read without locking; cases and appointments
// change through UpdateCase and CreateAppointment and are guarded by mu.
//
// Beside each table is a jsonCache of its rows' JSON, also by id-1, from
// which the services build their responses; a write refreshes the changed
// row's entry under mu together with the row (see jsonCache).
type Store struct {
	patients   []Patient
	nameKeys   []string // lower-cased "first last" per patient, for search
	insurers   []Insurer
	staff      []StaffMember
	doctors    []Doctor
	clinics    []Clinic
	documents  []Document
	docsByCase [][]int64 // by case id-1, ascending document ids
	// casesByPatient grows when a case is created (a case never changes
	// patient) and is guarded by mu.
	casesByPatient     [][]int64 // by patient id-1, ascending case ids
	doctorsBySpecialty map[string][]int64
	doctorsByClinic    [][]int64 // by clinic id-1, ascending doctor ids; immutable
	patientsByInsurer  [][]int64 // by insurer id-1, ascending patient ids; immutable

	patientsJSON  jsonCache
	insurersJSON  jsonCache
	staffJSON     jsonCache
	doctorsJSON   jsonCache
	clinicsJSON   jsonCache
	documentsJSON jsonCache

	mu        sync.RWMutex
	cases     []Case
	caseOrder []int64 // case ids in list order: updated_at desc, id desc
	// caseFilters mirrors the filterable fields of cases (by id-1) in 16
	// bytes a case, so ListCases scans 80 KB instead of every Case.
	caseFilters []caseFilter
	// caseCounts counts cases by caseFilter.assignee (0: unassigned, else a
	// staff id) and status (the bit position of statusBit), so ListCases
	// knows the total without scanning past its page.
	caseCounts   [][numStatuses]int
	appointments []Appointment
	apptsByCase  [][]int64 // by case id-1, ascending appointment ids
	apptsByDoc   [][]int64 // by doctor id-1, ascending appointment ids
	// The slices are guarded by mu; their entries are atomic so readers
	// holding the read lock can fill them.
	casesJSON        jsonCache
	appointmentsJSON jsonCache
	// notes are the cases service's notes (notes.go), guarded by mu.
	notes       []Note
	notesByCase [][]int64 // by case id-1, ascending note ids
	notesJSON   jsonCache
}

// NewStore builds the seeded data. Every call returns an identical, independent
// store, so tests that write do not disturb each other.
func NewStore() *Store {
	s := &Store{}
	seed(s)
	seedNotes(s)
	s.buildIndexes()
	return s
}

func (s *Store) buildIndexes() {
	s.nameKeys = make([]string, len(s.patients))
	for i, p := range s.patients {
		s.nameKeys[i] = strings.ToLower(p.FirstName + " " + p.LastName)
	}
	s.casesByPatient = make([][]int64, len(s.patients))
	for _, c := range s.cases {
		s.casesByPatient[c.PatientID-1] = append(s.casesByPatient[c.PatientID-1], c.ID)
	}
	s.patientsByInsurer = make([][]int64, len(s.insurers))
	for _, p := range s.patients {
		s.patientsByInsurer[p.InsurerID-1] = append(s.patientsByInsurer[p.InsurerID-1], p.ID)
	}
	s.doctorsByClinic = make([][]int64, len(s.clinics))
	for _, d := range s.doctors {
		s.doctorsByClinic[d.ClinicID-1] = append(s.doctorsByClinic[d.ClinicID-1], d.ID)
	}
	s.apptsByDoc = make([][]int64, len(s.doctors))
	for _, a := range s.appointments {
		s.apptsByDoc[a.DoctorID-1] = append(s.apptsByDoc[a.DoctorID-1], a.ID)
	}
	s.caseOrder = make([]int64, len(s.cases))
	s.caseFilters = make([]caseFilter, len(s.cases))
	s.caseCounts = make([][numStatuses]int, len(s.staff)+1)
	for i := range s.cases {
		s.caseOrder[i] = int64(i + 1)
		s.caseFilters[i] = filterOf(&s.cases[i])
		s.countCase(s.caseFilters[i], 1)
	}
	slices.SortFunc(s.caseOrder, func(a, b int64) int {
		ca, cb := &s.cases[a-1], &s.cases[b-1]
		return compareCaseOrder(ca.UpdatedAt, ca.ID, cb.UpdatedAt, cb.ID)
	})

	// Empty: rows are encoded on first read, which keeps NewStore (called by
	// every test) from encoding 31,000 rows most tests never read.
	s.patientsJSON = make(jsonCache, len(s.patients))
	s.insurersJSON = make(jsonCache, len(s.insurers))
	s.staffJSON = make(jsonCache, len(s.staff))
	s.doctorsJSON = make(jsonCache, len(s.doctors))
	s.clinicsJSON = make(jsonCache, len(s.clinics))
	s.documentsJSON = make(jsonCache, len(s.documents))
	s.casesJSON = make(jsonCache, len(s.cases))
	s.appointmentsJSON = make(jsonCache, len(s.appointments))
}

// caseFilter is what ListCases filters on: the status as a bit (see
// statusBit) and the assignee id, 0 when unassigned (ids start at 1).
type caseFilter struct {
	status   uint8
	assignee int64
}

func filterOf(c *Case) caseFilter {
	f := caseFilter{status: statusBit(c.Status)}
	if c.AssigneeID != nil {
		f.assignee = *c.AssigneeID
	}
	return f
}

// countCase adds delta to the count of cases matching f. Every stored case
// has a known status and an assignee that is 0 or a staff id (seeded so, and
// checked by UpdateCase). Callers hold mu or own the store.
func (s *Store) countCase(f caseFilter, delta int) {
	s.caseCounts[f.assignee][bits.TrailingZeros8(f.status)] += delta
}

// numStatuses is the number of case statuses, and of bits in a status mask
// that mean something.
const numStatuses = 4

// anyStatus is the status mask that matches every case.
const anyStatus = uint8(0xff)

// statusMask returns the mask matching any of statuses, or anyStatus when
// there are none; unknown statuses add nothing.
func statusMask(statuses []string) uint8 {
	if len(statuses) == 0 {
		return anyStatus
	}
	var mask uint8
	for _, st := range statuses {
		mask |= statusBit(st)
	}
	return mask
}

// statusBit maps a case status to its bit in a status mask; 0 for an
// unknown status, which therefore matches nothing.
func statusBit(status string) uint8 {
	switch status {
	case StatusNew:
		return 1
	case StatusInReview:
		return 2
	case StatusWaitingForDocuments:
		return 4
	case StatusClosed:
		return 8
	}
	return 0
}

// compareCaseOrder orders cases as GET /cases lists them: most recently
// updated first, ties broken by the higher id first.
func compareCaseOrder(aUpdated time.Time, aID int64, bUpdated time.Time, bID int64) int {
	if c := bUpdated.Compare(aUpdated); c != 0 {
		return c
	}
	switch {
	case aID > bID:
		return -1
	case aID < bID:
		return 1
	}
	return 0
}

func byID[T any](rows []T, id int64) (T, bool) {
	if id < 1 || id > int64(len(rows)) {
		var zero T
		return zero, false
	}
	return rows[id-1], true
}

// pick returns the rows with the given ids, in ids order, skipping unknown ids.
func pick[T any](rows []T, ids []int64) []T {
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID(rows, id); ok {
			out = append(out, r)
		}
	}
	return out
}

// gather returns the rows whose ids index lists under the given keys, ordered
// by row id, each row once even when a key repeats.
func gather[T any](rows []T, index [][]int64, keys []int64) []T {
	return pick(rows, gatherIDs(nil, index, keys))
}

// Patient returns the patient with the given id.
func (s *Store) Patient(id int64) (Patient, bool) { return byID(s.patients, id) }

// Insurer returns the insurer with the given id.
func (s *Store) Insurer(id int64) (Insurer, bool) { return byID(s.insurers, id) }

// StaffMember returns the staff member with the given id.
func (s *Store) StaffMember(id int64) (StaffMember, bool) { return byID(s.staff, id) }

// Doctor returns the doctor with the given id.
func (s *Store) Doctor(id int64) (Doctor, bool) { return byID(s.doctors, id) }

// Clinic returns the clinic with the given id.
func (s *Store) Clinic(id int64) (Clinic, bool) { return byID(s.clinics, id) }

// Document returns the document with the given id.
func (s *Store) Document(id int64) (Document, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byID(s.documents, id)
}

// Case returns the case with the given id as it is now.
func (s *Store) Case(id int64) (Case, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byID(s.cases, id)
}

// Appointment returns the appointment with the given id.
func (s *Store) Appointment(id int64) (Appointment, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byID(s.appointments, id)
}

// Counts returns the number of rows of each service, keyed by service name.
func (s *Store) Counts() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return map[string]int{
		"patients":     len(s.patients),
		"insurers":     len(s.insurers),
		"cases":        len(s.cases),
		"staff":        len(s.staff),
		"doctors":      len(s.doctors),
		"clinics":      len(s.clinics),
		"appointments": len(s.appointments),
		"documents":    len(s.documents),
	}
}

// CasesByPatients returns the cases of the given patients, ordered by id.
func (s *Store) CasesByPatients(patientIDs []int64) []Case {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return gather(s.cases, s.casesByPatient, patientIDs)
}

// AppointmentsByCase returns the appointments of one case, ordered by id.
func (s *Store) AppointmentsByCase(caseID int64) []Appointment {
	return s.AppointmentsByCases([]int64{caseID})
}

// AppointmentsByCases returns the appointments of the given cases, ordered by id.
func (s *Store) AppointmentsByCases(caseIDs []int64) []Appointment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return gather(s.appointments, s.apptsByCase, caseIDs)
}

// PatientsByInsurers returns the patients of the given insurers, ordered by
// id.
func (s *Store) PatientsByInsurers(insurerIDs []int64) []Patient {
	return gather(s.patients, s.patientsByInsurer, insurerIDs) // immutable: no lock
}

// CasesByAssignees returns the cases assigned to the given staff members,
// ordered by id.
func (s *Store) CasesByAssignees(staffIDs []int64) []Case {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return pick(s.cases, s.assignedTo(nil, staffIDs))
}

// assignedTo appends to work the ids of the cases assigned to one of
// staffIDs, ascending. A case's assignee changes (PATCH), so rather than
// keep a second index in step with caseFilters it scans that one: 5,000
// comparisons, as a Rails service would run WHERE assignee_id IN (...) on an
// index. The caller holds mu.
func (s *Store) assignedTo(work, staffIDs []int64) []int64 {
	work = work[:0]
	for i, f := range s.caseFilters {
		if f.assignee != 0 && slices.Contains(staffIDs, f.assignee) {
			work = append(work, int64(i+1))
		}
	}
	return work
}

// DoctorsByClinics returns the doctors of the given clinics, ordered by id.
func (s *Store) DoctorsByClinics(clinicIDs []int64) []Doctor {
	return gather(s.doctors, s.doctorsByClinic, clinicIDs) // immutable: no lock
}

// AppointmentsByDoctors returns the appointments of the given doctors that
// start at or after from (any time when from is zero), ordered by id.
func (s *Store) AppointmentsByDoctors(doctorIDs []int64, from time.Time) []Appointment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return pick(s.appointments, s.upcoming(gatherIDs(nil, s.apptsByDoc, doctorIDs), from))
}

// upcoming keeps the appointment ids of ids that start at or after from.
// The caller holds mu.
func (s *Store) upcoming(ids []int64, from time.Time) []int64 {
	if from.IsZero() {
		return ids
	}
	return slices.DeleteFunc(ids, func(id int64) bool { return s.appointments[id-1].StartsAt.Before(from) })
}

// DocumentsByCase returns the documents of one case, ordered by id.
func (s *Store) DocumentsByCase(caseID int64) []Document {
	return s.DocumentsByCases([]int64{caseID})
}

// DocumentsByCases returns the documents of the given cases, ordered by id.
func (s *Store) DocumentsByCases(caseIDs []int64) []Document {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return gather(s.documents, s.docsByCase, caseIDs)
}

// SearchPatients returns up to limit patients whose "first last" name contains
// q, ignoring case, ordered by id.
func (s *Store) SearchPatients(q string, limit int) []Patient {
	return pick(s.patients, s.searchPatients(q, limit, make([]int64, 0, min(max(limit, 0), 16))))
}

// searchPatients is SearchPatients returning ids, in out (reusing its
// storage).
func (s *Store) searchPatients(q string, limit int, out []int64) []int64 {
	q = strings.ToLower(q)
	out = out[:0]
	for i, key := range s.nameKeys {
		if len(out) >= limit {
			break
		}
		if strings.Contains(key, q) {
			out = append(out, int64(i+1))
		}
	}
	return out
}

// IsSpecialty reports whether name is one of Specialties.
func (s *Store) IsSpecialty(name string) bool {
	_, ok := s.doctorsBySpecialty[name] // seeded with every specialty
	return ok
}

// DoctorsBySpecialty returns up to limit doctors of the specialty, best rated
// first, ties broken by the lower id.
func (s *Store) DoctorsBySpecialty(specialty string, limit int) []Doctor {
	return pick(s.doctors, s.doctorIDsBySpecialty(specialty, limit))
}

// doctorIDsBySpecialty is DoctorsBySpecialty returning ids. The result shares
// the index's storage: callers must not modify it.
func (s *Store) doctorIDsBySpecialty(specialty string, limit int) []int64 {
	ids := s.doctorsBySpecialty[specialty]
	return ids[:min(max(limit, 0), len(ids))]
}

// ListCases returns one page of the cases whose status is one of statuses
// (any status when empty; unknown statuses match nothing) and whose assignee
// is *assigneeID (any when nil), ordered by updated_at desc then id desc, and
// the number of matching cases. A page below 1 is treated as 1 and a perPage
// below 1 as DefaultPerPage; the store itself does not cap perPage (the
// service does).
func (s *Store) ListCases(statuses []string, assigneeID *int64, page, perPage int) ([]Case, int) {
	q := newCaseQuery(statusMask(statuses), assigneeID, page, perPage)
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids, total := s.casePage(q, make([]int64, 0, min(q.perPage, len(s.caseOrder))))
	return pick(s.cases, ids), total
}

// caseQuery is one page of a case filter, as ListCases describes it, in the
// form casePage scans with.
type caseQuery struct {
	mask       uint8 // see statusMask
	byAssignee bool
	assignee   int64 // the caseFilter.assignee wanted, when byAssignee
	skip       int   // matching cases before the page
	perPage    int
}

// newCaseQuery normalises page and perPage as ListCases documents.
func newCaseQuery(mask uint8, assigneeID *int64, page, perPage int) caseQuery {
	page = max(page, 1)
	if perPage < 1 {
		perPage = DefaultPerPage
	}
	q := caseQuery{mask: mask, skip: math.MaxInt, perPage: perPage} // a page too far to compute is past the end
	if page-1 <= math.MaxInt/perPage {
		q.skip = (page - 1) * perPage
	}
	if assigneeID != nil {
		q.byAssignee = true
		// 0 stands for "unassigned" in caseFilters; asking for id 0 must
		// match nothing, as every other unknown id does.
		if q.assignee = *assigneeID; q.assignee == 0 {
			q.assignee = -1
		}
	}
	return q
}

// casePage returns in out (reusing its storage) the ids of the cases on q's
// page, in list order, and the number of cases matching q. It scans
// caseOrder only as far as the end of the page: the total comes from
// caseCounts. Callers hold mu.
func (s *Store) casePage(q caseQuery, out []int64) ([]int64, int) {
	out = out[:0]
	total := s.countMatching(q)
	if q.skip >= total {
		return out, total
	}
	seen := 0
	for _, id := range s.caseOrder {
		f := s.caseFilters[id-1]
		if f.status&q.mask == 0 || q.byAssignee && f.assignee != q.assignee {
			continue
		}
		if seen >= q.skip {
			if out = append(out, id); len(out) == q.perPage {
				break
			}
		}
		seen++
	}
	return out, total
}

// countMatching returns the number of cases matching q's filter. Callers
// hold mu.
func (s *Store) countMatching(q caseQuery) int {
	counts := s.caseCounts
	if q.byAssignee {
		// -1 (asked for id 0) and unknown ids match nothing.
		if q.assignee < 1 || q.assignee >= int64(len(counts)) {
			return 0
		}
		counts = counts[q.assignee : q.assignee+1]
	}
	n := 0
	for i := range numStatuses {
		if q.mask&(1<<i) == 0 {
			continue
		}
		for _, c := range counts {
			n += c[i]
		}
	}
	return n
}

// CasePatch is the change PATCH /cases/:id asks for. Nil fields are left
// alone; SetAssignee distinguishes "assignee_id": null (unassign, with
// AssigneeID nil) from an absent assignee_id.
type CasePatch struct {
	Status      *string
	Priority    *string
	SetAssignee bool
	AssigneeID  *int64
}

// UpdateCase applies p to the case and stamps updated_at with now (truncated
// to whole seconds, like the seeded data), which moves the case to the top of
// the list order. It returns ErrNotFound for an unknown case and a
// *ValidationError, changing nothing, when a field is invalid.
func (s *Store) UpdateCase(id int64, p CasePatch, now time.Time) (Case, error) {
	c, _, err := s.updateCase(id, p, now)
	return c, err
}

// updateCase is UpdateCase also returning the updated case's JSON, nil when
// it cannot be encoded.
func (s *Store) updateCase(id int64, p CasePatch, now time.Time) (Case, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := byID(s.cases, id)
	if !ok {
		return Case{}, nil, ErrNotFound
	}
	c := old
	var verr ValidationError
	if p.Status != nil {
		if isCaseStatus(*p.Status) {
			c.Status = *p.Status
		} else {
			verr.add("status", "is not included in the list")
		}
	}
	if p.Priority != nil {
		if isCasePriority(*p.Priority) {
			c.Priority = *p.Priority
		} else {
			verr.add("priority", "is not included in the list")
		}
	}
	if p.SetAssignee {
		switch {
		case p.AssigneeID == nil:
			c.AssigneeID = nil
		case *p.AssigneeID < 1 || *p.AssigneeID > int64(len(s.staff)):
			verr.add("assignee_id", "must exist")
		default:
			a := *p.AssigneeID // a fresh pointer: readers may hold the old one
			c.AssigneeID = &a
		}
	}
	if err := verr.err(); err != nil {
		return Case{}, nil, err
	}
	c.UpdatedAt = now.UTC().Truncate(time.Second)

	// Move the case within caseOrder: find it by its old key, then insert it
	// where its new key belongs. Both searches rely on caseOrder being sorted.
	i := s.orderPosition(old.UpdatedAt, id)
	s.caseOrder = slices.Delete(s.caseOrder, i, i+1)
	s.cases[id-1] = c
	s.countCase(s.caseFilters[id-1], -1)
	s.caseFilters[id-1] = filterOf(&c)
	s.countCase(s.caseFilters[id-1], 1)
	enc := s.casesJSON.refresh(int(id-1), &c)
	j := s.orderPosition(c.UpdatedAt, id)
	s.caseOrder = slices.Insert(s.caseOrder, j, id)
	return c, enc, nil
}

// orderPosition returns the index in caseOrder of the first case that does
// not sort before the key (updated, id). Callers hold mu.
func (s *Store) orderPosition(updated time.Time, id int64) int {
	return sort.Search(len(s.caseOrder), func(i int) bool {
		c := &s.cases[s.caseOrder[i]-1]
		return compareCaseOrder(c.UpdatedAt, c.ID, updated, id) >= 0
	})
}

// CaseInput is the body of POST /cases as received. Priority "" is the
// default, normal.
type CaseInput struct {
	PatientID *int64
	Specialty string
	Summary   string
	Priority  string
}

// MaxSummary is the longest case summary, in bytes.
const MaxSummary = 500

// CreateCase validates in and stores a new case, status new and unassigned,
// created and updated at now (whole seconds), which puts it at the top of
// the list order. It returns a *ValidationError keyed by field, storing
// nothing, when the patient does not exist or a field is blank or invalid.
func (s *Store) CreateCase(in CaseInput, now time.Time) (Case, error) {
	c, _, err := s.createCase(in, now)
	return c, err
}

func (s *Store) createCase(in CaseInput, now time.Time) (Case, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var verr ValidationError
	switch {
	case in.PatientID == nil:
		verr.add("patient_id", "can't be blank")
	case *in.PatientID < 1 || *in.PatientID > int64(len(s.patients)):
		verr.add("patient_id", "must exist")
	}
	switch {
	case in.Specialty == "":
		verr.add("specialty", "can't be blank")
	case !s.IsSpecialty(in.Specialty):
		verr.add("specialty", "is not included in the list")
	}
	switch {
	case strings.TrimSpace(in.Summary) == "":
		verr.add("summary", "can't be blank")
	case len(in.Summary) > MaxSummary:
		verr.add("summary", fmt.Sprintf("is too long (maximum is %d characters)", MaxSummary))
	}
	if in.Priority == "" {
		in.Priority = PriorityNormal
	} else if !isCasePriority(in.Priority) {
		verr.add("priority", "is not included in the list")
	}
	if err := verr.err(); err != nil {
		return Case{}, nil, err
	}
	at := now.UTC().Truncate(time.Second)
	c := Case{
		ID:        int64(len(s.cases) + 1),
		PatientID: *in.PatientID,
		Specialty: in.Specialty,
		Status:    StatusNew,
		Priority:  in.Priority,
		Summary:   in.Summary,
		CreatedAt: at,
		UpdatedAt: at,
	}
	s.cases = append(s.cases, c)
	s.casesJSON = slices.Grow(s.casesJSON, 1)[:len(s.cases)]
	enc := s.casesJSON.refresh(int(c.ID-1), &c)
	f := filterOf(&c)
	s.caseFilters = append(s.caseFilters, f)
	s.countCase(f, 1)
	s.caseOrder = slices.Insert(s.caseOrder, s.orderPosition(c.UpdatedAt, c.ID), c.ID)
	s.casesByPatient[c.PatientID-1] = append(s.casesByPatient[c.PatientID-1], c.ID)
	s.apptsByCase = append(s.apptsByCase, nil)
	s.docsByCase = append(s.docsByCase, nil)
	s.notesByCase = append(s.notesByCase, nil)
	return c, enc, nil
}

// AppointmentInput is the body of POST /appointments as received. StartsAt is
// the raw RFC 3339 string, so that "missing" and "unparseable" are validated
// here with the other fields, in one place.
type AppointmentInput struct {
	CaseID   *int64
	DoctorID *int64
	StartsAt string
}

// DocumentInput is the body of POST /documents: an upload's metadata.
// ContentType and SHA256 are set by a streamed (multipart) upload only.
type DocumentInput struct {
	CaseID      *int64
	Kind        string
	Title       string
	SizeBytes   *int64
	ContentType string
	SHA256      string
}

// CreateDocument validates in and stores a new document (an upload).
func (s *Store) CreateDocument(in DocumentInput, now time.Time) (Document, error) {
	d, _, err := s.createDocument(in, now)
	return d, err
}

func (s *Store) createDocument(in DocumentInput, now time.Time) (Document, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var verr ValidationError
	s.checkDocument(in, &verr)
	if in.SizeBytes == nil || *in.SizeBytes < 0 {
		verr.add("size_bytes", "must be a size in bytes")
	}
	if err := verr.err(); err != nil {
		return Document{}, nil, err
	}
	d := Document{
		ID:          int64(len(s.documents) + 1),
		CaseID:      *in.CaseID,
		Kind:        in.Kind,
		Title:       in.Title,
		SizeBytes:   *in.SizeBytes,
		UploadedAt:  now.UTC().Truncate(time.Second),
		ContentType: in.ContentType,
		SHA256:      in.SHA256,
	}
	s.documents = append(s.documents, d)
	s.documentsJSON = slices.Grow(s.documentsJSON, 1)[:len(s.documents)]
	enc := s.documentsJSON.refresh(int(d.ID-1), &d)
	s.docsByCase[d.CaseID-1] = append(s.docsByCase[d.CaseID-1], d.ID)
	return d, enc, nil
}

// CheckDocument validates a document's metadata, everything but its size,
// storing nothing: a streamed upload is checked before its file is read,
// and stored (CreateDocument, which checks again) once the file is whole.
func (s *Store) CheckDocument(in DocumentInput) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var verr ValidationError
	s.checkDocument(in, &verr)
	return verr.err()
}

// checkDocument is the one rule for a document's case, kind and title.
// The caller holds s.mu.
func (s *Store) checkDocument(in DocumentInput, verr *ValidationError) {
	switch {
	case in.CaseID == nil:
		verr.add("case_id", "can't be blank")
	case *in.CaseID < 1 || *in.CaseID > int64(len(s.cases)):
		verr.add("case_id", "must exist")
	}
	switch in.Kind {
	case "medical_report", "imaging", "lab_result", "other":
	case "":
		verr.add("kind", "can't be blank")
	default:
		verr.add("kind", "is not included in the list")
	}
	if in.Title == "" {
		verr.add("title", "can't be blank")
	}
}

// CreateAppointment validates in against the store and now, and stores a new
// scheduled appointment. It returns a *ValidationError keyed by field when the
// case or doctor does not exist or starts_at is missing, unparseable or
// before now.
func (s *Store) CreateAppointment(in AppointmentInput, now time.Time) (Appointment, error) {
	a, _, err := s.createAppointment(in, now)
	return a, err
}

// createAppointment is CreateAppointment also returning the new
// appointment's JSON, nil when it cannot be encoded.
func (s *Store) createAppointment(in AppointmentInput, now time.Time) (Appointment, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var verr ValidationError
	switch {
	case in.CaseID == nil:
		verr.add("case_id", "can't be blank")
	case *in.CaseID < 1 || *in.CaseID > int64(len(s.cases)):
		verr.add("case_id", "must exist")
	}
	if in.DoctorID == nil {
		verr.add("doctor_id", "can't be blank")
	} else if _, ok := byID(s.doctors, *in.DoctorID); !ok {
		verr.add("doctor_id", "must exist")
	}
	startsAt := verr.startsAt(in.StartsAt, now)
	if err := verr.err(); err != nil {
		return Appointment{}, nil, err
	}
	a := Appointment{
		ID:       int64(len(s.appointments) + 1),
		CaseID:   *in.CaseID,
		DoctorID: *in.DoctorID,
		StartsAt: startsAt,
		Status:   AppointmentScheduled,
	}
	s.appointments = append(s.appointments, a)
	s.appointmentsJSON = slices.Grow(s.appointmentsJSON, 1)[:len(s.appointments)]
	enc := s.appointmentsJSON.refresh(int(a.ID-1), &a)
	// Each case's id list is its own array (built by append), so appending
	// here cannot overwrite another case's list.
	s.apptsByCase[a.CaseID-1] = append(s.apptsByCase[a.CaseID-1], a.ID)
	s.apptsByDoc[a.DoctorID-1] = append(s.apptsByDoc[a.DoctorID-1], a.ID)
	return a, enc, nil
}

// The reads below serve the services: each appends the JSON of the rows it
// selects to dst, comma-separated (see appendRows), or of the one row (see
// appendRow). Those with a work slice use it as scratch space for row ids
// and return it for reuse. Reads of the tables that never change need no
// lock and are made with appendRow and appendRows directly.

func (s *Store) appendCase(dst []byte, id int64) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRow(dst, s.cases, s.casesJSON, id)
}

func (s *Store) appendCases(dst []byte, ids []int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRows(dst, s.cases, s.casesJSON, ids)
}

func (s *Store) appendCasesByPatients(dst []byte, patientIDs, work []int64) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = gatherIDs(work, s.casesByPatient, patientIDs)
	dst, err := appendRows(dst, s.cases, s.casesJSON, work)
	return dst, work, err
}

// appendCasePage appends the cases on q's page and returns the number of
// cases matching q.
func (s *Store) appendCasePage(dst []byte, q caseQuery, work []int64) ([]byte, []int64, int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work, total := s.casePage(q, work)
	dst, err := appendRows(dst, s.cases, s.casesJSON, work)
	return dst, work, total, err
}

func (s *Store) appendDocument(dst []byte, id int64) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRow(dst, s.documents, s.documentsJSON, id)
}

func (s *Store) appendDocuments(dst []byte, ids []int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRows(dst, s.documents, s.documentsJSON, ids)
}

func (s *Store) appendDocumentsByCases(dst []byte, caseIDs, work []int64) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = gatherIDs(work, s.docsByCase, caseIDs)
	dst, err := appendRows(dst, s.documents, s.documentsJSON, work)
	return dst, work, err
}

func (s *Store) appendAppointment(dst []byte, id int64) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRow(dst, s.appointments, s.appointmentsJSON, id)
}

func (s *Store) appendAppointments(dst []byte, ids []int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return appendRows(dst, s.appointments, s.appointmentsJSON, ids)
}

func (s *Store) appendAppointmentsByCases(dst []byte, caseIDs, work []int64) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = gatherIDs(work, s.apptsByCase, caseIDs)
	dst, err := appendRows(dst, s.appointments, s.appointmentsJSON, work)
	return dst, work, err
}

func (s *Store) appendAppointmentsByDoctors(dst []byte, doctorIDs, work []int64, from time.Time) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = s.upcoming(gatherIDs(work, s.apptsByDoc, doctorIDs), from)
	dst, err := appendRows(dst, s.appointments, s.appointmentsJSON, work)
	return dst, work, err
}

func (s *Store) appendCasesByAssignees(dst []byte, staffIDs, work []int64) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = s.assignedTo(work, staffIDs)
	dst, err := appendRows(dst, s.cases, s.casesJSON, work)
	return dst, work, err
}

func (s *Store) appendPatientsByInsurers(dst []byte, insurerIDs, work []int64) ([]byte, []int64, error) {
	work = gatherIDs(work, s.patientsByInsurer, insurerIDs) // immutable: no lock
	dst, err := appendRows(dst, s.patients, s.patientsJSON, work)
	return dst, work, err
}

func (s *Store) appendDoctorsByClinics(dst []byte, clinicIDs, work []int64) ([]byte, []int64, error) {
	work = gatherIDs(work, s.doctorsByClinic, clinicIDs) // immutable: no lock
	dst, err := appendRows(dst, s.doctors, s.doctorsJSON, work)
	return dst, work, err
}
