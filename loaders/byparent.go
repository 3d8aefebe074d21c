package loaders

import (
	"context"
	"fmt"
)

// byParent builds the loader of a one-to-many relation: fetch is the
// service's read by parent ids (GET /appointments?case_ids=), whose rows are
// converted and grouped by their foreign key fk; a parent with no rows gets
// an empty list, never a not-found error. Each list keeps the service's
// order unless order sorts it.
func byParent[R, V any](service, parent string, o Options,
	fetch func(context.Context, []int64) ([]R, error), convert func(R) V, fk func(V) int,
) *Loader[[]V] {
	return newLoader(service, o, func(ctx context.Context, ids []int) (map[int][]V, error) {
		rows, err := fetch(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading %s by %s: %w", service, parent, err)
		}
		list := make([]V, len(rows))
		for i := range rows {
			list[i] = convert(rows[i])
		}
		return group(len(ids), list, fk), nil
	}, none[V])
}
