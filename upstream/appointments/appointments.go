// Package appointments is the typed client for the appointments service:
// the appointments of a batch of cases, and booking, cancelling and
// rescheduling one. It knows nothing of GraphQL.
package appointments

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stacker/stacker/upstream"
)

// Statuses of an appointment.
const (
	StatusScheduled = "scheduled"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Appointment is an appointment as the service sends it.
type Appointment struct {
	ID       int64     `json:"id"`
	CaseID   int64     `json:"case_id"`
	DoctorID int64     `json:"doctor_id"`
	StartsAt time.Time `json:"starts_at"`
	Status   string    `json:"status"` // one of the Status constants
}

// CreateParams books a doctor for a case. StartsAt is sent in UTC.
type CreateParams struct {
	CaseID   int64
	DoctorID int64
	StartsAt time.Time
}

// Client calls the appointments service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the appointments service at baseURL, sending
// through the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("appointments", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// AppointmentsByCaseIDs returns the appointments of the given cases, in any
// order. At most upstream.MaxIDs case ids; none makes no call.
func (c *Client) AppointmentsByCaseIDs(ctx context.Context, caseIDs []int64) ([]Appointment, error) {
	as, err := upstream.GetByIDs[Appointment](ctx, c.svc, "/appointments", "case_ids", caseIDs, "appointments")
	if err != nil {
		return nil, fmt.Errorf("appointments: by case ids: %w", err)
	}
	return as, nil
}

// UpcomingByDoctorIDs returns the appointments of the given doctors that
// start at or after from, in any order. At most upstream.MaxIDs doctor ids;
// none makes no call.
func (c *Client) UpcomingByDoctorIDs(ctx context.Context, doctorIDs []int64, from time.Time) ([]Appointment, error) {
	where := url.Values{"starts_after": {from.UTC().Format(time.RFC3339)}}
	as, err := upstream.GetByIDsWhere[Appointment](ctx, c.svc, "/appointments", "doctor_ids", doctorIDs, where, "appointments")
	if err != nil {
		return nil, fmt.Errorf("appointments: upcoming by doctor ids: %w", err)
	}
	return as, nil
}

type createBody struct {
	Appointment createAppointment `json:"appointment"`
}

type createAppointment struct {
	CaseID   int64     `json:"case_id"`
	DoctorID int64     `json:"doctor_id"`
	StartsAt time.Time `json:"starts_at"`
}

// Create books an appointment. It is sent once, never retried; a refusal is
// an *upstream.ValidationError.
func (c *Client) Create(ctx context.Context, p CreateParams) (Appointment, error) {
	body := createBody{Appointment: createAppointment{
		CaseID: p.CaseID, DoctorID: p.DoctorID, StartsAt: p.StartsAt.UTC(),
	}}
	a, err := upstream.SendOne[Appointment](ctx, c.svc, http.MethodPost, "/appointments", body, "appointment")
	if err != nil {
		return Appointment{}, fmt.Errorf("appointments: create: %w", err)
	}
	return a, nil
}

// patchBody is PATCH /appointments/:id's body: one change at a time, the
// other field left out.
type patchBody struct {
	Appointment patchAppointment `json:"appointment"`
}

type patchAppointment struct {
	Status   string     `json:"status,omitempty"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
}

// Cancel calls an appointment off and returns it as cancelled. It is sent
// once, never retried; an unknown id is upstream.ErrNotFound and a refusal
// (already cancelled, completed) an *upstream.ValidationError.
func (c *Client) Cancel(ctx context.Context, id int64) (Appointment, error) {
	a, err := c.patch(ctx, id, patchAppointment{Status: StatusCancelled})
	if err != nil {
		return Appointment{}, fmt.Errorf("appointments: cancel %d: %w", id, err)
	}
	return a, nil
}

// Reschedule moves an appointment to startsAt, sent in UTC, and returns it
// as moved. It is sent once, never retried; an unknown id is
// upstream.ErrNotFound and a refusal (a start in the past, an appointment no
// longer scheduled) an *upstream.ValidationError.
func (c *Client) Reschedule(ctx context.Context, id int64, startsAt time.Time) (Appointment, error) {
	utc := startsAt.UTC()
	a, err := c.patch(ctx, id, patchAppointment{StartsAt: &utc})
	if err != nil {
		return Appointment{}, fmt.Errorf("appointments: reschedule %d: %w", id, err)
	}
	return a, nil
}

func (c *Client) patch(ctx context.Context, id int64, change patchAppointment) (Appointment, error) {
	path := "/appointments/" + strconv.FormatInt(id, 10)
	return upstream.SendOne[Appointment](ctx, c.svc, http.MethodPatch, path, patchBody{Appointment: change}, "appointment")
}
