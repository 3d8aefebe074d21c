package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/staff"
)

func staffByID(c *staff.Client) fetchFunc[*model.StaffMember] {
	return func(ctx context.Context, ids []int) (map[int]*model.StaffMember, error) {
		rows, err := c.StaffByIDs(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading staff: %w", err)
		}
		m := make(map[int]*model.StaffMember, len(rows))
		for _, r := range rows {
			m[int(r.ID)] = &model.StaffMember{
				ID:    int(r.ID),
				Name:  r.Name,
				Email: r.Email,
				Role:  model.EnumFromUpstream(r.Role, model.AllStaffRole),
			}
		}
		return m, nil
	}
}
