// Package insurers is the typed client for the insurers service: batch
// reads of insurers. It knows nothing of GraphQL.
package insurers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stacker/stacker/upstream"
)

// Kinds of insurer.
const (
	KindPublic  = "public"
	KindPrivate = "private"
)

// Insurer is an insurer as the service sends it.
type Insurer struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"` // KindPublic or KindPrivate
}

// Client calls the insurers service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the insurers service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("insurers", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// InsurersByIDs returns the insurers with the given ids, in any order,
// unknown ids left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) InsurersByIDs(ctx context.Context, ids []int64) ([]Insurer, error) {
	is, err := upstream.GetByIDs[Insurer](ctx, c.svc, "/insurers", "ids", ids, "insurers")
	if err != nil {
		return nil, fmt.Errorf("insurers: by ids: %w", err)
	}
	return is, nil
}
