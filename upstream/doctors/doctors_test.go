package doctors_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/doctors"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

const house = `{"id":4,"name":"Dr. House","specialty":"diagnostics","clinic_id":2,"rating":4.75}`

var houseWant = doctors.Doctor{ID: 4, Name: "Dr. House", Specialty: "diagnostics", ClinicID: 2, Rating: 4.75}

func TestClient(t *testing.T) {
	type C = *doctors.Client
	upstreamtest.Run(t, doctors.New, []upstreamtest.Case[C]{
		{
			Name:   "DoctorsByIDs",
			Body:   `{"doctors":[` + house + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.DoctorsByIDs(ctx, []int64{4}) },
			Method: "GET", Path: "/doctors", Query: url.Values{"ids": {"4"}},
			Want: []doctors.Doctor{houseWant},
		},
		{
			Name:   "DoctorsByIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.DoctorsByIDs(ctx, nil) },
			NoCall: true, Want: []doctors.Doctor(nil),
		},
		{
			Name: "DoctorsByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.DoctorsByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "doctors: by ids: ",
		},
		{
			Name:   "DoctorsByClinicIDs",
			Body:   `{"doctors":[` + house + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.DoctorsByClinicIDs(ctx, []int64{2, 2}) },
			Method: "GET", Path: "/doctors", Query: url.Values{"clinic_ids": {"2"}},
			Want: []doctors.Doctor{houseWant},
		},
		{
			Name:   "BySpecialty",
			Body:   `{"doctors":[` + house + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.BySpecialty(ctx, "diagnostics", 5) },
			Method: "GET", Path: "/doctors", Query: url.Values{"specialty": {"diagnostics"}, "limit": {"5"}},
			Want: []doctors.Doctor{houseWant},
		},
		{
			Name:   "BySpecialty bad limit",
			Status: 400, Body: `{"error":"limit must be <= 50"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.BySpecialty(ctx, "cardiology", 500) },
			Method: "GET", Path: "/doctors", Query: url.Values{"specialty": {"cardiology"}, "limit": {"500"}},
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "doctors: by specialty: ",
		},
	})
}
