// Package cases is the typed client for the cases service: paged listing,
// batch and single reads, cases by patient, and updates. It knows nothing of
// GraphQL.
package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stacker/stacker/upstream"
)

// Statuses of a case.
const (
	StatusNew                 = "new"
	StatusInReview            = "in_review"
	StatusWaitingForDocuments = "waiting_for_documents"
	StatusClosed              = "closed"
)

// Priorities of a case.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Case is a case as the service sends it. AssigneeID is nil while the case
// is unassigned.
type Case struct {
	ID         int64     `json:"id"`
	PatientID  int64     `json:"patient_id"`
	AssigneeID *int64    `json:"assignee_id"`
	Specialty  string    `json:"specialty"`
	Status     string    `json:"status"`   // one of the Status constants
	Priority   string    `json:"priority"` // one of the Priority constants
	Summary    string    `json:"summary"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ListParams filters and pages List. Zero values are not sent, leaving the
// service's defaults (all statuses, any assignee, first page, its page
// size); the service allows at most 100 per page.
type ListParams struct {
	Statuses   []string
	AssigneeID *int64
	Page       int
	PerPage    int
}

// Page is one page of List.
type Page struct {
	Cases []Case `json:"cases"`
	Meta  Meta   `json:"meta"`
}

// Meta describes a page: Total counts every matching case.
type Meta struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

// UpdateParams changes a case. Nil fields are left out of the request and
// stay as they are.
type UpdateParams struct {
	Status   *string
	Priority *string
	// Assignee is nil to leave the assignee alone, Assign(id) to set it and
	// Unassign() to clear it (sent as "assignee_id": null).
	Assignee *AssigneeChange
}

// AssigneeChange sets (ID non-nil) or clears (ID nil) a case's assignee.
type AssigneeChange struct {
	ID *int64
}

// Assign returns the change that assigns the case to staff member id.
func Assign(id int64) *AssigneeChange { return &AssigneeChange{ID: &id} }

// Unassign returns the change that leaves the case unassigned.
func Unassign() *AssigneeChange { return &AssigneeChange{} }

// Client calls the cases service. It is safe for concurrent use.
type Client struct {
	svc *upstream.Service
}

// New returns a client for the cases service at baseURL, sending through the
// shared hc (see upstream.NewHTTPClient).
func New(baseURL string, hc *http.Client, opts ...upstream.Option) (*Client, error) {
	svc, err := upstream.NewService("cases", baseURL, hc, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{svc: svc}, nil
}

// Service is the upstream service this client calls, for its guard's
// state (upstream.Service.GuardStats).
func (c *Client) Service() *upstream.Service { return c.svc }

// List returns one page of cases matching p.
func (c *Client) List(ctx context.Context, p ListParams) (Page, error) {
	query := url.Values{}
	if len(p.Statuses) > 0 {
		query.Set("status", upstream.JoinValues(p.Statuses))
	}
	if p.AssigneeID != nil {
		query.Set("assignee_id", strconv.FormatInt(*p.AssigneeID, 10))
	}
	if p.Page > 0 {
		query.Set("page", strconv.Itoa(p.Page))
	}
	if p.PerPage > 0 {
		query.Set("per_page", strconv.Itoa(p.PerPage))
	}
	var page Page
	if err := c.svc.Get(ctx, "/cases", query, &page); err != nil {
		return Page{}, fmt.Errorf("cases: list: %w", err)
	}
	return page, nil
}

// CasesByIDs returns the cases with the given ids, in any order, unknown ids
// left out. At most upstream.MaxIDs ids; none makes no call.
func (c *Client) CasesByIDs(ctx context.Context, ids []int64) ([]Case, error) {
	cs, err := upstream.GetByIDs[Case](ctx, c.svc, "/cases", "ids", ids, "cases")
	if err != nil {
		return nil, fmt.Errorf("cases: by ids: %w", err)
	}
	return cs, nil
}

// Case returns one case; an unknown id is upstream.ErrNotFound.
func (c *Client) Case(ctx context.Context, id int64) (Case, error) {
	cs, err := upstream.GetOne[Case](ctx, c.svc, casePath(id), "case")
	if err != nil {
		return Case{}, fmt.Errorf("cases: get %d: %w", id, err)
	}
	return cs, nil
}

// CasesByPatientIDs returns the cases of the given patients, in any order.
// At most upstream.MaxIDs patient ids; none makes no call.
func (c *Client) CasesByPatientIDs(ctx context.Context, patientIDs []int64) ([]Case, error) {
	cs, err := upstream.GetByIDs[Case](ctx, c.svc, "/cases", "patient_ids", patientIDs, "cases")
	if err != nil {
		return nil, fmt.Errorf("cases: by patient ids: %w", err)
	}
	return cs, nil
}

// CasesByAssigneeIDs returns every case assigned to the given staff
// members, in any order, whatever their status. At most upstream.MaxIDs
// staff ids; none makes no call.
func (c *Client) CasesByAssigneeIDs(ctx context.Context, staffIDs []int64) ([]Case, error) {
	cs, err := upstream.GetByIDs[Case](ctx, c.svc, "/cases", "assignee_ids", staffIDs, "cases")
	if err != nil {
		return nil, fmt.Errorf("cases: by assignee ids: %w", err)
	}
	return cs, nil
}

type updateBody struct {
	Case updateCase `json:"case"`
}

type updateCase struct {
	Status     *string        `json:"status,omitempty"`
	AssigneeID *assigneeValue `json:"assignee_id,omitempty"`
	Priority   *string        `json:"priority,omitempty"`
}

// assigneeValue is an assignee_id that is sent, as a number or null.
type assigneeValue struct{ id *int64 }

func (a *assigneeValue) MarshalJSON() ([]byte, error) { return json.Marshal(a.id) }

// Update changes a case and returns it as updated. It is sent once, never
// retried; an unknown id is upstream.ErrNotFound and a refused change an
// *upstream.ValidationError.
func (c *Client) Update(ctx context.Context, id int64, p UpdateParams) (Case, error) {
	body := updateBody{Case: updateCase{Status: p.Status, Priority: p.Priority}}
	if p.Assignee != nil {
		body.Case.AssigneeID = &assigneeValue{id: p.Assignee.ID}
	}
	cs, err := upstream.SendOne[Case](ctx, c.svc, http.MethodPatch, casePath(id), body, "case")
	if err != nil {
		return Case{}, fmt.Errorf("cases: update %d: %w", id, err)
	}
	return cs, nil
}

// CreateParams opens a case. Priority "" leaves the service's default.
type CreateParams struct {
	PatientID int64
	Specialty string
	Summary   string
	Priority  string
}

type createBody struct {
	Case createCase `json:"case"`
}

type createCase struct {
	PatientID int64  `json:"patient_id"`
	Specialty string `json:"specialty"`
	Summary   string `json:"summary"`
	Priority  string `json:"priority,omitempty"`
}

// Create opens a case and returns it. It is sent once, never retried; a
// refusal (an unknown patient included) is an *upstream.ValidationError.
func (c *Client) Create(ctx context.Context, p CreateParams) (Case, error) {
	body := createBody{Case: createCase(p)}
	cs, err := upstream.SendOne[Case](ctx, c.svc, http.MethodPost, "/cases", body, "case")
	if err != nil {
		return Case{}, fmt.Errorf("cases: create: %w", err)
	}
	return cs, nil
}

func casePath(id int64) string { return "/cases/" + strconv.FormatInt(id, 10) }

// Note is a staff member's note on a case, as the service sends it.
type Note struct {
	ID        int64     `json:"id"`
	CaseID    int64     `json:"case_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// NotesByCaseIDs returns the notes of the given cases, in any order. At
// most upstream.MaxIDs case ids; none makes no call.
func (c *Client) NotesByCaseIDs(ctx context.Context, caseIDs []int64) ([]Note, error) {
	ns, err := upstream.GetByIDs[Note](ctx, c.svc, "/notes", "case_ids", caseIDs, "notes")
	if err != nil {
		return nil, fmt.Errorf("cases: notes by case ids: %w", err)
	}
	return ns, nil
}

// NoteParams is a note to add: its text and the staff member writing it.
type NoteParams struct {
	Body     string
	AuthorID int64
}

type noteBody struct {
	Note noteFields `json:"note"`
}

type noteFields struct {
	Body     string `json:"body"`
	AuthorID int64  `json:"author_id"`
}

// AddNote adds a note to case caseID and returns it. It is sent once, never
// retried; an unknown case is upstream.ErrNotFound and a refused note (a
// blank or too long body, an unknown author) an *upstream.ValidationError.
func (c *Client) AddNote(ctx context.Context, caseID int64, p NoteParams) (Note, error) {
	body := noteBody{Note: noteFields(p)}
	n, err := upstream.SendOne[Note](ctx, c.svc, http.MethodPost, casePath(caseID)+"/notes", body, "note")
	if err != nil {
		return Note{}, fmt.Errorf("cases: add note to %d: %w", caseID, err)
	}
	return n, nil
}
