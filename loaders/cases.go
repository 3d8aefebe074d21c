package loaders

import (
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
