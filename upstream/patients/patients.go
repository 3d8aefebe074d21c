// Package patients is the typed client for the patients service: batch and
// single reads of patients, and text search. It knows nothing of GraphQL.
package patients

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stacker/stacker/upstream"
)

// Patient is a patient as the service sends it.
type Patient struct {
	ID          int64     `json:"id"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	DateOfBirth string    `json:"date_of_birth"` // YYYY-MM-DD
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	InsurerID   int64     `json:"insurer_id"`
	City        string    `json:"city"`
	CreatedAt   time.Time `json:"created_at"`
}

// Client calls the patients service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the patients service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("patients", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// PatientsByIDs returns the patients with the given ids, in any order,
// unknown ids left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) PatientsByIDs(ctx context.Context, ids []int64) ([]Patient, error) {
	ps, err := upstream.GetByIDs[Patient](ctx, c.svc, "/patients", "ids", ids, "patients")
	if err != nil {
		return nil, fmt.Errorf("patients: by ids: %w", err)
	}
	return ps, nil
}

// PatientsByInsurerIDs returns the patients of the given insurers, in any
// order. At most upstream.MaxIDs insurer ids; none makes no call.
func (c *Client) PatientsByInsurerIDs(ctx context.Context, insurerIDs []int64) ([]Patient, error) {
	ps, err := upstream.GetByIDs[Patient](ctx, c.svc, "/patients", "insurer_ids", insurerIDs, "patients")
	if err != nil {
		return nil, fmt.Errorf("patients: by insurer ids: %w", err)
	}
	return ps, nil
}

// Patient returns one patient; an unknown id is upstream.ErrNotFound.
func (c *Client) Patient(ctx context.Context, id int64) (Patient, error) {
	p, err := upstream.GetOne[Patient](ctx, c.svc, "/patients/"+strconv.FormatInt(id, 10), "patient")
	if err != nil {
		return Patient{}, fmt.Errorf("patients: get %d: %w", id, err)
	}
	return p, nil
}

// Search returns up to limit patients matching q (the service allows at most
// 50; 0 leaves the limit to the service).
func (c *Client) Search(ctx context.Context, q string, limit int) ([]Patient, error) {
	query := url.Values{"q": {q}}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	ps, err := upstream.GetList[Patient](ctx, c.svc, "/patients", query, "patients")
	if err != nil {
		return nil, fmt.Errorf("patients: search: %w", err)
	}
	return ps, nil
}
