package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

// encodeWant is the reference for every body below: encoding/json, HTML
// escaping off, as the services encoded every response before rows were
// cached. It shares no code with the cache.
func encodeWant(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// envelope is {"<key>": v} with one key, so map key order cannot matter.
func envelope(key string, v any) map[string]any { return map[string]any{key: v} }

// wantBody checks a 200 answer is exactly want, with a Content-Length that
// matches.
func wantBody(t *testing.T, svcs *Services, service, target, want string) {
	t.Helper()
	rec := do(t, svcs, service, "GET", target, "")
	wantStatus(t, rec, http.StatusOK)
	if got := rec.Body.String(); got != want {
		t.Fatalf("GET %s:\n got %s\nwant %s", target, got, want)
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(want)) {
		t.Errorf("GET %s: Content-Length %s, body %d bytes", target, cl, len(want))
	}
}

// chunks splits 1..n into id lists of at most MaxIDs, each in a shuffled
// order, plus an unknown id, so order and skipping are exercised too.
func chunks(n int, rng *rand.Rand) [][]int64 {
	var out [][]int64
	for lo := 1; lo <= n; lo += MaxIDs - 1 {
		var ids []int64
		for id := lo; id < lo+MaxIDs-1 && id <= n; id++ {
			ids = append(ids, int64(id))
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		out = append(out, append(ids, int64(n+1)))
	}
	return out
}

func join(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// TestReadsMatchEncodingJSON reads every row of every service in batches,
// and a sample singly, and checks each body byte for byte against
// encoding/json of the store's rows. It runs again with a middleware (on a
// sample of the batches), since without one the services skip routing a
// request a second time.
func TestReadsMatchEncodingJSON(t *testing.T) {
	passThrough := func(_ string, next http.Handler) http.Handler { return next }
	for _, mw := range []struct {
		name    string
		fn      func(string, http.Handler) http.Handler
		batches int // per service and pass; 0: all, covering every row
	}{{"no middleware", nil, 0}, {"middleware", passThrough, 3}} {
		t.Run(mw.name, func(t *testing.T) {
			svcs := newServices(t, Options{Middleware: mw.fn})
			st := svcs.store
			tests := []struct {
				service, singular string
				n                 int
				rows              func(ids []int64) any // store rows, not the cache
			}{
				{"patients", "patient", NumPatients, func(ids []int64) any { return pick(st.patients, ids) }},
				{"insurers", "insurer", NumInsurers, func(ids []int64) any { return pick(st.insurers, ids) }},
				{"cases", "case", NumCases, func(ids []int64) any { return pick(st.cases, ids) }},
				{"staff", "staff_member", NumStaff, func(ids []int64) any { return pick(st.staff, ids) }},
				{"doctors", "doctor", NumDoctors, func(ids []int64) any { return pick(st.doctors, ids) }},
				{"clinics", "clinic", NumClinics, func(ids []int64) any { return pick(st.clinics, ids) }},
				{"appointments", "appointment", len(st.appointments), func(ids []int64) any { return pick(st.appointments, ids) }},
				{"documents", "document", len(st.documents), func(ids []int64) any { return pick(st.documents, ids) }},
			}
			for _, tc := range tests {
				t.Run(tc.service, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(tc.n), 7))
					// Twice: the first pass fills the cache, the second reads it.
					for range 2 {
						batches := chunks(tc.n, rng)
						if mw.batches > 0 {
							batches = batches[:min(mw.batches, len(batches))]
						}
						for _, ids := range batches {
							wantBody(t, svcs, tc.service, "/"+tc.service+"?ids="+join(ids),
								encodeWant(t, envelope(tc.service, tc.rows(ids))))
						}
					}
					for id := int64(1); id <= int64(tc.n); id += 1 + int64(tc.n)/50 {
						row := reflect.ValueOf(tc.rows([]int64{id})).Index(0).Interface()
						wantBody(t, svcs, tc.service, fmt.Sprintf("/%s/%d", tc.service, id),
							encodeWant(t, envelope(tc.singular, row)))
					}
					wantBody(t, svcs, tc.service, fmt.Sprintf("/%s?ids=%d", tc.service, tc.n+1), `{"`+tc.service+`":[]}`+"\n")
				})
			}

			t.Run("foreign keys", func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				for _, keys := range chunks(NumPatients, rng) {
					wantBody(t, svcs, "cases", "/cases?patient_ids="+join(keys),
						encodeWant(t, envelope("cases", st.CasesByPatients(keys))))
				}
				for _, keys := range chunks(NumCases, rng)[:10] {
					wantBody(t, svcs, "appointments", "/appointments?case_ids="+join(keys),
						encodeWant(t, envelope("appointments", st.AppointmentsByCases(keys))))
					wantBody(t, svcs, "documents", "/documents?case_ids="+join(keys),
						encodeWant(t, envelope("documents", st.DocumentsByCases(keys))))
				}
				for _, keys := range chunks(NumStaff, rng) {
					wantBody(t, svcs, "cases", "/cases?assignee_ids="+join(keys),
						encodeWant(t, envelope("cases", st.CasesByAssignees(keys))))
				}
				for _, keys := range chunks(NumInsurers, rng) {
					wantBody(t, svcs, "patients", "/patients?insurer_ids="+join(keys),
						encodeWant(t, envelope("patients", st.PatientsByInsurers(keys))))
				}
				for _, keys := range chunks(NumClinics, rng) {
					wantBody(t, svcs, "doctors", "/doctors?clinic_ids="+join(keys),
						encodeWant(t, envelope("doctors", st.DoctorsByClinics(keys))))
				}
				from := SeedBase()
				for _, keys := range chunks(NumDoctors, rng) {
					wantBody(t, svcs, "appointments", "/appointments?doctor_ids="+join(keys),
						encodeWant(t, envelope("appointments", st.AppointmentsByDoctors(keys, time.Time{}))))
					wantBody(t, svcs, "appointments", "/appointments?doctor_ids="+join(keys)+"&starts_after="+from.Format(time.RFC3339),
						encodeWant(t, envelope("appointments", st.AppointmentsByDoctors(keys, from))))
				}
			})

			t.Run("cases list", func(t *testing.T) {
				for _, tc := range []struct {
					query         string
					statuses      []string
					assignee      *int64
					page, perPage int
				}{
					{"", nil, nil, 1, DefaultPerPage},
					{"status=new,in_review&per_page=50", []string{"new", "in_review"}, nil, 1, 50},
					{"status=new,in_review&page=3&per_page=50", []string{"new", "in_review"}, nil, 3, 50},
					{"status=closed&assignee_id=5&per_page=7&page=2", []string{"closed"}, ptr(int64(5)), 2, 7},
					{"assignee_id=0", nil, ptr(int64(0)), 1, DefaultPerPage},
					{"page=51&per_page=100", nil, nil, 51, 100},
					{"page=50&per_page=100", nil, nil, 50, 100},
				} {
					cases, total := st.ListCases(tc.statuses, tc.assignee, tc.page, tc.perPage)
					wantBody(t, svcs, "cases", "/cases?"+tc.query, encodeWant(t,
						caseList{Cases: cases, Meta: pageMeta{Page: tc.page, PerPage: tc.perPage, Total: total}}))
				}
			})

			t.Run("searches", func(t *testing.T) {
				for _, q := range []string{"ann", "LLER", "a"} {
					wantBody(t, svcs, "patients", "/patients?limit=50&q="+q,
						encodeWant(t, envelope("patients", st.SearchPatients(q, 50))))
				}
				for _, sp := range Specialties() {
					wantBody(t, svcs, "doctors", "/doctors?specialty="+sp,
						encodeWant(t, envelope("doctors", st.DoctorsBySpecialty(sp, DefaultLimit))))
				}
			})
		})
	}
}

// TestCachedRowEscaping gives rows the characters encoding/json treats
// specially and checks the cached JSON still matches encoding/json with HTML
// escaping off, as the services have always answered.
func TestCachedRowEscaping(t *testing.T) {
	st := NewStore()
	st.patients[0].LastName = `O'Neil & <Sons> "quoted" \ ` + "\u2028\u2029\x01\t é"
	st.documents[0].Title = "R&D <report>"
	svcs := New(st, Options{Now: testNow})
	p, _ := st.Patient(1)
	d, _ := st.Document(1)
	wantBody(t, svcs, "patients", "/patients/1", encodeWant(t, envelope("patient", p)))
	wantBody(t, svcs, "patients", "/patients?ids=1", encodeWant(t, envelope("patients", []Patient{p})))
	wantBody(t, svcs, "documents", "/documents?ids=1", encodeWant(t, envelope("documents", []Document{d})))
	if rec := do(t, svcs, "documents", "GET", "/documents/1", ""); !strings.Contains(rec.Body.String(), "R&D <report>") {
		t.Errorf("HTML characters were escaped: %s", rec.Body.String())
	}
}

// caseReads checks every read that includes case id against the store: by
// id, by ids, in the cases of its patient, and at the top of the list (where
// a patch just moved it).
func caseReads(t *testing.T, svcs *Services, id int64) {
	t.Helper()
	st := svcs.store
	c, _ := st.Case(id)
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases/%d", id), encodeWant(t, envelope("case", c)))
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases?ids=%d,1", id), encodeWant(t, envelope("cases", pick(st.cases, []int64{id, 1}))))
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases?patient_ids=%d", c.PatientID),
		encodeWant(t, envelope("cases", st.CasesByPatients([]int64{c.PatientID}))))
	for _, q := range []struct {
		query    string
		statuses []string
	}{{"per_page=5", nil}, {"per_page=5&status=" + c.Status, []string{c.Status}}} {
		cases, total := st.ListCases(q.statuses, nil, 1, 5)
		if cases[0].ID != id {
			t.Fatalf("case %d is not at the top of %s", id, q.query)
		}
		wantBody(t, svcs, "cases", "/cases?"+q.query,
			encodeWant(t, caseList{Cases: cases, Meta: pageMeta{Page: 1, PerPage: 5, Total: total}}))
	}
}

// TestWritesRefreshCachedRows reads rows (filling the cache), writes them,
// and checks every kind of read then answers the new row.
func TestWritesRefreshCachedRows(t *testing.T) {
	t.Run("PATCH case", func(t *testing.T) {
		clock := testNow()
		svcs := newServices(t, Options{Now: func() time.Time { return clock }})
		before, _ := svcs.store.Case(42)
		for _, target := range []string{"/cases/42", "/cases?ids=42", "/cases?per_page=100&status=" + before.Status,
			fmt.Sprintf("/cases?patient_ids=%d", before.PatientID)} {
			wantStatus(t, do(t, svcs, "cases", "GET", target, ""), http.StatusOK)
		}
		for i, body := range []string{
			`{"case":{"status":"closed","priority":"urgent","assignee_id":7}}`,
			`{"case":{"assignee_id":null}}`,
			`{"case":{"status":"in_review","assignee_id":3}}`,
		} {
			clock = clock.Add(time.Minute)
			rec := do(t, svcs, "cases", "PATCH", "/cases/42", body)
			wantStatus(t, rec, http.StatusOK)
			c, _ := svcs.store.Case(42)
			if !c.UpdatedAt.Equal(clock) {
				t.Fatalf("patch %d: updated_at %v, want %v", i, c.UpdatedAt, clock)
			}
			if want := encodeWant(t, envelope("case", c)); rec.Body.String() != want {
				t.Fatalf("patch %d answered %s, want %s", i, rec.Body.String(), want)
			}
			caseReads(t, svcs, 42)
		}
		// A rejected patch leaves the cached row alone.
		wantStatus(t, do(t, svcs, "cases", "PATCH", "/cases/42", `{"case":{"status":"open"}}`), http.StatusUnprocessableEntity)
		caseReads(t, svcs, 42)
	})

	t.Run("POST appointment", func(t *testing.T) {
		svcs := newServices(t, Options{})
		st := svcs.store
		byCase := "/appointments?case_ids=10,11"
		wantStatus(t, do(t, svcs, "appointments", "GET", byCase, ""), http.StatusOK)
		n := int64(len(st.appointments))
		for i := range int64(3) {
			rec := do(t, svcs, "appointments", "POST", "/appointments",
				fmt.Sprintf(`{"appointment":{"case_id":%d,"doctor_id":3,"starts_at":"2026-03-0%dT10:00:00Z"}}`, 10+i%2, 1+i))
			wantStatus(t, rec, http.StatusCreated)
			a, ok := st.Appointment(n + 1 + i)
			if !ok {
				t.Fatalf("appointment %d was not stored", n+1+i)
			}
			if want := encodeWant(t, envelope("appointment", a)); rec.Body.String() != want {
				t.Fatalf("POST answered %s, want %s", rec.Body.String(), want)
			}
			wantBody(t, svcs, "appointments", fmt.Sprintf("/appointments/%d", a.ID), encodeWant(t, envelope("appointment", a)))
			ids := []int64{a.ID, 1, a.ID + 1}
			wantBody(t, svcs, "appointments", "/appointments?ids="+join(ids),
				encodeWant(t, envelope("appointments", pick(st.appointments, ids))))
			rows := st.AppointmentsByCases([]int64{10, 11})
			if !slices.ContainsFunc(rows, func(r Appointment) bool { return r.ID == a.ID }) {
				t.Fatalf("appointment %d missing from its case", a.ID)
			}
			wantBody(t, svcs, "appointments", byCase, encodeWant(t, envelope("appointments", rows)))
		}
	})
}

// TestUnencodableRowAnswers500 keeps the old failure mode: a row
// encoding/json rejects (here a year past 9999) makes every response that
// includes it a 500, and is not cached as anything else.
func TestUnencodableRowAnswers500(t *testing.T) {
	svcs := newServices(t, Options{Now: func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }})
	wantStatus(t, do(t, svcs, "cases", "GET", "/cases/9", ""), http.StatusOK) // cached before the write
	rec := do(t, svcs, "cases", "PATCH", "/cases/9", `{"case":{"status":"closed"}}`)
	wantError(t, rec, http.StatusInternalServerError, "internal error")
	if c, _ := svcs.store.Case(9); c.Status != StatusClosed {
		t.Errorf("the patch was not stored: status %s", c.Status)
	}
	for _, target := range []string{"/cases/9", "/cases?ids=1,9", "/cases?per_page=1"} {
		wantError(t, do(t, svcs, "cases", "GET", target, ""), http.StatusInternalServerError, "internal error")
	}
	wantStatus(t, do(t, svcs, "cases", "GET", "/cases?ids=1,2", ""), http.StatusOK)
}

// TestListCasesTotalsAfterPatches moves cases between statuses and
// assignees and checks the maintained counts against a scan of the rows.
func TestListCasesTotalsAfterPatches(t *testing.T) {
	s := NewStore()
	rng := rand.New(rand.NewPCG(5, 6))
	statuses := CaseStatuses()
	for i := range 500 {
		p := CasePatch{Status: ptr(pickOne(rng, statuses))}
		if rng.IntN(2) == 0 {
			p.SetAssignee = true
			if rng.IntN(4) != 0 {
				p.AssigneeID = ptr(1 + rng.Int64N(NumStaff))
			}
		}
		if _, err := s.UpdateCase(1+rng.Int64N(NumCases), p, testNow().Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	assignees := []*int64{nil, ptr(int64(0)), ptr(int64(999))}
	for id := range int64(NumStaff) {
		assignees = append(assignees, ptr(id+1))
	}
	for _, sts := range [][]string{nil, {StatusNew}, {StatusInReview, StatusClosed}, statuses} {
		for _, a := range assignees {
			var want []Case
			for _, c := range s.cases {
				if (sts == nil || slices.Contains(sts, c.Status)) && (a == nil || c.AssigneeID != nil && *c.AssigneeID == *a) {
					want = append(want, c)
				}
			}
			slices.SortFunc(want, func(x, y Case) int { return compareCaseOrder(x.UpdatedAt, x.ID, y.UpdatedAt, y.ID) })
			for _, pg := range []struct{ page, perPage int }{{1, 10}, {2, 100}, {1, NumCases}, {1000, 10}} {
				got, total := s.ListCases(sts, a, pg.page, pg.perPage)
				lo := min((pg.page-1)*pg.perPage, len(want))
				wantPage := want[lo:min(lo+pg.perPage, len(want))]
				if total != len(want) || len(got) != len(wantPage) || len(got) > 0 && !reflect.DeepEqual(got, wantPage) {
					t.Fatalf("statuses %v assignee %v page %+v: %d rows of %d, want %d of %d",
						sts, a, pg, len(got), total, len(wantPage), len(want))
				}
			}
		}
	}
}

// TestConcurrentReadsDuringWrites reads cases and appointments every way
// while writes change them, under -race. The writes land on rows spread over
// a thousand cases, mostly not yet cached, so readers fill cache entries while
// the writer replaces rows. Each patch sets a status and a priority that
// belong together, so a reader seeing a patched row whose status and
// priority disagree, or a filtered list holding a row that does not match the
// filter, would have seen a row half-updated or its JSON out of step with the
// store's indexes.
func TestConcurrentReadsDuringWrites(t *testing.T) {
	const hot = 1000 // the writer patches cases 1..hot
	var tick atomic.Int64
	svcs := newServices(t, Options{Now: func() time.Time {
		return testNow().Add(time.Duration(tick.Add(1)) * time.Second)
	}})
	st := svcs.store
	statuses, priorities := CaseStatuses(), CasePriorities()
	pairs := map[string]string{}
	for i, s := range statuses {
		pairs[s] = priorities[i]
	}
	window := func(rng *rand.Rand, n int) []int64 {
		lo := rng.Int64N(hot - int64(n) + 1)
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = lo + int64(i) + 1
		}
		return ids
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	reader := func(seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			reads.Add(1)
			status := pickOne(rng, statuses)
			var target, service string
			switch i % 5 {
			case 0:
				service, target = "cases", fmt.Sprintf("/cases/%d", 1+rng.Int64N(hot))
			case 1:
				service, target = "cases", "/cases?ids="+join(window(rng, MaxIDs))
			case 2:
				service, target = "cases", "/cases?per_page=20&status="+status
			case 3:
				service, target = "appointments", "/appointments?case_ids="+join(window(rng, 30))
			case 4:
				service, target = "appointments", fmt.Sprintf("/appointments/%d", 1+rng.IntN(3*hot))
			}
			rec := do(t, svcs, service, "GET", target, "")
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: status %d", target, rec.Code)
				return
			}
			if service != "cases" {
				continue
			}
			var body struct {
				Case  *Case
				Cases []Case
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Errorf("GET %s: %v", target, err) // not Fatal: this is not the test's goroutine
				return
			}
			rows := body.Cases
			if body.Case != nil {
				rows = []Case{*body.Case}
			}
			for _, c := range rows {
				if c.UpdatedAt.After(testNow()) && pairs[c.Status] != c.Priority {
					t.Errorf("GET %s: case %d is %s with priority %s: a torn write", target, c.ID, c.Status, c.Priority)
				}
				if i%5 == 2 && c.Status != status {
					t.Errorf("GET %s: case %d is %s", target, c.ID, c.Status)
				}
			}
			for j := 1; i%5 == 2 && j < len(rows); j++ {
				a, b := rows[j-1], rows[j]
				if compareCaseOrder(a.UpdatedAt, a.ID, b.UpdatedAt, b.ID) >= 0 {
					t.Errorf("GET %s: case %d listed before case %d", target, a.ID, b.ID)
				}
			}
		}
	}
	for id := range uint64(3) {
		wg.Add(1)
		go reader(id)
	}

	rng := rand.New(rand.NewPCG(8, 9))
	var patched []int64
	for i := range 400 {
		id := 1 + rng.Int64N(hot)
		if i%8 == 7 {
			body := fmt.Sprintf(`{"appointment":{"case_id":%d,"doctor_id":5,"starts_at":"2026-06-01T10:00:00Z"}}`, id)
			wantStatus(t, do(t, svcs, "appointments", "POST", "/appointments", body), http.StatusCreated)
			continue
		}
		k := rng.IntN(len(statuses))
		body := fmt.Sprintf(`{"case":{"status":%q,"priority":%q}}`, statuses[k], priorities[k])
		wantStatus(t, do(t, svcs, "cases", "PATCH", fmt.Sprintf("/cases/%d", id), body), http.StatusOK)
		patched = append(patched, id)
	}
	testsync.WaitFor(t, "readers to run", func() bool { return reads.Load() >= 100 })
	close(stop)
	wg.Wait()

	// Quiet again: every read answers exactly the store's rows.
	for _, id := range patched[len(patched)-20:] {
		caseReadsAnywhere(t, svcs, id)
	}
	for _, ids := range chunks(hot, rng) {
		wantBody(t, svcs, "cases", "/cases?ids="+join(ids), encodeWant(t, envelope("cases", pick(st.cases, ids))))
		wantBody(t, svcs, "appointments", "/appointments?case_ids="+join(ids),
			encodeWant(t, envelope("appointments", st.AppointmentsByCases(ids))))
	}
	cases, total := st.ListCases(nil, nil, 1, 100)
	wantBody(t, svcs, "cases", "/cases?per_page=100",
		encodeWant(t, caseList{Cases: cases, Meta: pageMeta{Page: 1, PerPage: 100, Total: total}}))
}

// caseReadsAnywhere is caseReads for a case that need not be at the top of
// the list.
func caseReadsAnywhere(t *testing.T, svcs *Services, id int64) {
	t.Helper()
	st := svcs.store
	c, _ := st.Case(id)
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases/%d", id), encodeWant(t, envelope("case", c)))
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases?ids=%d", id), encodeWant(t, envelope("cases", []Case{c})))
	wantBody(t, svcs, "cases", fmt.Sprintf("/cases?patient_ids=%d", c.PatientID),
		encodeWant(t, envelope("cases", st.CasesByPatients([]int64{c.PatientID}))))
}

// TestCacheFillRacingWrite runs the narrowest race the cache has, many times
// over: readers filling empty entries of a few cases while a writer replaces
// those cases. A fill made after the read lock is released could store the
// old row's JSON over the write's, leaving the entry stale for good (the
// check after each round finds that); a fill that reads the row without the
// lock is a data race (-race finds that).
func TestCacheFillRacingWrite(t *testing.T) {
	st := NewStore()
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8}
	statuses := CaseStatuses()
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		st.mu.Lock()
		for _, id := range ids {
			st.casesJSON[id-1].Store(nil) // cold again, as if never read
		}
		st.mu.Unlock()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for r := range 3 {
			wg.Go(func() {
				<-start
				for _, id := range ids {
					switch r {
					case 0:
						_, _, _ = st.appendCase(nil, id)
					case 1:
						_, _ = st.appendCases(nil, []int64{id})
					case 2:
						_, _, _, _ = st.appendCasePage(nil, newCaseQuery(anyStatus, nil, 1, 5), nil)
					}
				}
			})
		}
		close(start)
		at := testNow().Add(time.Duration(round) * time.Second)
		for _, id := range ids {
			if _, err := st.UpdateCase(id, CasePatch{Status: &statuses[(round+int(id))%len(statuses)]}, at); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		for _, id := range ids {
			c, _ := st.Case(id)
			got, _, err := st.appendCase(nil, id)
			if want := strings.TrimSuffix(encodeWant(t, c), "\n"); err != nil || string(got) != want {
				t.Fatalf("round %d: case %d cached as %s (%v), want %s", round, id, got, err, want)
			}
		}
	}
}
