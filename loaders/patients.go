package loaders

import (
	"cmp"
	"context"
	"slices"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/patients"
)

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

// patientsByInsurer reads the patients of insurers, in id order.
func patientsByInsurer(c *patients.Client) func(context.Context, []int64) ([]patients.Patient, error) {
	return func(ctx context.Context, ids []int64) ([]patients.Patient, error) {
		rows, err := c.PatientsByInsurerIDs(ctx, ids)
		slices.SortFunc(rows, func(a, b patients.Patient) int { return cmp.Compare(a.ID, b.ID) })
		return rows, err
	}
}
