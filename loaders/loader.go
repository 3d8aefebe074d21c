package loaders

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

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
	shared  bool // see Options.Shared
}

func newLoader[V any](service string, o Options, fetch fetchFunc[V], missing func(int) (V, error)) *Loader[V] {
	l := &Loader[V]{service: service, fetch: fetch, missing: missing, cache: newCache[V](), shared: o.Shared}
	l.dl = dataloader.NewBatchedLoader(l.batch,
		dataloader.WithCache[int, V](l.cache),
		dataloader.WithWait[int, V](o.Wait),
		// Capacity at the id limit: a full chunk goes out at once instead of
		// waiting for the window to close.
		dataloader.WithBatchCapacity[int, V](maxIDs),
	)
	return l
}

// Load returns the value for one key, batching it with the other Loads of the
// same window unless LoadAll already fetched (or is fetching) it.
func (l *Loader[V]) Load(ctx context.Context, key int) (V, error) {
	// A claimed or cached key needs none of dataloader's batching: its
	// thunk is in the cache already. This is nearly every Load, since the
	// planner claims what the resolvers read, and dataloader allocates a
	// thunk and its channel per call.
	if t, ok := l.cache.Get(ctx, key); ok {
		return t()
	}
	return l.dl.Load(ctx, key)()
}

// LoadAll returns the values for keys (in key order, with one error slot per
// key, nil slice when all succeeded). Keys not yet cached are fetched now, in
// chunks of the service's id limit, in parallel; keys already cached or in
// flight are shared.
func (l *Loader[V]) LoadAll(ctx context.Context, keys []int) ([]V, []error) {
	thunks, todo := l.cache.claim(keys, nil)
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
// can claim a set of keys atomically, so LoadAll, Prefetch and Load never
// fetch the same key twice.
type cache[V any] struct {
	mu      sync.Mutex
	entries map[int]dataloader.Thunk[V]
	pending map[int]*pendingResult[V]
}

// pendingResult is a value being fetched by LoadAll or Prefetch. It becomes
// known in two steps: fetched closes when the value is set, for the
// Prefetch calls that hold it (they claim the level below from it); done
// closes when they all have, and only then do field resolvers see it.
type pendingResult[V any] struct {
	fetched chan struct{}
	done    chan struct{}
	holds   sync.WaitGroup
	val     V
	err     error
}

func (p *pendingResult[V]) early() (V, error) {
	<-p.fetched
	return p.val, p.err
}

func newCache[V any]() *cache[V] {
	return &cache[V]{entries: make(map[int]dataloader.Thunk[V])}
}

// claim returns a thunk for every key and the unique keys nobody has fetched
// yet; the caller must settle those. With held non-nil, keys that another
// caller is still fetching are held: their results stay hidden from field
// resolvers until the caller releases them, and held receives them.
func (c *cache[V]) claim(keys []int, held map[int]*pendingResult[V]) (thunks []dataloader.Thunk[V], todo []int) {
	thunks = make([]dataloader.Thunk[V], len(keys))
	var ours map[int]bool // keys claimed by this call: never held by it
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if t, ok := c.entries[k]; ok {
			if p, inFlight := c.pending[k]; inFlight && held != nil && !ours[k] {
				if _, dup := held[k]; !dup {
					p.holds.Add(1)
					held[k] = p
				}
			}
			thunks[i] = t
			continue
		}
		p := &pendingResult[V]{fetched: make(chan struct{}), done: make(chan struct{})}
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
		if held != nil {
			if ours == nil {
				ours = make(map[int]bool)
			}
			ours[k] = true
		}
	}
	return thunks, todo
}

// settle publishes the results of claimed keys: first to the Prefetch calls
// holding them, then, once those have released them, to everyone.
func (c *cache[V]) settle(keys []int, results []*dataloader.Result[V]) {
	ps := make([]*pendingResult[V], len(keys))
	c.mu.Lock()
	for i, k := range keys {
		ps[i] = c.pending[k]
		delete(c.pending, k)
	}
	c.mu.Unlock()
	for i, p := range ps {
		p.val, p.err = results[i].Data, results[i].Error
		close(p.fetched)
	}
	for _, p := range ps {
		p.holds.Wait()
		close(p.done)
	}
}

func (c *cache[V]) Get(_ context.Context, k int) (dataloader.Thunk[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[k]
	return t, ok
}

// Set keeps an entry that is already there: it may be a fetch in flight,
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

// Prefetch claims keys now, fetches the ones nobody has fetched yet in the
// background, and calls then with the values that loaded (errors stay in the
// cache for the resolvers) before those values become visible to field
// resolvers, including values another Prefetch is fetching. That order is
// the point: then can claim the keys of the level below before a resolver,
// woken by this level's values, asks for them, so no resolver ever falls
// back to a batch window. then must not wait on public thunks (Load).
//
// then is always called exactly once (with no values when nothing loaded).
//
// When it fetches, Prefetch returns once the fetch is under way, not
// before: called from a then, it keeps the caller (the level above) from
// releasing its values until this level's request has started. Otherwise
// the hundreds of field resolvers those values wake would queue ahead of the
// request, and the next level, the one on the critical path, would leave up
// to a millisecond late. The wait has a price: the caller goes to the back
// of the run queue. Shared loaders (Options.Shared) skip it, since there the
// level's values gate every subscriber of an event burst (a thousand
// subscribers took twice as long to get their events with it).
func (l *Loader[V]) Prefetch(ctx context.Context, keys []int, then func(vals []V)) {
	held := make(map[int]*pendingResult[V])
	thunks, todo := l.cache.claim(keys, held)
	if len(todo) == 0 && len(held) == 0 {
		// Every value was settled before: it is visible already, so then
		// runs now, in the caller, rather than racing the readers of those
		// values for the keys of the level below (the same patients
		// reached again through their cases, say).
		vals := make([]V, 0, len(keys))
		for i := range keys {
			if v, err := thunks[i](); err == nil {
				vals = append(vals, v)
			}
		}
		func() {
			defer func() { _ = recover() }() // as below
			then(vals)
		}()
		return
	}
	var started chan struct{} // closed once the fetch is under way, when the caller waits for that
	if len(todo) > 0 && !l.shared {
		started = make(chan struct{})
	}
	go func() {
		if started != nil {
			close(started)
		}
		var results []*dataloader.Result[V]
		defer func() {
			l.cache.settle(todo, results)
			for _, p := range held {
				p.holds.Done()
			}
		}()
		if len(todo) > 0 {
			results = l.batch(ctx, todo)
		}
		mine := make(map[int]*dataloader.Result[V], len(todo))
		for i, k := range todo {
			mine[k] = results[i]
		}
		vals := make([]V, 0, len(keys))
		for i, k := range keys {
			var v V
			var err error
			if r, ok := mine[k]; ok {
				v, err = r.Data, r.Error
			} else if p, ok := held[k]; ok {
				v, err = p.early()
			} else {
				v, err = thunks[i]() // settled before we came
			}
			if err == nil {
				vals = append(vals, v)
			}
		}
		// A panic in then must not take the process down from a background
		// goroutine; the field resolvers still load what then did not claim.
		defer func() { _ = recover() }()
		then(vals)
	}()
	if started != nil {
		<-started
	}
}
