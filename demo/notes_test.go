package demo

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stacker/stacker/events"
)

func TestNotesByCases(t *testing.T) {
	svcs := newServices(t, Options{})
	// A case with notes and one without, found in the seeded store.
	var with, without int64
	for id := int64(1); with == 0 || without == 0; id++ {
		switch n := len(svcs.store.NotesByCases([]int64{id})); {
		case n > 0 && with == 0:
			with = id
		case n == 0 && without == 0:
			without = id
		}
	}
	res := do(t, svcs, "cases", "GET", fmt.Sprintf("/notes?case_ids=%d,%d,999999", without, with), "")
	wantStatus(t, res, http.StatusOK)
	got := decode[struct{ Notes []Note }](t, res).Notes
	want := svcs.store.NotesByCases([]int64{with})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for i, n := range got {
		if n.CaseID != with || n.Body == "" || n.AuthorID < 1 || (i > 0 && n.ID <= got[i-1].ID) {
			t.Errorf("note %+v: want case %d, a body, an author, ascending ids", n, with)
		}
	}
	if svcs.store.NumNotes() == 0 {
		t.Error("no notes seeded")
	}

	bad := []struct{ name, target string }{
		{"malformed id", "/notes?case_ids=1,abc"},
		{"empty", "/notes?case_ids="},
		{"over the limit", "/notes?case_ids=" + strings.Repeat("1,", MaxIDs) + "1"},
		{"no selector", "/notes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, do(t, svcs, "cases", "GET", tc.target, ""), http.StatusBadRequest, "")
		})
	}
	wantError(t, do(t, svcs, "cases", "DELETE", "/notes?case_ids=1", ""), http.StatusMethodNotAllowed, "")
	// "/notes" without a selector is no endpoint's, so counts as other.
	if got := svcs.EndpointSnapshot()["cases GET /notes?case_ids"]; got != 4 {
		t.Errorf("notes reads counted %d, want 4", got)
	}
}

func TestAddNote(t *testing.T) {
	t.Run("201", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		n := svcs.store.NumNotes()
		before := svcs.store.NotesByCases([]int64{12})
		caseBefore, _ := svcs.store.Case(12)
		res := do(t, svcs, "cases", "POST", "/cases/12/notes", `{"note":{"body":"Patient called back","author_id":7}}`)
		wantStatus(t, res, http.StatusCreated)
		got := decode[struct{ Note Note }](t, res).Note
		want := Note{ID: int64(n + 1), CaseID: 12, AuthorID: 7, Body: "Patient called back", CreatedAt: testNow()}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		after := svcs.store.NotesByCases([]int64{12})
		if len(after) != len(before)+1 || after[len(after)-1] != want {
			t.Errorf("notes of case 12 = %+v, want the new note last", after)
		}
		if c, _ := svcs.store.Case(12); !reflect.DeepEqual(c, caseBefore) {
			t.Errorf("adding a note changed the case: %+v", c)
		}
		wantEv := []events.Event{{Type: events.TypeCaseNoteAdded, CaseID: 12, NoteID: want.ID, OccurredAt: testNow()}}
		if ev := rec.events(); !reflect.DeepEqual(ev, wantEv) {
			t.Errorf("events %+v, want %+v", ev, wantEv)
		}
		if svcs.EndpointSnapshot()["cases POST /cases/:id/notes"] != 1 {
			t.Errorf("endpoints %v", svcs.EndpointSnapshot())
		}
	})
	t.Run("a note of the longest length", func(t *testing.T) {
		svcs := newServices(t, Options{})
		body := strings.Repeat("é", MaxNoteBody) // counted in characters, not bytes
		wantStatus(t, do(t, svcs, "cases", "POST", "/cases/3/notes", `{"note":{"body":"`+body+`","author_id":7}}`), http.StatusCreated)
	})
	refused := []struct {
		name, target, body string
		status             int
		fields             []string
	}{
		{"unknown case", "/cases/999999/notes", `{"note":{"body":"x","author_id":7}}`, http.StatusNotFound, nil},
		{"case id zero", "/cases/0/notes", `{"note":{"body":"x","author_id":7}}`, http.StatusNotFound, nil},
		{"malformed case id", "/cases/abc/notes", `{"note":{"body":"x","author_id":7}}`, http.StatusBadRequest, nil},
		{"GET", "/cases/3/notes", "", http.StatusMethodNotAllowed, nil},
		{"no note", "/cases/3/notes", `{"body":"x"}`, http.StatusBadRequest, nil},
		{"empty body", "/cases/3/notes", `{"note":{"body":"","author_id":7}}`, http.StatusUnprocessableEntity, []string{"body"}},
		{"blank body", "/cases/3/notes", `{"note":{"body":" \n\t ","author_id":7}}`, http.StatusUnprocessableEntity, []string{"body"}},
		{"body too long", "/cases/3/notes", `{"note":{"body":"` + strings.Repeat("a", MaxNoteBody+1) + `","author_id":7}}`, http.StatusUnprocessableEntity, []string{"body"}},
		{"body not a string", "/cases/3/notes", `{"note":{"body":5,"author_id":7}}`, http.StatusUnprocessableEntity, []string{"body"}},
		{"unknown author", "/cases/3/notes", `{"note":{"body":"x","author_id":999999}}`, http.StatusUnprocessableEntity, []string{"author_id"}},
		{"no author", "/cases/3/notes", `{"note":{"body":"x"}}`, http.StatusUnprocessableEntity, []string{"author_id"}},
		{"both", "/cases/3/notes", `{"note":{"body":"","author_id":0}}`, http.StatusUnprocessableEntity, []string{"author_id", "body"}},
		// A note as large as the gateway lets through, escaped: still a
		// message for the user.
		{"a 6 MB body", "/cases/3/notes", `{"note":{"body":"` + strings.Repeat(`\u003c`, 1<<20) + `","author_id":7}}`, http.StatusUnprocessableEntity, []string{"body"}},
		{"over the request limit", "/cases/3/notes", `{"note":{"body":"` + strings.Repeat("a", maxNoteRequest) + `","author_id":7}}`, http.StatusBadRequest, nil},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each builds its own store
			var rec recorder
			svcs := newServices(t, Options{Publish: rec.publish})
			n := svcs.store.NumNotes()
			method := http.MethodPost
			if tc.body == "" {
				method = http.MethodGet
			}
			res := do(t, svcs, "cases", method, tc.target, tc.body)
			if tc.fields != nil {
				want422(t, res, tc.fields)
			} else {
				wantError(t, res, tc.status, "")
			}
			if svcs.store.NumNotes() != n || len(rec.events()) != 0 {
				t.Error("a refused note was stored or announced")
			}
		})
	}
}
