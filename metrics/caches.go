package metrics

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
)

// CountCache returns c counting its lookups as hits and misses under the
// cache label name ("apq", "parsed_query"). A generic function, not a
// method: Go methods take no type parameters.
func CountCache[T any](m *Metrics, name string, c graphql.Cache[T]) graphql.Cache[T] {
	return &countedCache[T]{
		Cache: c,
		hits:  m.cacheRequests.WithLabelValues(name, "hit"),
		miss:  m.cacheRequests.WithLabelValues(name, "miss"),
	}
}

type countedCache[T any] struct {
	graphql.Cache[T]
	hits, miss prometheus.Counter
}

func (c *countedCache[T]) Get(ctx context.Context, key string) (T, bool) {
	v, ok := c.Cache.Get(ctx, key)
	if ok {
		c.hits.Inc()
	} else {
		c.miss.Inc()
	}
	return v, ok
}
