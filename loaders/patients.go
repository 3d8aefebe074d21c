package loaders

import (
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
