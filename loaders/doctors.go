package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/doctors"
)

func doctorsByID(c *doctors.Client) fetchFunc[*model.Doctor] {
	return func(ctx context.Context, ids []int) (map[int]*model.Doctor, error) {
		rows, err := c.DoctorsByIDs(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading doctors: %w", err)
		}
		m := make(map[int]*model.Doctor, len(rows))
		for _, r := range rows {
			m[int(r.ID)] = Doctor(r)
		}
		return m, nil
	}
}

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
