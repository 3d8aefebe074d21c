package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/clinics"
)

func clinicsByID(c *clinics.Client) fetchFunc[*model.Clinic] {
	return func(ctx context.Context, ids []int) (map[int]*model.Clinic, error) {
		rows, err := c.ClinicsByIDs(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading clinics: %w", err)
		}
		m := make(map[int]*model.Clinic, len(rows))
		for _, r := range rows {
			m[int(r.ID)] = &model.Clinic{ID: int(r.ID), Name: r.Name, City: r.City}
		}
		return m, nil
	}
}
