// Package documents is the typed client for the documents service: the
// documents of a batch of cases. It knows nothing of GraphQL.
package documents

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stacker/stacker/upstream"
)

// Kinds of document.
const (
	KindMedicalReport = "medical_report"
	KindImaging       = "imaging"
	KindLabResult     = "lab_result"
	KindOther         = "other"
)

// Document is a document as the service sends it.
type Document struct {
	ID         int64     `json:"id"`
	CaseID     int64     `json:"case_id"`
	Kind       string    `json:"kind"` // one of the Kind constants
	Title      string    `json:"title"`
	SizeBytes  int64     `json:"size_bytes"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// Client calls the documents service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the documents service at baseURL, sending through
// the shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("documents", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// DocumentsByCaseIDs returns the documents of the given cases, in any order.
// At most upstream.MaxIDs case ids; none makes no call.
func (c *Client) DocumentsByCaseIDs(ctx context.Context, caseIDs []int64) ([]Document, error) {
	ds, err := upstream.GetByIDs[Document](ctx, c.svc, "/documents", "case_ids", caseIDs, "documents")
	if err != nil {
		return nil, fmt.Errorf("documents: by case ids: %w", err)
	}
	return ds, nil
}
