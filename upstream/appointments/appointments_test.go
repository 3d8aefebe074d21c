package appointments_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
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
		{
			Name:   "Cancel",
			Body:   `{"appointment":` + cancelled + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Cancel(ctx, 11) },
			Method: "PATCH", Path: "/appointments/11", ReqBody: `{"appointment":{"status":"cancelled"}}`,
			Want: cancelledWant,
		},
		{
			Name:   "Cancel not found",
			Status: 404, Body: `{"error":"not found"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Cancel(ctx, 40) },
			Method: "PATCH", Path: "/appointments/40", ReqBody: `{"appointment":{"status":"cancelled"}}`,
			WantErr: upstream.ErrNotFound, WantErrPrefix: "appointments: cancel 40: ",
		},
		{
			Name:   "Cancel refused",
			Status: 422, Body: `{"errors":{"status":["is already cancelled"]}}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Cancel(ctx, 11) },
			Method: "PATCH", Path: "/appointments/11", ReqBody: `{"appointment":{"status":"cancelled"}}`,
			WantErr: upstream.ErrBadRequest, WantErrPrefix: "appointments: cancel 11: ",
		},
		{
			Name:   "Cancel not retried on 503",
			Status: 503, Body: `{"error":"down"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Cancel(ctx, 11) },
			Method: "PATCH", Path: "/appointments/11", ReqBody: `{"appointment":{"status":"cancelled"}}`,
			WantErr: upstream.ErrUnavailable,
		},
		{
			Name:   "Reschedule sends UTC",
			Body:   `{"appointment":` + appt + `}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Reschedule(ctx, 11, startsAt) },
			Method: "PATCH", Path: "/appointments/11", ReqBody: `{"appointment":{"starts_at":"2024-07-01T09:15:00Z"}}`,
			Want: apptWant,
		},
		{
			Name:   "Reschedule not found",
			Status: 404, Body: `{"error":"not found"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Reschedule(ctx, 40, startsAt) },
			Method: "PATCH", Path: "/appointments/40", ReqBody: `{"appointment":{"starts_at":"2024-07-01T09:15:00Z"}}`,
			WantErr: upstream.ErrNotFound, WantErrPrefix: "appointments: reschedule 40: ",
		},
		{
			Name:   "Reschedule not retried on 503",
			Status: 503, Body: `{"error":"down"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.Reschedule(ctx, 11, startsAt) },
			Method: "PATCH", Path: "/appointments/11", ReqBody: `{"appointment":{"starts_at":"2024-07-01T09:15:00Z"}}`,
			WantErr: upstream.ErrUnavailable,
		},
	})
}

const cancelled = `{"id":11,"case_id":3,"doctor_id":4,"starts_at":"2024-07-01T09:15:00Z","status":"cancelled"}`

var cancelledWant = appointments.Appointment{ID: 11, CaseID: 3, DoctorID: 4,
	StartsAt: time.Date(2024, 7, 1, 9, 15, 0, 0, time.UTC), Status: appointments.StatusCancelled}

// TestPatchValidationError: a refused cancel or reschedule is the service's
// fields and messages, from one request.
func TestPatchValidationError(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		call func(context.Context, *appointments.Client) error
		want map[string][]string
	}{
		{"cancel", `{"errors":{"status":["is already cancelled"]}}`,
			func(ctx context.Context, c *appointments.Client) error { _, err := c.Cancel(ctx, 11); return err },
			map[string][]string{"status": {"is already cancelled"}}},
		{"reschedule", `{"errors":{"starts_at":["must be in the future"]}}`,
			func(ctx context.Context, c *appointments.Client) error {
				_, err := c.Reschedule(ctx, 11, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
				return err
			},
			map[string][]string{"starts_at": {"must be in the future"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := upstreamtest.New(t, 422, tc.body)
			c, err := appointments.New(srv.URL, upstreamtest.Client(t))
			if err != nil {
				t.Fatal(err)
			}
			var ve *upstream.ValidationError
			if err := tc.call(t.Context(), c); !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *upstream.ValidationError", err)
			}
			if ve.Service != "appointments" || !reflect.DeepEqual(ve.Fields, tc.want) {
				t.Errorf("ValidationError = %+v, want appointments %v", ve, tc.want)
			}
			if srv.Calls() != 1 {
				t.Errorf("calls = %d, want 1", srv.Calls())
			}
		})
	}
}
