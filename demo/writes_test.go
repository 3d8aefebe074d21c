package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stacker/stacker/events"
)

// recorder collects the events a Services publishes.
type recorder struct {
	mu  sync.Mutex
	got []events.Event
}

func (r *recorder) publish(_ context.Context, e events.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// want422 checks a 422 answer names exactly fields.
func want422(t *testing.T, rec *httptest.ResponseRecorder, fields []string) {
	t.Helper()
	wantStatus(t, rec, http.StatusUnprocessableEntity)
	got := decode[struct{ Errors map[string][]string }](t, rec)
	var names []string
	for f := range got.Errors {
		names = append(names, f)
	}
	slices.Sort(names)
	if !slices.Equal(names, fields) {
		t.Errorf("error fields %v, want %v (body %s)", names, fields, rec.Body.String())
	}
}

func TestCreateCase(t *testing.T) {
	t.Run("201", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		n := svcs.store.Counts()["cases"]
		res := do(t, svcs, "cases", "POST", "/cases",
			`{"case":{"patient_id":4,"specialty":"oncology","summary":"Second opinion on a biopsy","priority":"high"}}`)
		wantStatus(t, res, http.StatusCreated)
		got := decode[struct{ Case Case }](t, res).Case
		want := Case{ID: int64(n + 1), PatientID: 4, Specialty: "oncology", Status: StatusNew, Priority: PriorityHigh,
			Summary: "Second opinion on a biopsy", CreatedAt: testNow(), UpdatedAt: testNow()}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		if loc := res.Header().Get("Location"); loc != fmt.Sprintf("/cases/%d", want.ID) {
			t.Errorf("Location %q", loc)
		}
		if c, _ := svcs.store.Case(want.ID); !reflect.DeepEqual(c, want) {
			t.Errorf("stored %+v", c)
		}
		if cs := svcs.store.CasesByPatients([]int64{4}); cs[len(cs)-1].ID != want.ID {
			t.Errorf("cases of patient 4 do not end with the new case: %+v", cs)
		}
		list := decode[struct{ Cases []Case }](t, do(t, svcs, "cases", "GET", "/cases?status=new&per_page=1", ""))
		if len(list.Cases) != 1 || list.Cases[0].ID != want.ID {
			t.Errorf("the new case is not first in the list: %+v", list.Cases)
		}
		for _, target := range []string{fmt.Sprintf("/appointments?case_ids=%d", want.ID), fmt.Sprintf("/documents?case_ids=%d", want.ID)} {
			svc := strings.Split(target[1:], "?")[0]
			wantStatus(t, do(t, svcs, svc, "GET", target, ""), http.StatusOK)
		}
		// The new case takes appointments and documents.
		wantStatus(t, do(t, svcs, "appointments", "POST", "/appointments",
			fmt.Sprintf(`{"appointment":{"case_id":%d,"doctor_id":3,"starts_at":"2026-03-01T10:00:00Z"}}`, want.ID)), http.StatusCreated)
		if ev := rec.events(); len(ev) == 0 || ev[0].Type != events.TypeCaseCreated || ev[0].CaseID != want.ID {
			t.Errorf("events %+v, want case.created first", ev)
		}
	})
	t.Run("priority defaults to normal", func(t *testing.T) {
		svcs := newServices(t, Options{})
		res := do(t, svcs, "cases", "POST", "/cases", `{"case":{"patient_id":4,"specialty":"oncology","summary":"x"}}`)
		wantStatus(t, res, http.StatusCreated)
		if got := decode[struct{ Case Case }](t, res).Case; got.Priority != PriorityNormal {
			t.Errorf("priority %q", got.Priority)
		}
	})
	invalid := []struct {
		name, body string
		fields     []string
	}{
		{"unknown patient", `{"case":{"patient_id":999999,"specialty":"oncology","summary":"x"}}`, []string{"patient_id"}},
		{"patient id zero", `{"case":{"patient_id":0,"specialty":"oncology","summary":"x"}}`, []string{"patient_id"}},
		{"patient id a string", `{"case":{"patient_id":"4","specialty":"oncology","summary":"x"}}`, []string{"patient_id"}},
		{"unknown specialty", `{"case":{"patient_id":4,"specialty":"astrology","summary":"x"}}`, []string{"specialty"}},
		{"blank summary", `{"case":{"patient_id":4,"specialty":"oncology","summary":"  "}}`, []string{"summary"}},
		{"long summary", `{"case":{"patient_id":4,"specialty":"oncology","summary":"` + strings.Repeat("a", MaxSummary+1) + `"}}`, []string{"summary"}},
		{"unknown priority", `{"case":{"patient_id":4,"specialty":"oncology","summary":"x","priority":"whenever"}}`, []string{"priority"}},
		{"all missing", `{"case":{"note":"x"}}`, []string{"patient_id", "specialty", "summary"}},
	}
	for _, tc := range invalid {
		t.Run("422 "+tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			var rec recorder
			svcs := newServices(t, Options{Publish: rec.publish})
			n := svcs.store.Counts()["cases"]
			res := do(t, svcs, "cases", "POST", "/cases", tc.body)
			want422(t, res, tc.fields)
			if svcs.store.Counts()["cases"] != n || len(rec.events()) != 0 {
				t.Error("a rejected case was stored or announced")
			}
		})
	}
}
