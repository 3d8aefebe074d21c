package loaders

import (
	"context"
	"fmt"
)

// byID builds the loader of an entity by id: fetch is the service's batch
// lookup, whose rows are converted and keyed by their own id (never by their
// position: the services do not promise an order, nor a row for every id),
// and an id with no row is a not-found error naming what it is.
func byID[R, V any](service, what string, o Options,
	fetch func(context.Context, []int64) ([]R, error), convert func(R) V, key func(V) int,
) *Loader[V] {
	return newLoader(service, o, func(ctx context.Context, ids []int) (map[int]V, error) {
		rows, err := fetch(ctx, ids64(ids))
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", service, err)
		}
		m := make(map[int]V, len(rows))
		for i := range rows {
			v := convert(rows[i])
			m[key(v)] = v
		}
		return m, nil
	}, notFound[V](service, what))
}
