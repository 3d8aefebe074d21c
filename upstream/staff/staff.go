// Package staff is the typed client for the staff service: batch reads of
// staff members. It knows nothing of GraphQL.
package staff

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stacker/stacker/upstream"
)

// Roles of a staff member.
const (
	RoleCaseManager    = "case_manager"
	RoleMedicalAdvisor = "medical_advisor"
	RoleAdmin          = "admin"
)

// Member is a staff member as the service sends it.
type Member struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"` // one of the Role constants
}

// Client calls the staff service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the staff service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("staff", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// StaffByIDs returns the staff members with the given ids, in any order,
// unknown ids left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) StaffByIDs(ctx context.Context, ids []int64) ([]Member, error) {
	ms, err := upstream.GetByIDs[Member](ctx, c.svc, "/staff", "ids", ids, "staff")
	if err != nil {
		return nil, fmt.Errorf("staff: by ids: %w", err)
	}
	return ms, nil
}
