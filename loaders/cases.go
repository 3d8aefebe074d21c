package loaders

import (
	"cmp"
	"context"
	"slices"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/cases"
)

// Case converts a cases-service row to its GraphQL model.
func Case(c cases.Case) *model.Case {
	m := &model.Case{
		ID:        int(c.ID),
		PatientID: int(c.PatientID),
		Status:    model.EnumFromUpstream(c.Status, model.AllCaseStatus),
		Priority:  model.EnumFromUpstream(c.Priority, model.AllCasePriority),
		Specialty: c.Specialty,
		Summary:   c.Summary,
		CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt,
	}
	if c.AssigneeID != nil {
		a := int(*c.AssigneeID)
		m.AssigneeID = &a
	}
	return m
}

// casesByAssignee reads the cases of staff members, newest activity first.
func casesByAssignee(c *cases.Client) func(context.Context, []int64) ([]cases.Case, error) {
	return func(ctx context.Context, ids []int64) ([]cases.Case, error) {
		rows, err := c.CasesByAssigneeIDs(ctx, ids)
		slices.SortFunc(rows, func(a, b cases.Case) int {
			return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(b.ID, a.ID))
		})
		return rows, err
	}
}

// assigneeOf is the key of a case in CasesByAssignee; the service returns
// only assigned cases, so 0 (no such staff member) never matches a key.
func assigneeOf(c *model.Case) int {
	if c.AssigneeID == nil {
		return 0
	}
	return *c.AssigneeID
}
