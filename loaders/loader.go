package loaders

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
)

// fetchFunc reads one chunk of at most maxIDs unique ids from a service and
// returns what it found by key. A key missing from the map is handled by the
// loader's missing func, so a fetchFunc never needs to know about absent rows.
type fetchFunc[V any] func(ctx context.Context, ids []int) (map[int]V, error)

// Loader is a per-operation dataloader for one entity or one relation, keyed by
// integer id. It wraps a dataloader v7 Loader (which batches and caches the
// Loads made by field resolvers) and adds LoadAll, which fetches a set of keys
// that is already complete at once, without waiting for a batch window.
//
// Invariants: every key is fetched at most once per Loader (the cache holds
// in-flight fetches too, so concurrent callers share them); results come back
// in key order; an id the service does not know is a per-key result from
// missing (a not-found error for entities, an empty list for relations).
type Loader[V any] struct {
	service string
	fetch   fetchFunc[V]
	missing func(id int) (V, error)
	cache   *cache[V]
	dl      *dataloader.Loader[int, V]
}

func newLoader[V any](service string, wait time.Duration, fetch fetchFunc[V], missing func(int) (V, error)) *Loader[V] {
	l := &Loader[V]{service: service, fetch: fetch, missing: missing, cache: newCache[V]()}
	l.dl = dataloader.NewBatchedLoader(l.batch,
		dataloader.WithCache[int, V](l.cache),
		dataloader.WithWait[int, V](wait),
		// Capacity at the id limit: a full chunk goes out at once instead of
		// waiting for the window to close.
		dataloader.WithBatchCapacity[int, V](maxIDs),
	)
	return l
}

// Load returns the value for one key, batching it with the other Loads of the
// same window unless LoadAll already fetched (or is fetching) it.
func (l *Loader[V]) Load(ctx context.Context, key int) (V, error) {
	return l.dl.Load(ctx, key)()
}

// LoadAll returns the values for keys (in key order, with one error slot per
// key, nil slice when all succeeded). Keys not yet cached are fetched now, in
// chunks of the service's id limit, in parallel; keys already cached or in
// flight are shared.
func (l *Loader[V]) LoadAll(ctx context.Context, keys []int) ([]V, []error) {
	thunks, todo := l.cache.claim(keys)
	if len(todo) > 0 {
		results := l.batch(ctx, todo)
		l.cache.settle(todo, results)
	}
	vals := make([]V, len(keys))
	var errs []error
	for i, t := range thunks {
		v, err := t()
		vals[i] = v
		if err != nil {
			if errs == nil {
				errs = make([]error, len(keys))
			}
			errs[i] = err
		}
	}
	return vals, errs
}

// batch is the dataloader BatchFunc: one result per key, in key order. Keys
// arrive unique (the cache sees to that); they are split at the service's id
// limit and the chunks fetched in parallel.
func (l *Loader[V]) batch(ctx context.Context, keys []int) []*dataloader.Result[V] {
	results := make([]*dataloader.Result[V], len(keys))
	fill := func(chunk []int, offset int) {
		found, err := l.safeFetch(ctx, chunk)
		for i, k := range chunk {
			r := &dataloader.Result[V]{}
			switch v, ok := found[k]; {
			case err != nil:
				r.Error = err
			case ok:
				r.Data = v
			default:
				r.Data, r.Error = l.missing(k)
			}
			results[offset+i] = r
		}
	}
	if len(keys) <= maxIDs {
		fill(keys, 0)
		return results
	}
	var wg sync.WaitGroup
	for off := 0; off < len(keys); off += maxIDs {
		chunk := keys[off:min(off+maxIDs, len(keys))]
		wg.Go(func() { fill(chunk, off) })
	}
	wg.Wait()
	return results
}

// safeFetch turns a panic in a fetch into an error for the keys of that chunk:
// a claimed key must always be settled, or every resolver waiting on it would
// hang until the operation's deadline.
func (l *Loader[V]) safeFetch(ctx context.Context, ids []int) (found map[int]V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Service: l.service, Value: r, Stack: debug.Stack()}
		}
	}()
	return l.fetch(ctx, ids)
}

// PanicError is a panic recovered in a loader's fetch. The stack is for the
// log; clients only ever see an INTERNAL error.
type PanicError struct {
	Service string
	Value   any
	Stack   []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s: panic in fetch: %v", e.Service, e.Value) }

// cache is the dataloader Cache of one Loader. Unlike dataloader's map cache it
// can claim a set of keys atomically, so LoadAll and Load never fetch the same
// key twice.
type cache[V any] struct {
	mu      sync.Mutex
	entries map[int]dataloader.Thunk[V]
	pending map[int]*pendingResult[V]
}

// pendingResult is a value LoadAll is fetching; done closes when it is set.
type pendingResult[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func newCache[V any]() *cache[V] {
	return &cache[V]{entries: make(map[int]dataloader.Thunk[V])}
}

// claim returns a thunk for every key and the unique keys nobody has fetched
// yet; the caller must settle those.
func (c *cache[V]) claim(keys []int) (thunks []dataloader.Thunk[V], todo []int) {
	thunks = make([]dataloader.Thunk[V], len(keys))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if t, ok := c.entries[k]; ok {
			thunks[i] = t
			continue
		}
		p := &pendingResult[V]{done: make(chan struct{})}
		t := func() (V, error) {
			<-p.done
			return p.val, p.err
		}
		c.entries[k] = t
		if c.pending == nil {
			c.pending = make(map[int]*pendingResult[V])
		}
		c.pending[k] = p
		thunks[i] = t
		todo = append(todo, k)
	}
	return thunks, todo
}

// settle publishes the results of claimed keys to everyone waiting on them.
func (c *cache[V]) settle(keys []int, results []*dataloader.Result[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		p := c.pending[k]
		delete(c.pending, k)
		p.val, p.err = results[i].Data, results[i].Error
		close(p.done)
	}
}

func (c *cache[V]) Get(_ context.Context, k int) (dataloader.Thunk[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[k]
	return t, ok
}

// Set keeps an entry that is already there: it may be a LoadAll in flight,
// which must not be replaced by a second fetch of the same key.
func (c *cache[V]) Set(_ context.Context, k int, t dataloader.Thunk[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok {
		c.entries[k] = t
	}
}

func (c *cache[V]) Delete(_ context.Context, k int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[k]; ok {
		return false // in flight: its waiters still need it
	}
	_, ok := c.entries[k]
	delete(c.entries, k)
	return ok
}

func (c *cache[V]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if _, ok := c.pending[k]; !ok {
			delete(c.entries, k)
		}
	}
}

// Prime caches a value fetched some other way (a list or a mutation), so a
// later Load of its key makes no call. A key already cached is left alone.
func (l *Loader[V]) Prime(key int, v V) {
	l.cache.Set(context.Background(), key, func() (V, error) { return v, nil })
}
