package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stacker/stacker/events"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// resource describes one service: batch and single reads by id, which every
// service has, plus its own collection reads and writes.
//
// Reads answer from the store's cached row JSON (see jsonCache): they append
// rows to a pooled buffer between a fixed envelope such as `{"patients":[`
// and `]}`, which is byte for byte what encoding/json made of the same rows.
type resource struct {
	name     string // service name, URL plural and batch envelope key
	singular string // single-read envelope key
	// one appends the row's JSON and reports whether the id exists; many
	// appends the rows' JSON in ids order, unknown ids left out (see
	// appendRows).
	one      func(dst []byte, id int64) ([]byte, bool, error)
	many     func(dst []byte, ids []int64) ([]byte, error)
	selects  []*selector // collection reads other than ?ids=
	fallback *selector   // collection read without parameters; nil: 400
	patch    func(w http.ResponseWriter, r *http.Request, id int64)
	create   func(w http.ResponseWriter, r *http.Request)
	nested   []*nested // resources nested in this one, such as a case's notes
}

// nested is a resource nested in a service's own, routed as Rails routes a
// shallow nested resource: GET /<name>?<selector> reads it (by parent, as
// any foreign-key read) and POST /<plural>/:id/<name> adds one to a parent.
type nested struct {
	name    string
	selects []*selector
	create  func(w http.ResponseWriter, r *http.Request, parentID int64)
	// createEP is set by newService.
	createEP *endpoint
}

// selector is one kind of collection read, chosen by the presence of any of
// its parameters; params[0] names it in the endpoint key.
type selector struct {
	params []string
	serve  func(w http.ResponseWriter, q url.Values, sc *scratch)
	ep     *endpoint // set by newService
}

// oneReader and manyReader read a table that never changes, so need no lock.
func oneReader[T any](rows []T, c jsonCache) func([]byte, int64) ([]byte, bool, error) {
	return func(dst []byte, id int64) ([]byte, bool, error) { return appendRow(dst, rows, c, id) }
}

func manyReader[T any](rows []T, c jsonCache) func([]byte, []int64) ([]byte, error) {
	return func(dst []byte, ids []int64) ([]byte, error) { return appendRows(dst, rows, c, ids) }
}

// resources lists the eight services in ServiceNames order.
func (s *Services) resources() []*resource {
	st := s.store
	// byKeys is a foreign-key read such as GET /appointments?case_ids=.
	byKeys := func(param, name string, rows func(dst []byte, keys, work []int64) ([]byte, []int64, error)) *selector {
		return &selector{params: []string{param}, serve: func(w http.ResponseWriter, q url.Values, sc *scratch) {
			var err error
			if sc.ids, err = idList(q, param, sc.ids); err != nil {
				s.writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			sc.openList(name)
			sc.buf, sc.work, err = rows(sc.buf, sc.ids, sc.work)
			sc.closeList()
			s.writeBuilt(w, http.StatusOK, sc.buf, err)
		}}
	}
	// GET /appointments?doctor_ids=&starts_after=: a doctor's calendar, from
	// a time on (RFC 3339; absent: every appointment).
	apptsByDoctor := &selector{params: []string{"doctor_ids", "starts_after"}, serve: func(w http.ResponseWriter, q url.Values, sc *scratch) {
		from, err := timeParam(q, "starts_after")
		if err != nil {
			s.writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		byKeys("doctor_ids", "appointments", func(dst []byte, keys, work []int64) ([]byte, []int64, error) {
			return st.appendAppointmentsByDoctors(dst, keys, work, from)
		}).serve(w, q, sc)
	}}
	caseList := &selector{params: []string{"status", "assignee_id", "page", "per_page"}, serve: s.listCases}
	return []*resource{
		{
			name: "patients", singular: "patient",
			one:  oneReader(st.patients, st.patientsJSON),
			many: manyReader(st.patients, st.patientsJSON),
			selects: []*selector{
				{params: []string{"q", "limit"}, serve: s.searchPatients},
				byKeys("insurer_ids", "patients", st.appendPatientsByInsurers),
			},
		},
		{
			name: "insurers", singular: "insurer",
			one:  oneReader(st.insurers, st.insurersJSON),
			many: manyReader(st.insurers, st.insurersJSON),
		},
		{
			name: "cases", singular: "case",
			one:  st.appendCase,
			many: st.appendCases,
			selects: []*selector{
				byKeys("patient_ids", "cases", st.appendCasesByPatients),
				byKeys("assignee_ids", "cases", st.appendCasesByAssignees),
				caseList,
			},
			fallback: caseList,
			patch:    s.patchCase,
			create:   s.createCase,
			nested: []*nested{{
				name:    "notes",
				selects: []*selector{byKeys("case_ids", "notes", st.appendNotesByCases)},
				create:  s.addNote,
			}},
		},
		{
			name: "staff", singular: "staff_member",
			one:  oneReader(st.staff, st.staffJSON),
			many: manyReader(st.staff, st.staffJSON),
		},
		{
			name: "doctors", singular: "doctor",
			one:  oneReader(st.doctors, st.doctorsJSON),
			many: manyReader(st.doctors, st.doctorsJSON),
			selects: []*selector{
				{params: []string{"specialty", "limit"}, serve: s.doctorsBySpecialty},
				byKeys("clinic_ids", "doctors", st.appendDoctorsByClinics),
			},
		},
		{
			name: "clinics", singular: "clinic",
			one:  oneReader(st.clinics, st.clinicsJSON),
			many: manyReader(st.clinics, st.clinicsJSON),
		},
		{
			name: "appointments", singular: "appointment",
			one:     st.appendAppointment,
			many:    st.appendAppointments,
			selects: []*selector{byKeys("case_ids", "appointments", st.appendAppointmentsByCases), apptsByDoctor},
			patch:   s.patchAppointment,
			create:  s.createAppointment,
		},
		{
			name: "documents", singular: "document",
			one:     st.appendDocument,
			many:    st.appendDocuments,
			selects: []*selector{byKeys("case_ids", "documents", st.appendDocumentsByCases)},
			create:  s.createDocument,
		},
	}
}

type targetKind int

const (
	answerError targetKind = iota // status and msg say what to answer
	readMany                      // a selector's collection read
	readOne
	patchOne
	createOne
	createNested // t.nested's create under the parent t.id
)

// target is where a request is routed: the endpoint it counts against and
// what serves it.
type target struct {
	ep     *endpoint
	kind   targetKind
	sel    *selector
	nested *nested
	q      url.Values
	id     int64
	status int
	msg    string
	allow  string
}

// route maps a request to its endpoint. It is a pure function of the request,
// so the counting layer and the router can each call it.
func (svc *service) route(r *http.Request) target {
	if t, ok := svc.routeNested(r); ok {
		return t
	}
	rest, ok := strings.CutPrefix(r.URL.Path, svc.prefix)
	switch {
	case !ok:
	case rest == "":
		switch {
		case r.Method == http.MethodGet:
			return svc.routeCollection(r.URL.Query())
		case r.Method == http.MethodPost && svc.createEP != nil:
			return target{ep: svc.createEP, kind: createOne}
		}
		allow := http.MethodGet
		if svc.createEP != nil {
			allow += ", " + http.MethodPost
		}
		return target{ep: svc.other, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: allow}
	case rest[0] == '/' && len(rest) > 1 && !strings.Contains(rest[1:], "/"):
		t := target{ep: svc.oneEP, kind: readOne}
		switch {
		case r.Method == http.MethodGet:
		case r.Method == http.MethodPatch && svc.patchEP != nil:
			t = target{ep: svc.patchEP, kind: patchOne}
		default:
			allow := http.MethodGet
			if svc.patchEP != nil {
				allow += ", " + http.MethodPatch
			}
			return target{ep: svc.other, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: allow}
		}
		id, err := strconv.ParseInt(rest[1:], 10, 64)
		if err != nil {
			return target{ep: t.ep, status: http.StatusBadRequest, msg: fmt.Sprintf("invalid id %q", rest[1:])}
		}
		t.id = id
		return t
	}
	return target{ep: svc.other, status: http.StatusNotFound, msg: "not found"}
}

// routeNested routes the requests of the nested resources; ok is false for
// any other request.
func (svc *service) routeNested(r *http.Request) (target, bool) {
	for _, n := range svc.nested {
		if r.URL.Path == "/"+n.name {
			if r.Method != http.MethodGet {
				return target{ep: svc.other, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: http.MethodGet}, true
			}
			return svc.pickSelector(n.selects, nil, r.URL.Query()), true
		}
		rest, ok := strings.CutPrefix(r.URL.Path, svc.prefix+"/")
		if !ok {
			continue
		}
		id, ok := strings.CutSuffix(rest, "/"+n.name)
		if !ok || id == "" || strings.Contains(id, "/") {
			continue
		}
		if r.Method != http.MethodPost {
			return target{ep: svc.other, status: http.StatusMethodNotAllowed, msg: "method not allowed", allow: http.MethodPost}, true
		}
		parent, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return target{ep: n.createEP, status: http.StatusBadRequest, msg: fmt.Sprintf("invalid id %q", id)}, true
		}
		return target{ep: n.createEP, kind: createNested, nested: n, id: parent}, true
	}
	return target{}, false
}

// routeCollection picks the one selector whose parameters are present.
// Parameters of two selectors together are ambiguous and rejected rather than
// one silently winning; unrelated parameters are ignored, as Rails does.
func (svc *service) routeCollection(q url.Values) target {
	return svc.pickSelector(svc.selects, svc.fallback, q)
}

// pickSelector is routeCollection over selects, with fallback (nil: 400)
// when none of their parameters is present.
func (svc *service) pickSelector(selects []*selector, fallback *selector, q url.Values) target {
	var found *selector
	var foundParam string
	for _, sel := range selects {
		i := slices.IndexFunc(sel.params, q.Has)
		if i < 0 {
			continue
		}
		if found != nil {
			return target{ep: svc.other, status: http.StatusBadRequest,
				msg: fmt.Sprintf("%s cannot be combined with %s", foundParam, sel.params[i])}
		}
		found, foundParam = sel, sel.params[i]
	}
	if found == nil {
		found = fallback
	}
	if found == nil {
		names := make([]string, len(selects))
		for i, sel := range selects {
			names[i] = sel.params[0]
		}
		return target{ep: svc.other, status: http.StatusBadRequest,
			msg: "missing parameter: one of " + strings.Join(names, ", ")}
	}
	return target{ep: found.ep, kind: readMany, sel: found, q: q}
}

// serve is the router: the innermost handler of a service, behind
// Options.Middleware.
func (svc *service) serve(w http.ResponseWriter, r *http.Request) {
	svc.dispatch(w, r, svc.route(r))
}

// dispatch answers a request routed to t.
func (svc *service) dispatch(w http.ResponseWriter, r *http.Request, t target) {
	s := svc.s
	switch t.kind {
	case answerError:
		if t.allow != "" {
			w.Header().Set("Allow", t.allow)
		}
		s.writeError(w, t.status, t.msg)
	case readMany:
		sc := s.getScratch()
		defer s.putScratch(sc)
		t.sel.serve(w, t.q, sc)
	case readOne:
		sc := s.getScratch()
		defer s.putScratch(sc)
		sc.open(svc.singular)
		var ok bool
		var err error
		if sc.buf, ok, err = svc.one(sc.buf, t.id); !ok {
			s.writeError(w, http.StatusNotFound, "not found")
			return
		}
		sc.close()
		s.writeBuilt(w, http.StatusOK, sc.buf, err)
	case patchOne:
		svc.patch(w, r, t.id)
	case createOne:
		svc.create(w, r)
	case createNested:
		t.nested.create(w, r, t.id)
	}
}

func (svc *service) serveIDs(w http.ResponseWriter, q url.Values, sc *scratch) {
	var err error
	if sc.ids, err = idList(q, "ids", sc.ids); err != nil {
		svc.s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sc.openList(svc.name)
	sc.buf, err = svc.many(sc.buf, sc.ids)
	sc.closeList()
	svc.s.writeBuilt(w, http.StatusOK, sc.buf, err)
}

func (s *Services) searchPatients(w http.ResponseWriter, q url.Values, sc *scratch) {
	text, ok, err := param(q, "q")
	switch {
	case err != nil:
	case !ok:
		err = errors.New("missing parameter: q")
	case text == "":
		err = errors.New("q must not be empty")
	}
	limit, lerr := intParam(q, "limit", DefaultLimit, 1, MaxLimit)
	if err = firstErr(err, lerr); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	st := s.store
	sc.ids = st.searchPatients(text, limit, sc.ids)
	sc.openList("patients")
	sc.buf, err = appendRows(sc.buf, st.patients, st.patientsJSON, sc.ids)
	sc.closeList()
	s.writeBuilt(w, http.StatusOK, sc.buf, err)
}

func (s *Services) doctorsBySpecialty(w http.ResponseWriter, q url.Values, sc *scratch) {
	sp, ok, err := param(q, "specialty")
	switch {
	case err != nil:
	case !ok:
		err = errors.New("missing parameter: specialty")
	case !s.store.IsSpecialty(sp):
		err = fmt.Errorf("unknown specialty: %q", sp)
	}
	limit, lerr := intParam(q, "limit", DefaultLimit, 1, MaxLimit)
	if err = firstErr(err, lerr); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	st := s.store
	sc.openList("doctors")
	sc.buf, err = appendRows(sc.buf, st.doctors, st.doctorsJSON, st.doctorIDsBySpecialty(sp, limit))
	sc.closeList()
	s.writeBuilt(w, http.StatusOK, sc.buf, err)
}

// caseList is the body of GET /cases with filters, as the tests decode it;
// listCases writes it without encoding/json, in this field order.
type caseList struct {
	Cases []Case   `json:"cases"`
	Meta  pageMeta `json:"meta"`
}

type pageMeta struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

func (s *Services) listCases(w http.ResponseWriter, q url.Values, sc *scratch) {
	mask, err := statusParam(q)
	var assignee *int64
	var assigneeID int64
	if v, ok, perr := param(q, "assignee_id"); perr != nil {
		err = firstErr(err, perr)
	} else if ok {
		id, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			err = firstErr(err, errors.New("assignee_id must be an integer"))
		}
		assigneeID = id
		assignee = &assigneeID
	}
	page, perr := intParam(q, "page", 1, 1, math.MaxInt32)
	perPage, pperr := intParam(q, "per_page", DefaultPerPage, 1, MaxPerPage)
	if err = firstErr(err, perr, pperr); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var total int
	sc.buf = append(sc.buf[:0], `{"cases":[`...)
	sc.buf, sc.work, total, err = s.store.appendCasePage(sc.buf, newCaseQuery(mask, assignee, page, perPage), sc.work)
	sc.buf = append(sc.buf, `],"meta":{"page":`...)
	sc.buf = strconv.AppendInt(sc.buf, int64(page), 10)
	sc.buf = append(sc.buf, `,"per_page":`...)
	sc.buf = strconv.AppendInt(sc.buf, int64(perPage), 10)
	sc.buf = append(sc.buf, `,"total":`...)
	sc.buf = strconv.AppendInt(sc.buf, int64(total), 10)
	sc.buf = append(sc.buf, "}}\n"...)
	s.writeBuilt(w, http.StatusOK, sc.buf, err)
}

// statusParam parses the optional status filter, a comma-separated list of
// case statuses, into a status mask (see statusMask).
func statusParam(q url.Values) (uint8, error) {
	v, ok, err := param(q, "status")
	if err != nil || !ok {
		return anyStatus, err
	}
	if v == "" {
		return 0, errors.New("status must not be empty")
	}
	var mask uint8
	for rest, more := v, true; more; {
		var st string
		st, rest, more = strings.Cut(rest, ",")
		if !isCaseStatus(st) {
			return 0, fmt.Errorf("unknown status: %q", st)
		}
		mask |= statusBit(st)
	}
	return mask, nil
}

// patchCase serves PATCH /cases/:id. The checks run in Rails' order: the body
// must parse (400), the case must exist (404), then fields are validated (422).
func (s *Services) patchCase(w http.ResponseWriter, r *http.Request, id int64) {
	fields, ok := s.decodeParams(w, r, "case")
	if !ok {
		return
	}
	if _, ok := s.store.Case(id); !ok {
		s.writeError(w, http.StatusNotFound, "not found")
		return
	}
	var p CasePatch
	var verr ValidationError
	permitted := false
	for name, dst := range map[string]**string{"status": &p.Status, "priority": &p.Priority} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		permitted = true
		var v string // null decodes as "", which fails validation as it should
		if json.Unmarshal(raw, &v) != nil {
			verr.add(name, "is not included in the list")
			continue
		}
		*dst = &v
	}
	if raw, ok := fields["assignee_id"]; ok {
		permitted = true
		p.SetAssignee = true
		if json.Unmarshal(raw, &p.AssigneeID) != nil { // null leaves nil: unassign
			verr.add("assignee_id", "is not a number")
		}
	}
	if !permitted {
		s.writeError(w, http.StatusBadRequest, "case must set at least one of status, assignee_id, priority")
		return
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	c, enc, err := s.store.updateCase(id, p, s.now())
	if err == nil {
		var changed []string
		for _, name := range []string{"assignee_id", "priority", "status"} {
			if _, ok := fields[name]; ok {
				changed = append(changed, name)
			}
		}
		s.emit(r, events.Event{Type: events.TypeCaseUpdated, CaseID: c.ID, Changed: changed, OccurredAt: c.UpdatedAt})
	}
	switch {
	case s.writeStoreError(w, err):
	case enc == nil: // the case cannot be encoded: writeJSON answers 500
		s.writeJSON(w, http.StatusOK, "case", c)
	default:
		s.writeRow(w, http.StatusOK, "case", enc)
	}
}

// createCase serves POST /cases: a new case, status new and unassigned. It
// publishes case.created.
func (s *Services) createCase(w http.ResponseWriter, r *http.Request) {
	fields, ok := s.decodeParams(w, r, "case")
	if !ok {
		return
	}
	var in CaseInput
	var verr ValidationError
	if raw, ok := fields["patient_id"]; ok && json.Unmarshal(raw, &in.PatientID) != nil {
		verr.add("patient_id", "is not a number")
	}
	for name, dst := range map[string]*string{"specialty": &in.Specialty, "summary": &in.Summary, "priority": &in.Priority} {
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, dst) != nil {
			verr.add(name, "is not a string")
		}
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	c, enc, err := s.store.createCase(in, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	s.emit(r, events.Event{Type: events.TypeCaseCreated, CaseID: c.ID, OccurredAt: c.CreatedAt})
	w.Header().Set("Location", "/cases/"+strconv.FormatInt(c.ID, 10))
	if enc == nil { // the case cannot be encoded: writeJSON answers 500
		s.writeJSON(w, http.StatusCreated, "case", c)
		return
	}
	s.writeRow(w, http.StatusCreated, "case", enc)
}

// createAppointment serves POST /appointments.
func (s *Services) createAppointment(w http.ResponseWriter, r *http.Request) {
	fields, ok := s.decodeParams(w, r, "appointment")
	if !ok {
		return
	}
	var in AppointmentInput
	var verr ValidationError
	for name, dst := range map[string]**int64{"case_id": &in.CaseID, "doctor_id": &in.DoctorID} {
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, dst) != nil {
			verr.add(name, "is not a number")
		}
	}
	if raw, ok := fields["starts_at"]; ok {
		var v *string
		if json.Unmarshal(raw, &v) != nil {
			verr.add("starts_at", "is not a valid datetime")
		} else if v != nil {
			in.StartsAt = *v
		}
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	a, enc, err := s.store.createAppointment(in, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	s.emit(r, events.Event{Type: events.TypeAppointmentScheduled, CaseID: a.CaseID, AppointmentID: a.ID, OccurredAt: s.now().UTC()})
	w.Header().Set("Location", "/appointments/"+strconv.FormatInt(a.ID, 10))
	if enc == nil { // the appointment cannot be encoded: writeJSON answers 500
		s.writeJSON(w, http.StatusCreated, "appointment", a)
		return
	}
	s.writeRow(w, http.StatusCreated, "appointment", enc)
}

// createDocument serves POST /documents: as JSON, the document's metadata
// alone; as multipart/form-data, a streamed upload (uploadDocument). It
// stores the document and publishes document.uploaded.
func (s *Services) createDocument(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		s.uploadDocument(w, r)
		return
	}
	fields, ok := s.decodeParams(w, r, "document")
	if !ok {
		return
	}
	var in DocumentInput
	var verr ValidationError
	for name, dst := range map[string]**int64{"case_id": &in.CaseID, "size_bytes": &in.SizeBytes} {
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, dst) != nil {
			verr.add(name, "is not a number")
		}
	}
	for name, dst := range map[string]*string{"kind": &in.Kind, "title": &in.Title} {
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, dst) != nil {
			verr.add(name, "is not a string")
		}
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	s.storeDocument(w, r, in)
}

// storeDocument stores a document whose fields (and file, for an upload)
// have arrived whole, publishes document.uploaded and answers 201.
func (s *Services) storeDocument(w http.ResponseWriter, r *http.Request, in DocumentInput) {
	d, enc, err := s.store.createDocument(in, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	s.emit(r, events.Event{Type: events.TypeDocumentUploaded, CaseID: d.CaseID, DocumentID: d.ID, OccurredAt: d.UploadedAt})
	w.Header().Set("Location", "/documents/"+strconv.FormatInt(d.ID, 10))
	if enc == nil {
		s.writeJSON(w, http.StatusCreated, "document", d)
		return
	}
	s.writeRow(w, http.StatusCreated, "document", enc)
}

// writeStoreError answers a failed store write and reports whether it did.
func (s *Services) writeStoreError(w http.ResponseWriter, err error) bool {
	var verr *ValidationError
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrNotFound):
		s.writeError(w, http.StatusNotFound, "not found")
	case errors.As(err, &verr):
		s.writeErrors(w, verr.Fields)
	default:
		s.writeError(w, http.StatusInternalServerError, "internal error")
	}
	return true
}

// maxBody bounds write bodies; the largest valid one is well under 1 KiB.
const maxBody = 64 << 10

// decodeParams reads a Rails-style body {"<root>": {...}} and returns the
// fields under root. It answers 400 itself, and reports false, when the body
// is not one JSON object or root is missing, not an object or empty (Rails'
// params.require).
func (s *Services) decodeParams(w http.ResponseWriter, r *http.Request, root string) (map[string]json.RawMessage, bool) {
	return s.decodeParamsUpTo(w, r, root, maxBody)
}

// decodeParamsUpTo is decodeParams reading at most limit bytes.
func (s *Services) decodeParamsUpTo(w http.ResponseWriter, r *http.Request, root string, limit int64) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	var body map[string]json.RawMessage
	err := dec.Decode(&body)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON body")
	}
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return nil, false
	}
	var fields map[string]json.RawMessage
	if raw, ok := body[root]; !ok || json.Unmarshal(raw, &fields) != nil || len(fields) == 0 {
		s.writeError(w, http.StatusBadRequest, "param is missing or the value is empty: "+root)
		return nil, false
	}
	return fields, true
}

// param returns the value of a query parameter. A repeated parameter is an
// error: the service cannot tell which value the client meant.
func param(q url.Values, name string) (string, bool, error) {
	switch vs := q[name]; len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	}
	return "", false, fmt.Errorf("%s given more than once", name)
}

// intParam parses an optional integer parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v, ok, err := param(q, name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer between %d and %d", name, lo, hi)
	}
	return n, nil
}

// timeParam parses an optional RFC 3339 time parameter; absent, it is zero.
func timeParam(q url.Values, name string) (time.Time, error) {
	v, ok, err := param(q, name)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time", name)
	}
	return t, nil
}

// idList parses a comma-separated id list such as ids=1,2,3 into ids,
// reusing its storage (returned, emptied, on an error too). It allows at most
// MaxIDs entries, counted as sent, and drops repeated ids (keeping the first).
func idList(q url.Values, name string, ids []int64) ([]int64, error) {
	ids = ids[:0]
	v, _, err := param(q, name)
	switch {
	case err != nil:
		return ids, err
	case v == "":
		return ids, fmt.Errorf("%s must not be empty", name)
	case strings.Count(v, ",") >= MaxIDs:
		return ids, errors.New("too many ids")
	}
	for rest, more := v, true; more; {
		var p string
		p, rest, more = strings.Cut(rest, ",")
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return ids[:0], fmt.Errorf("%s: %q is not an integer id", name, p)
		}
		if !slices.Contains(ids, id) { // at most MaxIDs, so a scan beats a map
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// scratch is one request's working memory, pooled by Services so that a read
// allocates next to nothing: the response body and the ids it works with.
type scratch struct {
	buf  []byte  // the response body
	ids  []int64 // the ids of the request (see idList)
	work []int64 // row ids a read gathers
}

// maxPooledBody bounds the buffers put back in the pool, so one rare huge
// response does not stay pinned.
const maxPooledBody = 1 << 20

func (s *Services) getScratch() *scratch {
	sc := s.scratch.Get().(*scratch)
	sc.buf = sc.buf[:0]
	return sc
}

func (s *Services) putScratch(sc *scratch) {
	if cap(sc.buf) <= maxPooledBody {
		s.scratch.Put(sc)
	}
}

// Write appends to the body, so encoding/json can encode into it.
func (sc *scratch) Write(p []byte) (int, error) {
	sc.buf = append(sc.buf, p...)
	return len(p), nil
}

// open starts the body {"<key>": ...; keys are fixed identifiers, which need
// no escaping. close ends it with the newline json.Encoder would write.
func (sc *scratch) open(key string) {
	sc.buf = append(append(append(sc.buf[:0], `{"`...), key...), `":`...)
}

func (sc *scratch) close() { sc.buf = append(sc.buf, "}\n"...) }

// openList and closeList do the same for {"<key>": [...]}.
func (sc *scratch) openList(key string) {
	sc.open(key)
	sc.buf = append(sc.buf, '[')
}

func (sc *scratch) closeList() { sc.buf = append(sc.buf, "]}\n"...) }

// writeJSON answers {"<key>": v}, or v itself when key is "". The body is
// encoded into a pooled buffer first, so an encoding failure can still become
// a 500 and the response carries a Content-Length.
func (s *Services) writeJSON(w http.ResponseWriter, status int, key string, v any) {
	sc := s.getScratch()
	defer s.putScratch(sc)
	if key != "" {
		sc.open(key)
	}
	enc := json.NewEncoder(sc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.writeBuilt(w, status, nil, err)
		return
	}
	if key != "" {
		sc.buf = sc.buf[:len(sc.buf)-1] // Encode's newline, inside the envelope
		sc.close()
	}
	s.writeBody(w, status, sc.buf)
}

// writeRow answers {"<key>": row} for a row's cached JSON.
func (s *Services) writeRow(w http.ResponseWriter, status int, key string, row []byte) {
	sc := s.getScratch()
	defer s.putScratch(sc)
	sc.open(key)
	sc.buf = append(sc.buf, row...)
	sc.close()
	s.writeBody(w, status, sc.buf)
}

// writeBuilt answers body, or 500 when err says a row could not be encoded
// (in which case body is incomplete and dropped).
func (s *Services) writeBuilt(w http.ResponseWriter, status int, body []byte, err error) {
	if err != nil {
		s.log.Error("demo: encode response", "err", err)
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`+"\n")
	}
	s.writeBody(w, status, body)
}

// writeBody answers a complete JSON body with its Content-Length.
func (s *Services) writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do then
}

// writeError answers {"error": msg}.
func (s *Services) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, "error", msg)
}

// writeErrors answers 422 {"errors": {"field": ["message", ...]}}.
func (s *Services) writeErrors(w http.ResponseWriter, fields map[string][]string) {
	s.writeJSON(w, http.StatusUnprocessableEntity, "errors", fields)
}

// emit publishes a write's event. The write has happened whatever the bus
// says, so a failure to publish is logged, not answered.
func (s *Services) emit(r *http.Request, e events.Event) {
	if s.publish == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	if err := s.publish(ctx, e); err != nil {
		s.log.Warn("publishing an event failed", "type", e.Type, "case_id", e.CaseID, "error", err)
	}
}
