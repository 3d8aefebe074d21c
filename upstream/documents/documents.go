// Package documents is the typed client for the documents service: the
// documents of a batch of cases. It knows nothing of GraphQL.
package documents

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
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
	// ContentType and SHA256 are the file's, as the service received it;
	// documents from before uploads streamed have neither.
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
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

// UploadParams is a new document and its file. File is read once, as the
// request is sent: it is streamed, never held (see Upload).
type UploadParams struct {
	CaseID      int64
	Kind        string // one of the Kind constants
	Title       string
	Filename    string
	ContentType string // the file's; empty sends application/octet-stream
	File        io.Reader
}

// Upload sends a new document as the Rails form the service takes, a
// multipart/form-data POST /documents with document[case_id],
// document[kind], document[title] and then document[file], streamed: the
// body is the fields, the file as File yields it, and the closing
// boundary, sent chunked while File is read and never retried (see
// upstream.Service.SendStream). A File that fails mid-way aborts the
// request, so the service sees a broken body and stores nothing; the
// error wraps File's. The service validates the fields before the file
// arrives: a 422 is a *upstream.ValidationError, an unknown case
// upstream.ErrNotFound.
func (c *Client) Upload(ctx context.Context, p UploadParams) (Document, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, f := range [...]struct{ name, value string }{
		{"document[case_id]", strconv.FormatInt(p.CaseID, 10)},
		{"document[kind]", p.Kind},
		{"document[title]", p.Title},
	} {
		if err := mw.WriteField(f.name, f.value); err != nil {
			return Document{}, fmt.Errorf("documents: upload: %w", err)
		}
	}
	ct := p.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "document[file]", "filename": p.Filename}))
	h.Set("Content-Type", ct)
	if _, err := mw.CreatePart(h); err != nil {
		return Document{}, fmt.Errorf("documents: upload: %w", err)
	}
	// The closing boundary multipart.Writer.Close would write, written by
	// hand so that the file can sit between the head and the tail.
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	body := io.MultiReader(&head, p.File, strings.NewReader(tail))
	d, err := upstream.SendStreamOne[Document](ctx, c.svc, http.MethodPost, "/documents", mw.FormDataContentType(), body, "document")
	if err != nil {
		return Document{}, fmt.Errorf("documents: upload to case %d: %w", p.CaseID, err)
	}
	return d, nil
}
