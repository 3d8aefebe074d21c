package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/cases"
)

func casesByPatient(c *cases.Client) fetchFunc[[]*model.Case] {
	return func(ctx context.Context, patientIDs []int) (map[int][]*model.Case, error) {
		rows, err := c.CasesByPatientIDs(ctx, ids64(patientIDs))
		if err != nil {
			return nil, fmt.Errorf("loading cases by patient: %w", err)
		}
		list := make([]*model.Case, len(rows))
		for i := range rows {
			list[i] = Case(rows[i])
		}
		return group(len(patientIDs), list, func(c *model.Case) int { return c.PatientID }), nil
	}
}

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
