package graphqlhttp

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodePersistedQueryNotFound asks the client to send the full document with
// its hash (Apollo's code, which Apollo Client and urql act on).
const CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"

// APQ serves automatic persisted queries: a client sends a document's
// SHA-256 instead of the document, and the document itself only when the
// hash is unknown. Unlike gqlgen's extension, a document is stored only once
// it has parsed and validated and only when it fits MaxEntryBytes, so the
// cache holds documents worth keeping and a flood of large or broken ones
// cannot fill it; every error carries a code.
type APQ struct {
	Cache graphql.Cache[string]
	// MaxEntryBytes is the largest document stored (default 64 KiB); a
	// larger one runs but is not stored.
	MaxEntryBytes int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*APQ)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (a *APQ) ExtensionName() string { return "AutomaticPersistedQuery" }

// Validate implements graphql.HandlerExtension.
func (a *APQ) Validate(graphql.ExecutableSchema) error {
	if a.Cache == nil {
		return errors.New("apq: no cache")
	}
	if a.MaxEntryBytes <= 0 {
		a.MaxEntryBytes = 64 << 10
	}
	return nil
}

// apqStat is the key of the registration waiting for validation in the
// operation's stats.
const apqStat = "stacker.apq"

type apqRegistration struct{ hash, query string }

// MutateOperationParameters resolves a hash, or checks a document sent with
// its hash and notes it for registration once it validates.
func (a *APQ) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	raw, ok := p.Extensions["persistedQuery"]
	if !ok || raw == nil {
		return nil
	}
	pq, ok := raw.(map[string]any)
	if !ok {
		return limitError(CodeBadRequest, "extensions.persistedQuery must be an object with version and sha256Hash")
	}
	if v, _ := intValue(pq["version"]); v != 1 {
		return limitError(CodeBadRequest, "unsupported persisted query version: only version 1 is supported")
	}
	hash, _ := pq["sha256Hash"].(string)
	if len(hash) != sha256.Size*2 {
		return limitError(CodeBadRequest, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
	}
	if p.Query == "" {
		q, ok := a.Cache.Get(ctx, hash)
		if !ok {
			return limitError(CodePersistedQueryNotFound, "PersistedQueryNotFound")
		}
		p.Query = q
		return nil
	}
	if sum := sha256.Sum256([]byte(p.Query)); hex.EncodeToString(sum[:]) != hash {
		return limitError(CodeBadRequest, "the persisted query's sha256Hash does not match the query")
	}
	if len(p.Query) <= a.MaxEntryBytes {
		if oc := graphql.GetOperationContext(ctx); oc != nil {
			oc.Stats.SetExtension(apqStat, apqRegistration{hash: hash, query: p.Query})
		}
	}
	return nil
}

// MutateOperationContext runs once the document has parsed and validated
// and its variables have coerced: only then is it stored.
func (a *APQ) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if reg, ok := rc.Stats.GetExtension(apqStat).(apqRegistration); ok {
		a.Cache.Add(ctx, reg.hash, reg.query)
	}
	return nil
}

// MemoryAPQCache keeps automatic persisted queries in this process, least
// recently used first out, bounded by the bytes of the documents it holds:
// fine for one replica or development; replicas behind a load balancer
// should share a RedisAPQCache, or a client would register on one and miss
// on the next.
type MemoryAPQCache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, string]
	bytes    int
	maxBytes int
}

var _ graphql.Cache[string] = (*MemoryAPQCache)(nil)

// NewMemoryAPQCache returns a cache holding at most maxBytes of documents.
func NewMemoryAPQCache(maxBytes int) *MemoryAPQCache {
	c := &MemoryAPQCache{maxBytes: maxBytes}
	// The count bound is never the one reached: even one-byte documents
	// with their 64-byte hashes pass the byte bound first.
	c.lru, _ = simplelru.NewLRU(max(maxBytes/64, 1), func(k, v string) { c.bytes -= entrySize(k, v) })
	return c
}

func entrySize(hash, query string) int { return len(hash) + len(query) }

// Bytes is what the cache holds now.
func (c *MemoryAPQCache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Get implements graphql.Cache.
func (c *MemoryAPQCache) Get(_ context.Context, hash string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(hash)
}

// Add implements graphql.Cache.
func (c *MemoryAPQCache) Add(_ context.Context, hash, query string) {
	size := entrySize(hash, query)
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Contains(hash) {
		c.lru.Get(hash) // same hash, same document: only its recency changes
		return
	}
	c.lru.Add(hash, query)
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.lru.RemoveOldest()
	}
}

// RedisAPQCache keeps automatic persisted queries in Redis, shared by every
// replica. A Redis that is slow or down degrades to a cache miss (the client
// then sends the full query, which Stacker runs), never to a failed request.
//
// The documents it may write are bounded in bytes: a counter shared by the
// replicas admits at most MaxBytes of new documents per TTL window and
// starts afresh with the next window, when the oldest documents have
// expired; so Stacker's keys never hold more than twice MaxBytes.
type RedisAPQCache struct {
	client   redis.UniversalClient
	prefix   string
	ttl      time.Duration
	timeout  time.Duration
	maxBytes int
	add      *redis.Script
	log      *slog.Logger
}

var _ graphql.Cache[string] = (*RedisAPQCache)(nil)

// addSource stores a document unless the window's byte budget is spent.
//
//go:embed apq_add.lua
var addSource string

// NewRedisAPQCache opens a cache on the Redis at url (redis://host:port/db)
// that writes at most maxBytes of documents per day.
func NewRedisAPQCache(url string, maxBytes int, log *slog.Logger) (*RedisAPQCache, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RedisAPQCache{
		client:   redis.NewClient(opts),
		prefix:   "stacker:apq:",
		ttl:      24 * time.Hour,
		timeout:  200 * time.Millisecond,
		maxBytes: maxBytes,
		add:      redis.NewScript(addSource),
		log:      log,
	}, nil
}

// Ping checks that Redis answers.
func (c *RedisAPQCache) Ping(ctx context.Context) error { return c.client.Ping(ctx).Err() }

// Close closes the connections.
func (c *RedisAPQCache) Close() error { return c.client.Close() }

// Client is the cache's Redis client, for the gateway's other shared state
// (idempotency records) to use the same connections.
func (c *RedisAPQCache) Client() redis.UniversalClient { return c.client }

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
	size := entrySize(hash, query)
	stored, err := c.add.Run(ctx, c.client,
		[]string{c.prefix + hash, c.prefix + "bytes"},
		query, size, int(c.ttl/time.Second), c.maxBytes).Int()
	switch {
	case err != nil:
		c.log.Warn("apq: redis set failed; the query is not shared", "error", err)
	case stored == 0:
		c.log.Warn("apq: the shared cache's byte budget for today is spent; the query is not shared", "max_bytes", c.maxBytes)
	}
}
