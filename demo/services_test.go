package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

func TestBatchRead(t *testing.T) {
	svcs := newServices(t, Options{})
	for _, name := range ServiceNames() {
		t.Run(name, func(t *testing.T) {
			// Unknown ids are left out; repeated ids come back once.
			rec := do(t, svcs, name, "GET", "/"+name+"?ids=3,1,999999,3,%201,-4", "")
			wantStatus(t, rec, http.StatusOK)
			got := decode[map[string][]struct{ ID int64 }](t, rec)
			rows, ok := got[name]
			if !ok || len(got) != 1 {
				t.Fatalf("body %s, want one key %q", rec.Body.String(), name)
			}
			var gotIDs []int64
			for _, r := range rows {
				gotIDs = append(gotIDs, r.ID)
			}
			slices.Sort(gotIDs)
			if want := []int64{1, 3}; !slices.Equal(gotIDs, want) {
				t.Errorf("ids %v, want %v", gotIDs, want)
			}
		})
	}

	t.Run("only unknown ids", func(t *testing.T) {
		rec := do(t, svcs, "patients", "GET", "/patients?ids=999999", "")
		wantStatus(t, rec, http.StatusOK)
		if got := strings.TrimSpace(rec.Body.String()); got != `{"patients":[]}` {
			t.Errorf("body %s, want an empty list", got)
		}
	})
	t.Run("rows match the store", func(t *testing.T) {
		rec := do(t, svcs, "cases", "GET", "/cases?ids=7,8", "")
		got := decode[struct{ Cases []Case }](t, rec)
		c7, _ := svcs.store.Case(7)
		c8, _ := svcs.store.Case(8)
		if !reflect.DeepEqual(got.Cases, []Case{c7, c8}) {
			t.Errorf("got %+v, want cases 7 and 8 as stored", got.Cases)
		}
	})
}

func TestIDListLimits(t *testing.T) {
	svcs := newServices(t, Options{})
	list := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprint(i + 1)
		}
		return strings.Join(parts, ",")
	}
	tests := []struct {
		name, service, target string
		status                int
		msg                   string
	}{
		{"100 ids", "patients", "/patients?ids=" + list(100), 200, ""},
		{"101 ids", "patients", "/patients?ids=" + list(101), 400, "too many ids"},
		{"101 ids, repeated", "insurers", "/insurers?ids=" + strings.Repeat("1,", 100) + "1", 400, "too many ids"},
		{"101 patient_ids", "cases", "/cases?patient_ids=" + list(101), 400, "too many ids"},
		{"101 case_ids", "appointments", "/appointments?case_ids=" + list(101), 400, "too many ids"},
		{"101 case_ids documents", "documents", "/documents?case_ids=" + list(101), 400, "too many ids"},
		{"empty", "staff", "/staff?ids=", 400, "ids must not be empty"},
		{"not an integer", "doctors", "/doctors?ids=1,x", 400, ""},
		{"trailing comma", "clinics", "/clinics?ids=1,", 400, ""},
		{"repeated parameter", "cases", "/cases?ids=1&ids=2", 400, "ids given more than once"},
		{"empty case_ids", "documents", "/documents?case_ids=", 400, "case_ids must not be empty"},
		{"100 clinic_ids", "doctors", "/doctors?clinic_ids=" + list(100), 200, ""},
		{"101 clinic_ids", "doctors", "/doctors?clinic_ids=" + list(101), 400, "too many ids"},
		{"bad clinic_ids", "doctors", "/doctors?clinic_ids=1,x", 400, "clinic_ids: \"x\" is not an integer id"},
		{"clinic_ids with specialty", "doctors", "/doctors?clinic_ids=1&specialty=cardiology", 400, "specialty cannot be combined with clinic_ids"},
		{"100 assignee_ids", "cases", "/cases?assignee_ids=" + list(100), 200, ""},
		{"101 assignee_ids", "cases", "/cases?assignee_ids=" + list(101), 400, "too many ids"},
		{"bad assignee_ids", "cases", "/cases?assignee_ids=1,x", 400, "assignee_ids: \"x\" is not an integer id"},
		{"empty assignee_ids", "cases", "/cases?assignee_ids=", 400, "assignee_ids must not be empty"},
		{"100 insurer_ids", "patients", "/patients?insurer_ids=" + list(100), 200, ""},
		{"101 insurer_ids", "patients", "/patients?insurer_ids=" + list(101), 400, "too many ids"},
		{"bad insurer_ids", "patients", "/patients?insurer_ids=1,,2", 400, ""},
		{"insurer_ids with q", "patients", "/patients?insurer_ids=1&q=a", 400, ""},
		{"101 doctor_ids", "appointments", "/appointments?doctor_ids=" + list(101), 400, "too many ids"},
		{"bad doctor_ids", "appointments", "/appointments?doctor_ids=,", 400, ""},
		{"starts_after alone", "appointments", "/appointments?starts_after=2026-01-01T00:00:00Z", 400, "doctor_ids must not be empty"},
		{"bad starts_after", "appointments", "/appointments?doctor_ids=1&starts_after=tomorrow", 400, "starts_after must be an RFC 3339 time"},
		{"doctor_ids with case_ids", "appointments", "/appointments?doctor_ids=1&case_ids=1", 400, "case_ids cannot be combined with doctor_ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, tc.service, "GET", tc.target, "")
			if tc.status == http.StatusOK {
				wantStatus(t, rec, tc.status)
				return
			}
			wantError(t, rec, tc.status, tc.msg)
		})
	}
}

func TestSingleRead(t *testing.T) {
	svcs := newServices(t, Options{})
	st := svcs.store
	one := func(v any, _ bool) any { return v }
	tests := []struct {
		service, key string
		want         any
	}{
		{"patients", "patient", one(st.Patient(1))},
		{"insurers", "insurer", one(st.Insurer(1))},
		{"cases", "case", one(st.Case(1))},
		{"staff", "staff_member", one(st.StaffMember(1))},
		{"doctors", "doctor", one(st.Doctor(1))},
		{"clinics", "clinic", one(st.Clinic(1))},
		{"appointments", "appointment", one(st.Appointment(1))},
		{"documents", "document", one(st.Document(1))},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			rec := do(t, svcs, tc.service, "GET", "/"+tc.service+"/1", "")
			wantStatus(t, rec, http.StatusOK)
			got := reflect.New(reflect.TypeOf(tc.want))
			env := decode[map[string]json.RawMessage](t, rec)
			if len(env) != 1 {
				t.Fatalf("body %s, want one key %q", rec.Body.String(), tc.key)
			}
			unmarshal(t, env[tc.key], got.Interface())
			if !reflect.DeepEqual(got.Elem().Interface(), tc.want) {
				t.Errorf("got %+v, want %+v", got.Elem().Interface(), tc.want)
			}

			wantError(t, do(t, svcs, tc.service, "GET", "/"+tc.service+"/999999", ""), http.StatusNotFound, "not found")
			wantError(t, do(t, svcs, tc.service, "GET", "/"+tc.service+"/abc", ""), http.StatusBadRequest, "")
		})
	}
}

func TestForeignKeyReads(t *testing.T) {
	svcs := newServices(t, Options{})
	st := svcs.store
	tests := []struct {
		name, service, target string
		want                  func() any
		decodeInto            func() any
		fk                    func(row any) int64
		keys                  []int64
	}{
		{
			name: "cases by patient", service: "cases", target: "/cases?patient_ids=5,1,5,999999",
			want:       func() any { return st.CasesByPatients([]int64{1, 5}) },
			decodeInto: func() any { return &struct{ Cases []Case }{} },
			keys:       []int64{1, 5},
		},
		{
			name: "appointments by case", service: "appointments", target: "/appointments?case_ids=3,2,2,999999",
			want:       func() any { return st.AppointmentsByCases([]int64{2, 3}) },
			decodeInto: func() any { return &struct{ Appointments []Appointment }{} },
			keys:       []int64{2, 3},
		},
		{
			name: "documents by case", service: "documents", target: "/documents?case_ids=30,20,10",
			want:       func() any { return st.DocumentsByCases([]int64{10, 20, 30}) },
			decodeInto: func() any { return &struct{ Documents []Document }{} },
			keys:       []int64{10, 20, 30},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, tc.service, "GET", tc.target, "")
			wantStatus(t, rec, http.StatusOK)
			got := tc.decodeInto()
			unmarshal(t, rec.Body.Bytes(), got)
			rows := reflect.ValueOf(got).Elem().Field(0).Interface()
			if !reflect.DeepEqual(rows, tc.want()) {
				t.Fatalf("got %+v\nwant %+v", rows, tc.want())
			}
			// The store's answer is itself checked: every row of the keys,
			// none other, ordered by id.
			var rowIDs []int64
			n := 0
			switch rows := rows.(type) {
			case []Case:
				rowIDs = ids(rows)
				for _, c := range st.cases {
					if slices.Contains(tc.keys, c.PatientID) {
						n++
					}
				}
			case []Appointment:
				rowIDs = ids(rows)
				for _, a := range st.appointments {
					if slices.Contains(tc.keys, a.CaseID) {
						n++
					}
				}
			case []Document:
				rowIDs = ids(rows)
				for _, d := range st.documents {
					if slices.Contains(tc.keys, d.CaseID) {
						n++
					}
				}
			}
			if len(rowIDs) != n || n == 0 {
				t.Errorf("%d rows, want %d (and more than 0)", len(rowIDs), n)
			}
			if !slices.IsSorted(rowIDs) {
				t.Errorf("ids %v are not ordered", rowIDs)
			}
		})
	}
}

func TestCasesList(t *testing.T) {
	svcs := newServices(t, Options{})
	st := svcs.store
	tests := []struct {
		name          string
		query         string
		statuses      []string
		assignee      *int64
		page, perPage int
	}{
		{"defaults", "", nil, nil, 1, 25},
		{"one status", "status=new", []string{"new"}, nil, 1, 25},
		{"two statuses, page 3", "status=new,in_review&page=3&per_page=100", []string{"new", "in_review"}, nil, 3, 100},
		{"assignee", "assignee_id=5&per_page=100", nil, ptr(int64(5)), 1, 100},
		{"status and assignee", "status=closed&assignee_id=5", []string{"closed"}, ptr(int64(5)), 1, 25},
		{"past the end", "page=1000", nil, nil, 1000, 25},
		{"unknown assignee", "assignee_id=999", nil, ptr(int64(999)), 1, 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, "cases", "GET", "/cases?"+tc.query, "")
			wantStatus(t, rec, http.StatusOK)
			got := decode[caseList](t, rec)
			want, total := st.ListCases(tc.statuses, tc.assignee, tc.page, tc.perPage)
			if got.Meta != (pageMeta{Page: tc.page, PerPage: tc.perPage, Total: total}) {
				t.Errorf("meta %+v, want page %d per_page %d total %d", got.Meta, tc.page, tc.perPage, total)
			}
			if !reflect.DeepEqual(got.Cases, want) {
				t.Errorf("cases %v, want %v", ids(got.Cases), ids(want))
			}
			if len(want) == 0 && !strings.Contains(rec.Body.String(), `"cases":[]`) {
				t.Errorf("an empty page must be [], got %s", rec.Body.String())
			}
			for _, c := range got.Cases {
				if len(tc.statuses) > 0 && !slices.Contains(tc.statuses, c.Status) ||
					tc.assignee != nil && (c.AssigneeID == nil || *c.AssigneeID != *tc.assignee) {
					t.Errorf("case %d (%s, %v) does not match the filters", c.ID, c.Status, c.AssigneeID)
				}
			}
		})
	}
	if all, total := st.ListCases(nil, nil, 1, NumCases); total != NumCases || len(all) != NumCases {
		t.Errorf("unfiltered total %d, want %d", total, NumCases)
	}
}

func TestCasesListErrors(t *testing.T) {
	svcs := newServices(t, Options{})
	tests := []struct{ name, query, msg string }{
		{"per_page too big", "per_page=101", "per_page must be an integer between 1 and 100"},
		{"per_page zero", "per_page=0", ""},
		{"page zero", "page=0", ""},
		{"page not a number", "page=two", ""},
		{"unknown status", "status=open", `unknown status: "open"`},
		{"one unknown status", "status=new,bogus", ""},
		{"empty status", "status=", "status must not be empty"},
		{"assignee not a number", "assignee_id=me", "assignee_id must be an integer"},
		{"ids with a filter", "ids=1&status=new", "ids cannot be combined with status"},
		{"two fk", "patient_ids=1&page=2", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, do(t, svcs, "cases", "GET", "/cases?"+tc.query, ""), http.StatusBadRequest, tc.msg)
		})
	}
}

// TestCasesListOrder walks every page the way a client would and checks the
// whole list is in order, ties on updated_at included.
func TestCasesListOrder(t *testing.T) {
	svcs := newServices(t, Options{})
	var all []Case
	for page := 1; ; page++ {
		rec := do(t, svcs, "cases", "GET", fmt.Sprintf("/cases?page=%d&per_page=100", page), "")
		wantStatus(t, rec, http.StatusOK)
		got := decode[caseList](t, rec)
		if len(got.Cases) == 0 {
			break
		}
		all = append(all, got.Cases...)
	}
	if len(all) != NumCases {
		t.Fatalf("walked %d cases, want %d", len(all), NumCases)
	}
	if !checkCaseOrder(t, all) {
		t.Error("no updated_at tie seen; the id tie-break is untested")
	}
}

func TestPatientsSearch(t *testing.T) {
	svcs := newServices(t, Options{})
	match := func(q string, limit int) []Patient {
		var out []Patient
		for _, p := range svcs.store.patients {
			if len(out) < limit && strings.Contains(strings.ToLower(p.FirstName+" "+p.LastName), strings.ToLower(q)) {
				out = append(out, p)
			}
		}
		return out
	}
	tests := []struct {
		name, query string
		text        string
		limit       int
	}{
		{"first name, default limit", "q=anna", "anna", 10},
		{"ignores case", "q=ANNA", "anna", 10},
		{"across first and last", "q=a%20sch&limit=50", "a sch", 50},
		{"limit", "q=er&limit=3", "er", 3},
		{"no match", "q=zzz", "zzz", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, "patients", "GET", "/patients?"+tc.query, "")
			wantStatus(t, rec, http.StatusOK)
			got := decode[struct{ Patients []Patient }](t, rec)
			want := match(tc.text, tc.limit)
			if !slices.Equal(ids(got.Patients), ids(want)) {
				t.Errorf("ids %v, want %v", ids(got.Patients), ids(want))
			}
			if !slices.IsSorted(ids(got.Patients)) {
				t.Errorf("ids %v not ordered", ids(got.Patients))
			}
		})
	}
	if n := len(match("a", 50)); n != 50 {
		t.Fatalf("search for %q matches only %d patients; the limit tests need more", "a", n)
	}

	for _, tc := range []struct{ name, query string }{
		{"limit too big", "q=a&limit=51"},
		{"limit zero", "q=a&limit=0"},
		{"empty q", "q="},
		{"limit without q", "limit=5"},
		{"q with ids", "q=a&ids=1"},
		{"no parameters", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, do(t, svcs, "patients", "GET", "/patients?"+tc.query, ""), http.StatusBadRequest, "")
		})
	}
}

func TestDoctorsBySpecialty(t *testing.T) {
	svcs := newServices(t, Options{})
	for _, tc := range []struct {
		name, query, specialty string
		limit                  int
	}{
		{"default limit", "specialty=cardiology", "cardiology", 10},
		{"limit 50 (all of them)", "specialty=oncology&limit=50", "oncology", 50},
		{"limit 1", "specialty=neurology&limit=1", "neurology", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, "doctors", "GET", "/doctors?"+tc.query, "")
			wantStatus(t, rec, http.StatusOK)
			got := decode[struct{ Doctors []Doctor }](t, rec).Doctors

			var want []Doctor
			for _, d := range svcs.store.doctors {
				if d.Specialty == tc.specialty {
					want = append(want, d)
				}
			}
			slices.SortStableFunc(want, func(a, b Doctor) int { // stable: ids ascend already
				switch {
				case a.Rating > b.Rating:
					return -1
				case a.Rating < b.Rating:
					return 1
				}
				return 0
			})
			want = want[:min(tc.limit, len(want))]
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", ids(got), ids(want))
			}
		})
	}
	for _, tc := range []struct{ name, query string }{
		{"limit too big", "specialty=cardiology&limit=51"},
		{"unknown specialty", "specialty=astrology"},
		{"limit without specialty", "limit=5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, do(t, svcs, "doctors", "GET", "/doctors?"+tc.query, ""), http.StatusBadRequest, "")
		})
	}
}

func TestPatchCase(t *testing.T) {
	t.Run("updates, stamps updated_at and moves to the top", func(t *testing.T) {
		svcs := newServices(t, Options{})
		before, _ := svcs.store.Case(42)
		rec := do(t, svcs, "cases", "PATCH", "/cases/42",
			`{"case":{"status":"closed","priority":"urgent","assignee_id":7,"ignored":true}}`)
		wantStatus(t, rec, http.StatusOK)
		got := decode[struct{ Case Case }](t, rec).Case
		want := before
		want.Status, want.Priority, want.AssigneeID, want.UpdatedAt = "closed", "urgent", ptr(int64(7)), testNow()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if stored, _ := svcs.store.Case(42); !reflect.DeepEqual(stored, want) {
			t.Errorf("stored %+v, want %+v", stored, want)
		}

		// A second patch at the same instant ties on updated_at: the higher
		// id goes first.
		wantStatus(t, do(t, svcs, "cases", "PATCH", "/cases/17", `{"case":{"priority":"low"}}`), http.StatusOK)
		list := decode[caseList](t, do(t, svcs, "cases", "GET", "/cases?per_page=3", ""))
		if got := ids(list.Cases)[:2]; !slices.Equal(got, []int64{42, 17}) {
			t.Errorf("top of the list %v, want [42 17]", got)
		}
		closed := decode[caseList](t, do(t, svcs, "cases", "GET", "/cases?status=closed&per_page=1", ""))
		if ids(closed.Cases)[0] != 42 {
			t.Errorf("top closed case %d, want 42", ids(closed.Cases)[0])
		}
	})

	t.Run("null unassigns", func(t *testing.T) {
		svcs := newServices(t, Options{})
		rec := do(t, svcs, "cases", "PATCH", "/cases/3", `{"case":{"assignee_id":null}}`)
		wantStatus(t, rec, http.StatusOK)
		if !strings.Contains(rec.Body.String(), `"assignee_id":null`) {
			t.Errorf("body %s, want assignee_id null", rec.Body.String())
		}
		if c, _ := svcs.store.Case(3); c.AssigneeID != nil {
			t.Errorf("stored assignee %d, want none", *c.AssigneeID)
		}
	})

	t.Run("unknown case", func(t *testing.T) {
		svcs := newServices(t, Options{})
		wantError(t, do(t, svcs, "cases", "PATCH", "/cases/999999", `{"case":{"status":"new"}}`), http.StatusNotFound, "not found")
	})

	invalid := []struct {
		name, body string
		fields     []string
	}{
		{"unknown status", `{"case":{"status":"open"}}`, []string{"status"}},
		{"null status", `{"case":{"status":null}}`, []string{"status"}},
		{"unknown priority", `{"case":{"priority":"asap"}}`, []string{"priority"}},
		{"unknown assignee", `{"case":{"assignee_id":999}}`, []string{"assignee_id"}},
		{"assignee as a string", `{"case":{"assignee_id":"7"}}`, []string{"assignee_id"}},
		{"status not a string", `{"case":{"status":1}}`, []string{"status"}},
		{"several", `{"case":{"status":"open","priority":"asap","assignee_id":0}}`, []string{"assignee_id", "priority", "status"}},
	}
	for _, tc := range invalid {
		t.Run("422 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			svcs := newServices(t, Options{})
			before, _ := svcs.store.Case(5)
			rec := do(t, svcs, "cases", "PATCH", "/cases/5", tc.body)
			wantStatus(t, rec, http.StatusUnprocessableEntity)
			got := decode[struct{ Errors map[string][]string }](t, rec).Errors
			var fields []string
			for f, msgs := range got {
				fields = append(fields, f)
				if len(msgs) == 0 || msgs[0] == "" {
					t.Errorf("field %s has no message", f)
				}
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("error fields %v, want %v (body %s)", fields, tc.fields, rec.Body.String())
			}
			if after, _ := svcs.store.Case(5); !reflect.DeepEqual(after, before) {
				t.Errorf("a rejected patch changed the case: %+v", after)
			}
		})
	}

	bad := []struct{ name, target, body string }{
		{"truncated JSON", "/cases/5", `{"case":`},
		{"not an object", "/cases/5", `[1,2]`},
		{"trailing data", "/cases/5", `{"case":{"status":"new"}} {}`},
		{"no case key", "/cases/5", `{"status":"new"}`},
		{"empty case", "/cases/5", `{"case":{}}`},
		{"case not an object", "/cases/5", `{"case":"new"}`},
		{"no permitted field", "/cases/5", `{"case":{"summary":"x"}}`},
		{"empty body", "/cases/5", ``},
		{"id not an integer", "/cases/five", `{"case":{"status":"new"}}`},
	}
	for _, tc := range bad {
		t.Run("400 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			svcs := newServices(t, Options{})
			wantError(t, do(t, svcs, "cases", "PATCH", tc.target, tc.body), http.StatusBadRequest, "")
		})
	}
}

func TestCreateAppointment(t *testing.T) {
	t.Run("201", func(t *testing.T) {
		svcs := newServices(t, Options{})
		n := svcs.store.Counts()["appointments"]
		rec := do(t, svcs, "appointments", "POST", "/appointments",
			`{"appointment":{"case_id":10,"doctor_id":3,"starts_at":"2026-03-01T11:30:00+01:00"}}`)
		wantStatus(t, rec, http.StatusCreated)
		got := decode[struct{ Appointment Appointment }](t, rec).Appointment
		want := Appointment{
			ID: int64(n + 1), CaseID: 10, DoctorID: 3,
			StartsAt: time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC), Status: AppointmentScheduled,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		if loc := rec.Header().Get("Location"); loc != fmt.Sprintf("/appointments/%d", want.ID) {
			t.Errorf("Location %q", loc)
		}
		if !strings.Contains(rec.Body.String(), `"starts_at":"2026-03-01T10:30:00Z"`) {
			t.Errorf("starts_at not normalised to UTC: %s", rec.Body.String())
		}
		byCase := svcs.store.AppointmentsByCase(10)
		if last := byCase[len(byCase)-1]; !reflect.DeepEqual(last, want) {
			t.Errorf("last appointment of case 10 = %+v, want the new one", last)
		}
		list := decode[struct{ Appointments []Appointment }](t, do(t, svcs, "appointments", "GET", "/appointments?case_ids=10", ""))
		if !reflect.DeepEqual(list.Appointments, byCase) {
			t.Errorf("GET by case_ids does not show the new appointment")
		}
		one := decode[struct{ Appointment Appointment }](t, do(t, svcs, "appointments", "GET", fmt.Sprintf("/appointments/%d", want.ID), ""))
		if !reflect.DeepEqual(one.Appointment, want) {
			t.Errorf("single read %+v, want %+v", one.Appointment, want)
		}
	})

	invalid := []struct {
		name, body string
		fields     []string
	}{
		{"unknown case", `{"appointment":{"case_id":999999,"doctor_id":3,"starts_at":"2026-03-01T10:00:00Z"}}`, []string{"case_id"}},
		{"unknown doctor", `{"appointment":{"case_id":1,"doctor_id":9999,"starts_at":"2026-03-01T10:00:00Z"}}`, []string{"doctor_id"}},
		{"missing starts_at", `{"appointment":{"case_id":1,"doctor_id":3}}`, []string{"starts_at"}},
		{"null starts_at", `{"appointment":{"case_id":1,"doctor_id":3,"starts_at":null}}`, []string{"starts_at"}},
		{"unparseable starts_at", `{"appointment":{"case_id":1,"doctor_id":3,"starts_at":"next tuesday"}}`, []string{"starts_at"}},
		{"date only", `{"appointment":{"case_id":1,"doctor_id":3,"starts_at":"2026-03-01"}}`, []string{"starts_at"}},
		{"in the past", `{"appointment":{"case_id":1,"doctor_id":3,"starts_at":"2026-01-15T10:00:00Z"}}`, []string{"starts_at"}},
		{"case_id a string", `{"appointment":{"case_id":"1","doctor_id":3,"starts_at":"2026-03-01T10:00:00Z"}}`, []string{"case_id"}},
		{"all missing", `{"appointment":{"note":"x"}}`, []string{"case_id", "doctor_id", "starts_at"}},
	}
	for _, tc := range invalid {
		t.Run("422 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			svcs := newServices(t, Options{})
			n := svcs.store.Counts()["appointments"]
			rec := do(t, svcs, "appointments", "POST", "/appointments", tc.body)
			wantStatus(t, rec, http.StatusUnprocessableEntity)
			got := decode[struct{ Errors map[string][]string }](t, rec).Errors
			var fields []string
			for f := range got {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("error fields %v, want %v (body %s)", fields, tc.fields, rec.Body.String())
			}
			if svcs.store.Counts()["appointments"] != n {
				t.Error("a rejected appointment was stored")
			}
		})
	}

	for _, tc := range []struct{ name, body string }{
		{"malformed JSON", `{"appointment":{"case_id":1,`},
		{"no appointment key", `{"case_id":1}`},
		{"empty appointment", `{"appointment":{}}`},
	} {
		t.Run("400 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			svcs := newServices(t, Options{})
			wantError(t, do(t, svcs, "appointments", "POST", "/appointments", tc.body), http.StatusBadRequest, "")
		})
	}
}

func TestRouting(t *testing.T) {
	svcs := newServices(t, Options{})
	tests := []struct {
		name, service, method, target string
		status                        int
		allow                         string
	}{
		{"unknown path", "patients", "GET", "/nope", 404, ""},
		{"another service's path", "patients", "GET", "/cases/1", 404, ""},
		{"nested path", "patients", "GET", "/patients/1/cases", 404, ""},
		{"trailing slash", "patients", "GET", "/patients/", 404, ""},
		{"prefix only", "patients", "GET", "/patientsx", 404, ""},
		{"POST to a read-only collection", "patients", "POST", "/patients", 405, "GET"},
		{"PATCH a read-only row", "doctors", "PATCH", "/doctors/1", 405, "GET"},
		{"DELETE a case", "cases", "DELETE", "/cases/1", 405, "GET, PATCH"},
		{"PATCH the case collection", "cases", "PATCH", "/cases", 405, "GET, POST"},
		{"PUT appointments", "appointments", "PUT", "/appointments", 405, "GET, POST"},
		{"no selector", "insurers", "GET", "/insurers", 400, ""},
		{"unknown parameter only", "documents", "GET", "/documents?kind=imaging", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, tc.service, tc.method, tc.target, "")
			wantError(t, rec, tc.status, "")
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	if _, err := svcs.Handler("billing"); err == nil {
		t.Error("Handler of an unknown service did not fail")
	}
}

func TestRequestIDAndTraceparent(t *testing.T) {
	svcs := newServices(t, Options{})
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct{ name, service, method, target, body string }{
		{"batch read", "patients", "GET", "/patients?ids=1", ""},
		{"not found", "staff", "GET", "/staff/999", ""},
		{"bad request", "cases", "GET", "/cases?per_page=500", ""},
		{"unknown path", "clinics", "GET", "/nope", ""},
		{"write", "cases", "PATCH", "/cases/1", `{"case":{"status":"new"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, svcs, tc.service, tc.method, tc.target, tc.body,
				"X-Request-ID", "req-"+tc.name, "traceparent", traceparent)
			if got := rec.Header().Get("X-Request-ID"); got != "req-"+tc.name {
				t.Errorf("X-Request-ID %q, want %q", got, "req-"+tc.name)
			}
			rec = do(t, svcs, tc.service, tc.method, tc.target, tc.body)
			if got := rec.Header().Values("X-Request-ID"); len(got) != 0 {
				t.Errorf("X-Request-ID %q without one in the request", got)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	svcs := newServices(t, Options{})
	requests := []struct{ service, method, target, body string }{
		{"patients", "GET", "/patients?ids=1,2", ""},
		{"patients", "GET", "/patients?ids=3", ""},
		{"patients", "GET", "/patients/1", ""},
		{"patients", "GET", "/patients?q=ann", ""},
		{"patients", "GET", "/patients?ids=x", ""}, // a bad request still counts for its endpoint
		{"patients", "GET", "/nope", ""},
		{"cases", "GET", "/cases?status=new", ""},
		{"cases", "GET", "/cases", ""},
		{"cases", "GET", "/cases/7", ""},
		{"cases", "PATCH", "/cases/7", `{"case":{"status":"closed"}}`},
		{"cases", "GET", "/cases?patient_ids=1", ""},
		{"doctors", "GET", "/doctors?specialty=oncology", ""},
		{"appointments", "POST", "/appointments", `{"appointment":{}}`},
		{"documents", "GET", "/documents?case_ids=1", ""},
	}
	for _, r := range requests {
		do(t, svcs, r.service, r.method, r.target, r.body)
	}
	wantServices := map[string]int64{"patients": 6, "cases": 5, "doctors": 1, "appointments": 1, "documents": 1}
	if got := svcs.Snapshot(); !reflect.DeepEqual(got, wantServices) {
		t.Errorf("Snapshot %v, want %v", got, wantServices)
	}
	wantEndpoints := map[string]int64{
		"patients GET /patients?ids":        3,
		"patients GET /patients/:id":        1,
		"patients GET /patients?q":          1,
		"patients other":                    1,
		"cases GET /cases?status":           2,
		"cases GET /cases/:id":              1,
		"cases PATCH /cases/:id":            1,
		"cases GET /cases?patient_ids":      1,
		"doctors GET /doctors?specialty":    1,
		"appointments POST /appointments":   1,
		"documents GET /documents?case_ids": 1,
	}
	if got := svcs.EndpointSnapshot(); !reflect.DeepEqual(got, wantEndpoints) {
		t.Errorf("EndpointSnapshot %v\nwant %v", got, wantEndpoints)
	}
	if got := svcs.Requests("patients"); got != 6 {
		t.Errorf("Requests(patients) = %d, want 6", got)
	}
	if got := svcs.Requests("billing"); got != 0 {
		t.Errorf("Requests(billing) = %d, want 0", got)
	}
	for _, name := range ServiceNames() {
		if n := svcs.InFlight(name); n != 0 {
			t.Errorf("InFlight(%s) = %d after all requests returned", name, n)
		}
	}
	svcs.ResetCounts()
	if got, got2 := svcs.Snapshot(), svcs.EndpointSnapshot(); len(got) != 0 || len(got2) != 0 {
		t.Errorf("after ResetCounts: %v, %v", got, got2)
	}
}

// TestLatency checks latency holds a request and that cancellation cuts it
// short, without timing anything: the latency is an hour, so a request that
// returns at all was cut short, and one that reaches the router was not held.
func TestLatency(t *testing.T) {
	newHeld := func(t *testing.T) (*Services, func() bool) {
		t.Helper()
		reached := make(chan struct{}, 100)
		svcs := newServices(t, Options{
			Latency: time.Hour,
			Middleware: func(_ string, next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached <- struct{}{}
					next.ServeHTTP(w, r)
				})
			},
		})
		return svcs, func() bool { return len(reached) > 0 }
	}
	serve := func(svcs *Services, ctx context.Context, service string) (*httptest.ResponseRecorder, chan struct{}) {
		h, _ := svcs.Handler(service)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/"+service+"/1", nil))
		}()
		return rec, done
	}
	waitDone := func(t *testing.T, done chan struct{}) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("handler did not return after its context ended")
		}
	}

	t.Run("already cancelled", func(t *testing.T) {
		svcs, reachedRouter := newHeld(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec, done := serve(svcs, ctx, "patients")
		waitDone(t, done)
		wantError(t, rec, http.StatusServiceUnavailable, "request cancelled")
		if reachedRouter() {
			t.Error("a cancelled request was served instead of waiting")
		}
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		svcs, reachedRouter := newHeld(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, done := serve(svcs, ctx, "cases")
		testsync.WaitFor(t, "the request to be in flight", func() bool { return svcs.InFlight("cases") == 1 })
		cancel()
		waitDone(t, done)
		if reachedRouter() {
			t.Error("the request reached the router despite an hour of latency")
		}
		if n := svcs.InFlight("cases"); n != 0 {
			t.Errorf("InFlight = %d after the request returned", n)
		}
		if n := svcs.Requests("cases"); n != 1 {
			t.Errorf("Requests = %d, want the cancelled request counted", n)
		}
	})

	t.Run("per service override", func(t *testing.T) {
		svcs, reachedRouter := newHeld(t)
		svcs.SetLatency("patients", 0)
		if got := svcs.Latency("cases"); got != time.Hour {
			t.Errorf("Latency(cases) = %v, want the Options latency", got)
		}
		rec, done := serve(svcs, context.Background(), "patients")
		waitDone(t, done)
		wantStatus(t, rec, http.StatusOK)
		if !reachedRouter() {
			t.Error("request did not reach the router")
		}

		svcs.SetLatency("", time.Millisecond)
		for _, name := range ServiceNames() {
			if got := svcs.Latency(name); got != time.Millisecond {
				t.Errorf("Latency(%s) = %v after SetLatency(\"\")", name, got)
			}
		}
		rec, done = serve(svcs, context.Background(), "doctors")
		waitDone(t, done)
		wantStatus(t, rec, http.StatusOK)
	})
}
