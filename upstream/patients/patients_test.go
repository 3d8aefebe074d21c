package patients_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/patients"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

const ann = `{"id":1,"first_name":"Ann","last_name":"Lee","date_of_birth":"1980-02-29","email":"ann@example.com",
	"phone":"+44 20 7946 0000","insurer_id":3,"city":"Leeds","created_at":"2024-05-01T10:00:00Z"}`

var annWant = patients.Patient{
	ID: 1, FirstName: "Ann", LastName: "Lee", DateOfBirth: "1980-02-29", Email: "ann@example.com",
	Phone: "+44 20 7946 0000", InsurerID: 3, City: "Leeds", CreatedAt: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
}

func TestClient(t *testing.T) {
	type C = *patients.Client
	upstreamtest.Run(t, patients.New, []upstreamtest.Case[C]{
		{
			Name:   "PatientsByIDs",
			Body:   `{"patients":[` + ann + `,{"id":2,"first_name":"Bo"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.PatientsByIDs(ctx, []int64{1, 2, 99}) },
			Method: "GET", Path: "/patients", Query: url.Values{"ids": {"1,2,99"}},
			Want: []patients.Patient{annWant, {ID: 2, FirstName: "Bo"}},
		},
		{
			Name:   "PatientsByInsurerIDs",
			Body:   `{"patients":[` + ann + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.PatientsByInsurerIDs(ctx, []int64{3}) },
			Method: "GET", Path: "/patients", Query: url.Values{"insurer_ids": {"3"}},
			Want: []patients.Patient{annWant},
		},
		{
			Name:   "PatientsByIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.PatientsByIDs(ctx, nil) },
			NoCall: true, Want: []patients.Patient(nil),
		},
		{
			Name: "PatientsByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.PatientsByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "patients: by ids: ",
		},
		{
			Name:   "PatientsByIDs 400",
			Status: 400, Body: `{"error":"too many ids"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.PatientsByIDs(ctx, []int64{1}) },
			Method: "GET", Path: "/patients", Query: url.Values{"ids": {"1"}},
			WantErr: upstream.ErrBadRequest,
		},
		{
			Name:   "Patient",
			Body:   `{"patient":` + ann + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Patient(ctx, 1) },
			Method: "GET", Path: "/patients/1",
			Want: annWant,
		},
		{
			Name:   "Patient not found",
			Status: 404, Body: `{"error":"not found"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Patient(ctx, 42) },
			Method: "GET", Path: "/patients/42",
			WantErr: upstream.ErrNotFound, WantErrPrefix: "patients: get 42: upstream patients: GET ",
		},
		{
			Name:   "Search",
			Body:   `{"patients":[` + ann + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Search(ctx, "ann lee", 10) },
			Method: "GET", Path: "/patients", Query: url.Values{"q": {"ann lee"}, "limit": {"10"}},
			Want: []patients.Patient{annWant},
		},
		{
			Name:   "Search without limit leaves it to the service",
			Body:   `{"patients":[]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Search(ctx, "x&y=1", 0) },
			Method: "GET", Path: "/patients", Query: url.Values{"q": {"x&y=1"}},
			Want: []patients.Patient{},
		},
	})
}
