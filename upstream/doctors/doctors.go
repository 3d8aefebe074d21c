// Package doctors is the typed client for the doctors service: batch reads
// of doctors and lookup by specialty. It knows nothing of GraphQL.
package doctors

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stacker/stacker/upstream"
)

// Doctor is a doctor as the service sends it.
type Doctor struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Specialty string  `json:"specialty"`
	ClinicID  int64   `json:"clinic_id"`
	Rating    float64 `json:"rating"`
}

// Client calls the doctors service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the doctors service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("doctors", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// DoctorsByIDs returns the doctors with the given ids, in any order, unknown
// ids left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) DoctorsByIDs(ctx context.Context, ids []int64) ([]Doctor, error) {
	ds, err := upstream.GetByIDs[Doctor](ctx, c.svc, "/doctors", "ids", ids, "doctors")
	if err != nil {
		return nil, fmt.Errorf("doctors: by ids: %w", err)
	}
	return ds, nil
}

// DoctorsByClinicIDs returns the doctors of the given clinics, in any
// order. At most upstream.MaxIDs clinic ids; none makes no call.
func (c *Client) DoctorsByClinicIDs(ctx context.Context, clinicIDs []int64) ([]Doctor, error) {
	ds, err := upstream.GetByIDs[Doctor](ctx, c.svc, "/doctors", "clinic_ids", clinicIDs, "doctors")
	if err != nil {
		return nil, fmt.Errorf("doctors: by clinic ids: %w", err)
	}
	return ds, nil
}

// BySpecialty returns up to limit doctors of a specialty (the service allows
// at most 50; 0 leaves the limit to the service).
func (c *Client) BySpecialty(ctx context.Context, specialty string, limit int) ([]Doctor, error) {
	query := url.Values{"specialty": {specialty}}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	ds, err := upstream.GetList[Doctor](ctx, c.svc, "/doctors", query, "doctors")
	if err != nil {
		return nil, fmt.Errorf("doctors: by specialty: %w", err)
	}
	return ds, nil
}
