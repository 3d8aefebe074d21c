package appointments_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/appointments"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

const appt = `{"id":11,"case_id":3,"doctor_id":4,"starts_at":"2024-07-01T09:15:00Z","status":"scheduled"}`

var apptWant = appointments.Appointment{ID: 11, CaseID: 3, DoctorID: 4,
	StartsAt: time.Date(2024, 7, 1, 9, 15, 0, 0, time.UTC), Status: appointments.StatusScheduled}

func TestClient(t *testing.T) {
	type C = *appointments.Client
	// 11:15 in UTC+2 is 09:15Z: the client sends UTC.
	startsAt := time.Date(2024, 7, 1, 11, 15, 0, 0, time.FixedZone("CEST", 2*60*60))
	create := appointments.CreateParams{CaseID: 3, DoctorID: 4, StartsAt: startsAt}
	const createBody = `{"appointment":{"case_id":3,"doctor_id":4,"starts_at":"2024-07-01T09:15:00Z"}}`

	upstreamtest.Run(t, appointments.New, []upstreamtest.Case[C]{
		{
			Name:   "AppointmentsByCaseIDs",
			Body:   `{"appointments":[` + appt + `]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.AppointmentsByCaseIDs(ctx, []int64{3}) },
			Method: "GET", Path: "/appointments", Query: url.Values{"case_ids": {"3"}},
			Want: []appointments.Appointment{apptWant},
		},
		{
			Name:   "AppointmentsByCaseIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.AppointmentsByCaseIDs(ctx, nil) },
			NoCall: true, Want: []appointments.Appointment(nil),
		},
		{
			Name: "AppointmentsByCaseIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.AppointmentsByCaseIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "appointments: by case ids: ",
		},
		{
			Name: "UpcomingByDoctorIDs",
			Body: `{"appointments":[` + appt + `]}`,
			Call: func(ctx context.Context, c C) (any, error) {
				return c.UpcomingByDoctorIDs(ctx, []int64{4, 5}, startsAt)
			},
			Method: "GET", Path: "/appointments",
			Query: url.Values{"doctor_ids": {"4,5"}, "starts_after": {"2024-07-01T09:15:00Z"}},
			Want:  []appointments.Appointment{apptWant},
		},
		{
			Name:   "UpcomingByDoctorIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.UpcomingByDoctorIDs(ctx, nil, startsAt) },
			NoCall: true, Want: []appointments.Appointment(nil),
		},
		{
			Name:   "Create",
			Status: 201, Body: `{"appointment":` + appt + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Create(ctx, create) },
			Method: "POST", Path: "/appointments", ReqBody: createBody,
			Want: apptWant,
		},
		{
			Name:   "Create refused",
			Status: 422, Body: `{"errors":{"starts_at":["is in the past"]}}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Create(ctx, create) },
			Method: "POST", Path: "/appointments", ReqBody: createBody,
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "appointments: create: ",
		},
		{
			Name:   "Create not retried on 503",
			Status: 503, Body: `{"error":"down"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Create(ctx, create) },
			Method: "POST", Path: "/appointments", ReqBody: createBody,
			WantErr: upstream.ErrUnavailable,
		},
	})
}
