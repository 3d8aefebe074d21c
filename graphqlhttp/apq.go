package graphqlhttp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/v9"
)

// NewMemoryAPQCache keeps automatic persisted queries in this process: fine
// for one replica or development; replicas behind a load balancer should
// share a RedisAPQCache, or a client would register on one and miss on the
// next.
func NewMemoryAPQCache(size int) graphql.Cache[string] {
	return lru.New[string](size)
}

// RedisAPQCache keeps automatic persisted queries in Redis, shared by every
// replica. A Redis that is slow or down degrades to a cache miss (the client
// then sends the full query, which Stacker runs), never to a failed request.
type RedisAPQCache struct {
	client  redis.UniversalClient
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
}

var _ graphql.Cache[string] = (*RedisAPQCache)(nil)

// NewRedisAPQCache opens a cache on the Redis at url (redis://host:port/db).
func NewRedisAPQCache(url string, log *slog.Logger) (*RedisAPQCache, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RedisAPQCache{
		client:  redis.NewClient(opts),
		prefix:  "stacker:apq:",
		ttl:     24 * time.Hour,
		timeout: 200 * time.Millisecond,
		log:     log,
	}, nil
}

// Ping checks that Redis answers.
func (c *RedisAPQCache) Ping(ctx context.Context) error { return c.client.Ping(ctx).Err() }

// Close closes the connections.
func (c *RedisAPQCache) Close() error { return c.client.Close() }

// Get implements graphql.Cache.
func (c *RedisAPQCache) Get(ctx context.Context, hash string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	v, err := c.client.Get(ctx, c.prefix+hash).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.log.Warn("apq: redis get failed; treating as a miss", "error", err)
		}
		return "", false
	}
	return v, true
}

// Add implements graphql.Cache.
func (c *RedisAPQCache) Add(ctx context.Context, hash, query string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	if err := c.client.Set(ctx, c.prefix+hash, query, c.ttl).Err(); err != nil {
		c.log.Warn("apq: redis set failed; the query is not shared", "error", err)
	}
}
