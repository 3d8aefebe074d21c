package loaders

import (
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/doctors"
)

// Doctor converts a doctors-service row to its GraphQL model.
func Doctor(d doctors.Doctor) *model.Doctor {
	return &model.Doctor{
		ID:        int(d.ID),
		ClinicID:  int(d.ClinicID),
		Name:      d.Name,
		Specialty: d.Specialty,
		Rating:    d.Rating,
	}
}
