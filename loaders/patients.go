package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/patients"
)

func patientsByID(c *patients.Client) fetchFunc[*model.Patient] {
	return func(ctx context.Context, ids []int) (map[int]*model.Patient, error) {
		rows, err := c.PatientsByIDs(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading patients: %w", err)
		}
		m := make(map[int]*model.Patient, len(rows))
		for i := range rows {
			p := Patient(rows[i])
			m[p.ID] = p
		}
		return m, nil
	}
}

// Patient converts a patients-service row to its GraphQL model.
func Patient(p patients.Patient) *model.Patient {
	return &model.Patient{
		ID:          int(p.ID),
		InsurerID:   int(p.InsurerID),
		FirstName:   p.FirstName,
		LastName:    p.LastName,
		DateOfBirth: p.DateOfBirth,
		Email:       p.Email,
		Phone:       p.Phone,
		City:        p.City,
		CreatedAt:   p.CreatedAt,
	}
}
