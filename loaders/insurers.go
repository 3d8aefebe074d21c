package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/insurers"
)

func insurersByID(c *insurers.Client) fetchFunc[*model.Insurer] {
	return func(ctx context.Context, ids []int) (map[int]*model.Insurer, error) {
		rows, err := c.InsurersByIDs(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading insurers: %w", err)
		}
		m := make(map[int]*model.Insurer, len(rows))
		for _, r := range rows {
			m[int(r.ID)] = &model.Insurer{
				ID:   int(r.ID),
				Name: r.Name,
				Kind: model.EnumFromUpstream(r.Kind, model.AllInsurerKind),
			}
		}
		return m, nil
	}
}
