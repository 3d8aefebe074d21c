// Package clinics is the typed client for the clinics service: batch reads
// of clinics. It knows nothing of GraphQL.
package clinics

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stacker/stacker/upstream"
)

// Clinic is a clinic as the service sends it.
type Clinic struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// Client calls the clinics service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the clinics service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("clinics", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// ClinicsByIDs returns the clinics with the given ids, in any order, unknown
// ids left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) ClinicsByIDs(ctx context.Context, ids []int64) ([]Clinic, error) {
	cs, err := upstream.GetByIDs[Clinic](ctx, c.svc, "/clinics", "ids", ids, "clinics")
	if err != nil {
		return nil, fmt.Errorf("clinics: by ids: %w", err)
	}
	return cs, nil
}
