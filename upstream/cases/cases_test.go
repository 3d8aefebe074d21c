package cases_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/cases"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

const (
	case3 = `{"id":3,"patient_id":1,"assignee_id":5,"specialty":"cardiology","status":"in_review","priority":"high",
		"summary":"Chest pain","created_at":"2024-05-01T10:00:00Z","updated_at":"2024-05-02T11:30:00Z"}`
	case4 = `{"id":4,"patient_id":1,"assignee_id":null,"specialty":"oncology","status":"new","priority":"normal",
		"summary":"Referral","created_at":"2024-05-03T10:00:00Z","updated_at":"2024-05-03T10:00:00Z"}`
)

const note8 = `{"id":8,"case_id":3,"author_id":5,"body":"Called the clinic","created_at":"2024-05-02T09:00:00Z"}`

var note8Want = cases.Note{ID: 8, CaseID: 3, AuthorID: 5, Body: "Called the clinic", CreatedAt: time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)}

func ptr[T any](v T) *T { return &v }

var (
	case3Want = cases.Case{ID: 3, PatientID: 1, AssigneeID: ptr(int64(5)), Specialty: "cardiology",
		Status: cases.StatusInReview, Priority: cases.PriorityHigh, Summary: "Chest pain",
		CreatedAt: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 5, 2, 11, 30, 0, 0, time.UTC)}
	case4Want = cases.Case{ID: 4, PatientID: 1, Specialty: "oncology",
		Status: cases.StatusNew, Priority: cases.PriorityNormal, Summary: "Referral",
		CreatedAt: time.Date(2024, 5, 3, 10, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 5, 3, 10, 0, 0, 0, time.UTC)}
)

func TestClient(t *testing.T) {
	type C = *cases.Client
	upstreamtest.Run(t, cases.New, []upstreamtest.Case[C]{
		{
			Name: "List with every filter",
			Body: `{"cases":[` + case3 + `],"meta":{"page":2,"per_page":1,"total":7}}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.List(ctx, cases.ListParams{
					Statuses:   []string{cases.StatusNew, cases.StatusInReview},
					AssigneeID: ptr(int64(5)), Page: 2, PerPage: 1,
				})
			},
			Method: "GET", Path: "/cases",
			Query: url.Values{"status": {"new,in_review"}, "assignee_id": {"5"}, "page": {"2"}, "per_page": {"1"}},
			Want:  cases.Page{Cases: []cases.Case{case3Want}, Meta: cases.Meta{Page: 2, PerPage: 1, Total: 7}},
		},
		{
			Name: "List sends each status once",
			Body: `{"cases":[],"meta":{"page":1,"per_page":25,"total":0}}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.List(ctx, cases.ListParams{Statuses: []string{cases.StatusClosed, cases.StatusNew, cases.StatusClosed, cases.StatusClosed}})
			},
			Method: "GET", Path: "/cases",
			Query: url.Values{"status": {"closed,new"}},
			Want:  cases.Page{Cases: []cases.Case{}, Meta: cases.Meta{Page: 1, PerPage: 25}},
		},
		{
			Name:   "List without filters sends no parameters",
			Body:   `{"cases":[],"meta":{"page":1,"per_page":25,"total":0}}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.List(ctx, cases.ListParams{}) },
			Method: "GET", Path: "/cases",
			Want: cases.Page{Cases: []cases.Case{}, Meta: cases.Meta{Page: 1, PerPage: 25}},
		},
		{
			Name:   "List bad status",
			Status: 400, Body: `{"error":"unknown status"}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.List(ctx, cases.ListParams{Statuses: []string{"lost"}})
			},
			Method: "GET", Path: "/cases", Query: url.Values{"status": {"lost"}},
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "cases: list: ",
		},
		{
			Name:   "CasesByIDs",
			Body:   `{"cases":[` + case4 + `,` + case3 + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.CasesByIDs(ctx, []int64{3, 4}) },
			Method: "GET", Path: "/cases", Query: url.Values{"ids": {"3,4"}},
			Want: []cases.Case{case4Want, case3Want},
		},
		{
			Name: "CasesByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.CasesByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "cases: by ids: ",
		},
		{
			Name:   "Case",
			Body:   `{"case":` + case4 + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Case(ctx, 4) },
			Method: "GET", Path: "/cases/4",
			Want: case4Want,
		},
		{
			Name:   "Case not found",
			Status: 404, Body: `{"error":"not found"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Case(ctx, 40) },
			Method: "GET", Path: "/cases/40",
			WantErr: upstream.ErrNotFound, WantErrPrefix: "cases: get 40: ",
		},
		{
			Name:   "CasesByPatientIDs",
			Body:   `{"cases":[` + case3 + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.CasesByPatientIDs(ctx, []int64{1, 2}) },
			Method: "GET", Path: "/cases", Query: url.Values{"patient_ids": {"1,2"}},
			Want: []cases.Case{case3Want},
		},
		{
			Name:   "CasesByPatientIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.CasesByPatientIDs(ctx, nil) },
			NoCall: true, Want: []cases.Case(nil),
		},
		{
			Name:   "CasesByAssigneeIDs",
			Body:   `{"cases":[` + case3 + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.CasesByAssigneeIDs(ctx, []int64{4, 2, 4}) },
			Method: "GET", Path: "/cases", Query: url.Values{"assignee_ids": {"4,2"}},
			Want: []cases.Case{case3Want},
		},
		{
			Name:   "Create",
			Status: 201, Body: `{"case":` + case4 + `}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Create(ctx, cases.CreateParams{PatientID: 1, Specialty: "oncology", Summary: "Referral", Priority: cases.PriorityNormal})
			},
			Method: "POST", Path: "/cases", ReqBody: `{"case":{"patient_id":1,"specialty":"oncology","summary":"Referral","priority":"normal"}}`,
			Want: case4Want,
		},
		{
			Name:   "Create refused",
			Status: 422, Body: `{"errors":{"patient_id":["must exist"]}}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Create(ctx, cases.CreateParams{PatientID: 999999, Specialty: "oncology", Summary: "Referral"})
			},
			Method: "POST", Path: "/cases", ReqBody: `{"case":{"patient_id":999999,"specialty":"oncology","summary":"Referral"}}`,
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "cases: create: ",
		},
		{
			Name:   "Create not retried on 503",
			Status: 503, Body: `{"error":"down"}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Create(ctx, cases.CreateParams{PatientID: 1, Specialty: "oncology", Summary: "Referral"})
			},
			Method: "POST", Path: "/cases", ReqBody: `{"case":{"patient_id":1,"specialty":"oncology","summary":"Referral"}}`,
			WantErr: upstream.ErrUnavailable,
		},
		{
			Name:   "NotesByCaseIDs",
			Body:   `{"notes":[` + note8 + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.NotesByCaseIDs(ctx, []int64{3, 4, 3}) },
			Method: "GET", Path: "/notes", Query: url.Values{"case_ids": {"3,4"}},
			Want: []cases.Note{note8Want},
		},
		{
			Name:   "NotesByCaseIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.NotesByCaseIDs(ctx, nil) },
			NoCall: true, Want: []cases.Note(nil),
		},
		{
			Name: "NotesByCaseIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.NotesByCaseIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "cases: notes by case ids: ",
		},
		{
			Name:   "AddNote",
			Status: 201, Body: `{"note":` + note8 + `}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.AddNote(ctx, 3, cases.NoteParams{Body: "Called the clinic", AuthorID: 5})
			},
			Method: "POST", Path: "/cases/3/notes", ReqBody: `{"note":{"body":"Called the clinic","author_id":5}}`,
			Want: note8Want,
		},
		{
			Name:   "AddNote refused",
			Status: 422, Body: `{"errors":{"body":["can't be blank"]}}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.AddNote(ctx, 3, cases.NoteParams{Body: " ", AuthorID: 5})
			},
			Method: "POST", Path: "/cases/3/notes", ReqBody: `{"note":{"body":" ","author_id":5}}`,
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "cases: add note to 3: ",
		},
		{
			Name:   "AddNote to an unknown case",
			Status: 404, Body: `{"error":"not found"}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.AddNote(ctx, 40, cases.NoteParams{Body: "x", AuthorID: 5})
			},
			Method: "POST", Path: "/cases/40/notes", ReqBody: `{"note":{"body":"x","author_id":5}}`,
			WantErr: upstream.ErrNotFound, WantErrPrefix: "cases: add note to 40: ",
		},
		{
			Name:   "AddNote not retried on 503",
			Status: 503, Body: `{"error":"down"}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.AddNote(ctx, 3, cases.NoteParams{Body: "x", AuthorID: 5})
			},
			Method: "POST", Path: "/cases/3/notes", ReqBody: `{"note":{"body":"x","author_id":5}}`,
			WantErr: upstream.ErrUnavailable,
		},
		{
			Name: "Update status and priority only",
			Body: `{"case":` + case3 + `}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Update(ctx, 3, cases.UpdateParams{Status: ptr(cases.StatusInReview), Priority: ptr(cases.PriorityHigh)})
			},
			Method: "PATCH", Path: "/cases/3", ReqBody: `{"case":{"status":"in_review","priority":"high"}}`,
			Want: case3Want,
		},
		{
			Name: "Update assigns",
			Body: `{"case":` + case3 + `}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Update(ctx, 3, cases.UpdateParams{Assignee: cases.Assign(5)})
			},
			Method: "PATCH", Path: "/cases/3", ReqBody: `{"case":{"assignee_id":5}}`,
			Want: case3Want,
		},
		{
			Name: "Update unassigns with null",
			Body: `{"case":` + case4 + `}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Update(ctx, 4, cases.UpdateParams{Assignee: cases.Unassign()})
			},
			Method: "PATCH", Path: "/cases/4", ReqBody: `{"case":{"assignee_id":null}}`,
			Want: case4Want,
		},
		{
			Name:   "Update with nothing set sends an empty case",
			Body:   `{"case":` + case4 + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Update(ctx, 4, cases.UpdateParams{}) },
			Method: "PATCH", Path: "/cases/4", ReqBody: `{"case":{}}`,
			Want: case4Want,
		},
		{
			Name:   "Update not found",
			Status: 404, Body: `{"error":"not found"}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Update(ctx, 40, cases.UpdateParams{Status: ptr(cases.StatusClosed)})
			},
			Method: "PATCH", Path: "/cases/40", ReqBody: `{"case":{"status":"closed"}}`,
			WantErr: upstream.ErrNotFound, WantErrPrefix: "cases: update 40: ",
		},
		{
			Name:   "Update not retried on 503",
			Status: 503,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.Update(ctx, 3, cases.UpdateParams{Status: ptr(cases.StatusClosed)})
			},
			Method: "PATCH", Path: "/cases/3", ReqBody: `{"case":{"status":"closed"}}`,
			WantErr: upstream.ErrUnavailable,
		},
	})
}

func TestAddNoteValidationError(t *testing.T) {
	srv := upstreamtest.New(t, 422, `{"errors":{"body":["is too long (maximum is 10000 characters)"]}}`)
	c, err := cases.New(srv.URL, upstreamtest.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddNote(context.Background(), 3, cases.NoteParams{Body: "x", AuthorID: 5})
	var ve *upstream.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *upstream.ValidationError", err)
	}
	want := map[string][]string{"body": {"is too long (maximum is 10000 characters)"}}
	if ve.Service != "cases" || !reflect.DeepEqual(ve.Fields, want) {
		t.Errorf("ValidationError = %+v, want cases %v", ve, want)
	}
	if srv.Calls() != 1 {
		t.Errorf("calls = %d, want 1", srv.Calls())
	}
}

func TestUpdateValidationError(t *testing.T) {
	srv := upstreamtest.New(t, 422, `{"errors":{"status":["is not included in the list"]}}`)
	c, err := cases.New(srv.URL, upstreamtest.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Update(context.Background(), 3, cases.UpdateParams{Status: ptr("lost")})
	var ve *upstream.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *upstream.ValidationError", err)
	}
	want := map[string][]string{"status": {"is not included in the list"}}
	if ve.Service != "cases" || !reflect.DeepEqual(ve.Fields, want) {
		t.Errorf("ValidationError = %+v, want cases %v", ve, want)
	}
	if srv.Calls() != 1 {
		t.Errorf("calls = %d, want 1", srv.Calls())
	}
}
