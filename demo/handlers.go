package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// resource describes one service: batch and single reads by id, which every
// service has, plus its own collection reads and writes.
type resource struct {
	name     string // service name, URL plural and batch envelope key
	singular string // single-read envelope key
	get      func(id int64) (any, bool)
	getMany  func(ids []int64) any // a slice, in ids order, unknown ids left out
	selects  []*selector           // collection reads other than ?ids=
	fallback *selector             // collection read without parameters; nil: 400
	patch    func(w http.ResponseWriter, r *http.Request, id int64)
	create   func(w http.ResponseWriter, r *http.Request)
}

// selector is one kind of collection read, chosen by the presence of any of
// its parameters; params[0] names it in the endpoint key.
type selector struct {
	params []string
	serve  func(w http.ResponseWriter, q url.Values)
	ep     *endpoint // set by newService
}

func getter[T any](f func(int64) (T, bool)) func(int64) (any, bool) {
	return func(id int64) (any, bool) { return f(id) }
}

// resources lists the eight services in ServiceNames order.
func (s *Services) resources() []*resource {
	st := s.store
	byCase := func(name string, rows func([]int64) any) *selector {
		return &selector{params: []string{"case_ids"}, serve: func(w http.ResponseWriter, q url.Values) {
			ids, err := idList(q, "case_ids")
			if err != nil {
				s.writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			s.writeJSON(w, http.StatusOK, name, rows(ids))
		}}
	}
	caseList := &selector{params: []string{"status", "assignee_id", "page", "per_page"}, serve: s.listCases}
	return []*resource{
		{
			name: "patients", singular: "patient",
			get:     getter(st.Patient),
			getMany: func(ids []int64) any { return pick(st.patients, ids) },
			selects: []*selector{{params: []string{"q", "limit"}, serve: s.searchPatients}},
		},
		{
			name: "insurers", singular: "insurer",
			get:     getter(st.Insurer),
			getMany: func(ids []int64) any { return pick(st.insurers, ids) },
		},
		{
			name: "cases", singular: "case",
			get:     getter(st.Case),
			getMany: func(ids []int64) any { return st.casesByIDs(ids) },
			selects: []*selector{
				{params: []string{"patient_ids"}, serve: func(w http.ResponseWriter, q url.Values) {
					ids, err := idList(q, "patient_ids")
					if err != nil {
						s.writeError(w, http.StatusBadRequest, err.Error())
						return
					}
					s.writeJSON(w, http.StatusOK, "cases", st.CasesByPatients(ids))
				}},
				caseList,
			},
			fallback: caseList,
			patch:    s.patchCase,
		},
		{
			name: "staff", singular: "staff_member",
			get:     getter(st.StaffMember),
			getMany: func(ids []int64) any { return pick(st.staff, ids) },
		},
		{
			name: "doctors", singular: "doctor",
			get:     getter(st.Doctor),
			getMany: func(ids []int64) any { return pick(st.doctors, ids) },
			selects: []*selector{{params: []string{"specialty", "limit"}, serve: s.doctorsBySpecialty}},
		},
		{
			name: "clinics", singular: "clinic",
			get:     getter(st.Clinic),
			getMany: func(ids []int64) any { return pick(st.clinics, ids) },
		},
		{
			name: "appointments", singular: "appointment",
			get:     getter(st.Appointment),
			getMany: func(ids []int64) any { return st.appointmentsByIDs(ids) },
			selects: []*selector{byCase("appointments", func(ids []int64) any { return st.AppointmentsByCases(ids) })},
			create:  s.createAppointment,
		},
		{
			name: "documents", singular: "document",
			get:     getter(st.Document),
			getMany: func(ids []int64) any { return pick(st.documents, ids) },
			selects: []*selector{byCase("documents", func(ids []int64) any { return st.DocumentsByCases(ids) })},
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
)

// target is where a request is routed: the endpoint it counts against and
// what serves it.
type target struct {
	ep     *endpoint
	kind   targetKind
	sel    *selector
	q      url.Values
	id     int64
	status int
	msg    string
	allow  string
}

// route maps a request to its endpoint. It is a pure function of the request,
// so the counting layer and the router can each call it.
func (svc *service) route(r *http.Request) target {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+svc.name)
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

// routeCollection picks the one selector whose parameters are present.
// Parameters of two selectors together are ambiguous and rejected rather than
// one silently winning; unrelated parameters are ignored, as Rails does.
func (svc *service) routeCollection(q url.Values) target {
	var found *selector
	var foundParam string
	for _, sel := range svc.selects {
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
		found = svc.fallback
	}
	if found == nil {
		names := make([]string, len(svc.selects))
		for i, sel := range svc.selects {
			names[i] = sel.params[0]
		}
		return target{ep: svc.other, status: http.StatusBadRequest,
			msg: "missing parameter: one of " + strings.Join(names, ", ")}
	}
	return target{ep: found.ep, kind: readMany, sel: found, q: q}
}

// serve is the router: the innermost handler of a service.
func (svc *service) serve(w http.ResponseWriter, r *http.Request) {
	s := svc.s
	t := svc.route(r)
	switch t.kind {
	case answerError:
		if t.allow != "" {
			w.Header().Set("Allow", t.allow)
		}
		s.writeError(w, t.status, t.msg)
	case readMany:
		t.sel.serve(w, t.q)
	case readOne:
		v, ok := svc.get(t.id)
		if !ok {
			s.writeError(w, http.StatusNotFound, "not found")
			return
		}
		s.writeJSON(w, http.StatusOK, svc.singular, v)
	case patchOne:
		svc.patch(w, r, t.id)
	case createOne:
		svc.create(w, r)
	}
}

func (svc *service) serveIDs(w http.ResponseWriter, q url.Values) {
	ids, err := idList(q, "ids")
	if err != nil {
		svc.s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	svc.s.writeJSON(w, http.StatusOK, svc.name, svc.getMany(ids))
}

func (s *Services) searchPatients(w http.ResponseWriter, q url.Values) {
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
	s.writeJSON(w, http.StatusOK, "patients", s.store.SearchPatients(text, limit))
}

func (s *Services) doctorsBySpecialty(w http.ResponseWriter, q url.Values) {
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
	s.writeJSON(w, http.StatusOK, "doctors", s.store.DoctorsBySpecialty(sp, limit))
}

// caseList is the body of GET /cases with filters.
type caseList struct {
	Cases []Case   `json:"cases"`
	Meta  pageMeta `json:"meta"`
}

type pageMeta struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

func (s *Services) listCases(w http.ResponseWriter, q url.Values) {
	statuses, err := statusList(q)
	var assignee *int64
	if v, ok, perr := param(q, "assignee_id"); perr != nil {
		err = firstErr(err, perr)
	} else if ok {
		id, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			err = firstErr(err, errors.New("assignee_id must be an integer"))
		}
		assignee = &id
	}
	page, perr := intParam(q, "page", 1, 1, math.MaxInt32)
	perPage, pperr := intParam(q, "per_page", DefaultPerPage, 1, MaxPerPage)
	if err = firstErr(err, perr, pperr); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cases, total := s.store.ListCases(statuses, assignee, page, perPage)
	s.writeJSON(w, http.StatusOK, "", caseList{Cases: cases, Meta: pageMeta{Page: page, PerPage: perPage, Total: total}})
}

func statusList(q url.Values) ([]string, error) {
	v, ok, err := param(q, "status")
	if err != nil || !ok {
		return nil, err
	}
	if v == "" {
		return nil, errors.New("status must not be empty")
	}
	statuses := strings.Split(v, ",")
	for _, st := range statuses {
		if !isCaseStatus(st) {
			return nil, fmt.Errorf("unknown status: %q", st)
		}
	}
	return statuses, nil
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
	c, err := s.store.UpdateCase(id, p, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	s.writeJSON(w, http.StatusOK, "case", c)
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
	a, err := s.store.CreateAppointment(in, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	w.Header().Set("Location", "/appointments/"+strconv.FormatInt(a.ID, 10))
	s.writeJSON(w, http.StatusCreated, "appointment", a)
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
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
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

// idList parses a comma-separated id list such as ids=1,2,3. It allows at most
// MaxIDs entries, counted as sent, and drops repeated ids (keeping the first).
func idList(q url.Values, name string) ([]int64, error) {
	v, _, err := param(q, name)
	switch {
	case err != nil:
		return nil, err
	case v == "":
		return nil, fmt.Errorf("%s must not be empty", name)
	case strings.Count(v, ",") >= MaxIDs:
		return nil, errors.New("too many ids")
	}
	parts := strings.Split(v, ",")
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an integer id", name, p)
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

// writeJSON answers {"<key>": v}, or v itself when key is "". The body is
// encoded into a pooled buffer first, so an encoding failure can still become
// a 500 and the response carries a Content-Length.
func (s *Services) writeJSON(w http.ResponseWriter, status int, key string, v any) {
	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 { // do not pin rare huge buffers
			buf.Reset()
			s.bufs.Put(buf)
		}
	}()
	if key != "" {
		buf.WriteString(`{"`)
		buf.WriteString(key) // keys are fixed identifiers, no escaping needed
		buf.WriteString(`":`)
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("demo: encode response", "err", err)
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
		status = http.StatusInternalServerError
	} else if key != "" {
		buf.Truncate(buf.Len() - 1) // Encode's newline, inside the envelope
		buf.WriteString("}\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client may be gone; nothing to do then
}

// writeError answers {"error": msg}.
func (s *Services) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, "error", msg)
}

// writeErrors answers 422 {"errors": {"field": ["message", ...]}}.
func (s *Services) writeErrors(w http.ResponseWriter, fields map[string][]string) {
	s.writeJSON(w, http.StatusUnprocessableEntity, "errors", fields)
}
