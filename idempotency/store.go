package idempotency

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Record is what a key holds: the fingerprint of the request that first
// used it and, once that request has finished, its response as the
// transport wrote it (JSON).
type Record struct {
	Fingerprint string          `json:"fp"`
	Done        bool            `json:"done"`
	Response    json.RawMessage `json:"response,omitempty"`
}

// Store keeps records, shared by the replicas that use it. Keys are
// already scoped to a caller; a store never interprets them.
type Store interface {
	// Claim records fp as in progress under key for lease unless the key
	// holds a record already, and returns that record; nil means the
	// caller now owns the key and must Complete or Release it.
	Claim(ctx context.Context, key, fp string, lease time.Duration) (*Record, error)
	// Complete stores the owner's finished record for ttl.
	Complete(ctx context.Context, key string, r Record, ttl time.Duration) error
	// Release forgets an owner's claim, so the next request with the key
	// runs (the result was not worth keeping).
	Release(ctx context.Context, key string) error
}

// Memory is a Store in this process, for one replica or development:
// replicas behind a load balancer must share a Redis store, or a retry
// reaching another replica would run again. It holds at most maxEntries
// records and maxBytes of responses; past either, the least recently used
// record goes first, so a flood of keys costs a retry its replay but never
// the gateway its memory.
type Memory struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, memoryEntry]
	bytes    int
	maxBytes int
	now      func() time.Time
}

type memoryEntry struct {
	rec     Record
	expires time.Time
}

func (e memoryEntry) size(key string) int {
	return len(key) + len(e.rec.Fingerprint) + len(e.rec.Response)
}

var _ Store = (*Memory)(nil)

// NewMemory returns a store bounded by entries and bytes.
func NewMemory(maxEntries, maxBytes int) *Memory {
	m := &Memory{maxBytes: maxBytes, now: time.Now}
	m.lru, _ = simplelru.NewLRU(max(maxEntries, 1), func(k string, e memoryEntry) { m.bytes -= e.size(k) })
	return m
}

// Bytes is what the store holds now.
func (m *Memory) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, key, fp string, lease time.Duration) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.lru.Get(key); ok && m.now().Before(e.expires) {
		return &e.rec, nil
	}
	m.put(key, memoryEntry{rec: Record{Fingerprint: fp}, expires: m.now().Add(lease)})
	return nil, nil
}

// Complete implements Store.
func (m *Memory) Complete(_ context.Context, key string, r Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(key, memoryEntry{rec: r, expires: m.now().Add(ttl)})
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(key)
	return nil
}

// put replaces key's entry and evicts the oldest past the byte bound; an
// entry larger than the whole bound is not kept (a retry then runs again).
func (m *Memory) put(key string, e memoryEntry) {
	m.lru.Remove(key)
	if e.size(key) > m.maxBytes {
		return
	}
	m.lru.Add(key, e)
	m.bytes += e.size(key)
	for m.bytes > m.maxBytes {
		m.lru.RemoveOldest()
	}
}
