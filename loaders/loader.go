package loaders

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/stacker/stacker/tracing"
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
	tracer  *tracing.Tracer
}

func newLoader[V any](service string, o Options, fetch fetchFunc[V], missing func(int) (V, error)) *Loader[V] {
	l := &Loader[V]{service: service, fetch: fetch, missing: missing, cache: newCache[V](), shared: o.Shared, tracer: o.Tracer}
	l.dl = dataloader.NewBatchedLoader(l.batch,
		dataloader.WithCache[int, V](l.cache),
		dataloader.WithWait[int, V](o.Wait),
		// Capacity at the id limit: a full chunk goes out at once instead of
		// waiting for the window to close.
		dataloader.WithBatchCapacity[int, V](maxIDs),
	)
	return l
}

// Service is the name of the service the loader calls.
func (l *Loader[V]) Service() string { return l.service }

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
	c := l.cache.claim(keys, false)
	thunks := c.thunks
	if c.mine != nil {
		c.mine.vals, c.mine.errs = l.level(ctx, c.todo)
		l.cache.settle(c.mine, c.todo)
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

// batch is the dataloader BatchFunc, for the keys no one claimed before
// a Load asked for them: fetchAll's results, one per key.
func (l *Loader[V]) batch(ctx context.Context, keys []int) []*dataloader.Result[V] {
	vals, errs := l.fetchAll(ctx, keys)
	results := make([]*dataloader.Result[V], len(keys))
	for i := range keys {
		results[i] = &dataloader.Result[V]{Data: vals[i], Error: errs[i]}
	}
	return results
}

// level is fetchAll for a set of keys the planner claimed together (one
// level of the plan), in a span of its own when the operation is traced.
func (l *Loader[V]) level(ctx context.Context, keys []int) ([]V, []error) {
	ctx, span := l.tracer.Level(ctx, l.service, len(keys))
	defer span.End(nil) // a key's failure is its own, and its batch span's
	return l.fetchAll(ctx, keys)
}

// fetchAll fetches keys, which arrive unique (the cache sees to that): one
// value and one error slot per key, in key order. They are split at the
// service's id limit and the chunks fetched in parallel.
func (l *Loader[V]) fetchAll(ctx context.Context, keys []int) ([]V, []error) {
	vals := make([]V, len(keys))
	errs := make([]error, len(keys))
	fill := func(chunk []int, offset int) {
		found, err := l.safeFetch(ctx, chunk)
		for i, k := range chunk {
			switch v, ok := found[k]; {
			case err != nil:
				errs[offset+i] = err
			case ok:
				vals[offset+i] = v
			default:
				vals[offset+i], errs[offset+i] = l.missing(k)
			}
		}
	}
	if len(keys) <= maxIDs {
		fill(keys, 0)
		return vals, errs
	}
	var wg sync.WaitGroup
	for off := 0; off < len(keys); off += maxIDs {
		chunk := keys[off:min(off+maxIDs, len(keys))]
		wg.Go(func() { fill(chunk, off) })
	}
	wg.Wait()
	return vals, errs
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
	pending map[int]slot[V]
}

// pending is a set of keys one LoadAll or Prefetch claimed and is fetching
// together. Its values become known in two steps: fetched closes when they
// are set, for the Prefetch calls that hold them (they claim the level
// below from them); done closes when they all have, and only then do field
// resolvers see them. One per batch rather than per key: a case board
// claims some four hundred keys.
type pending[V any] struct {
	fetched chan struct{}
	done    chan struct{}
	holds   sync.WaitGroup
	vals    []V // by the key's place in the batch, set before fetched closes
	errs    []error
}

// slot is one key's place in a pending batch.
type slot[V any] struct {
	p *pending[V]
	i int
}

func (s slot[V]) early() (V, error) {
	<-s.p.fetched
	return s.p.vals[s.i], s.p.errs[s.i]
}

func newCache[V any]() *cache[V] {
	return &cache[V]{entries: map[int]dataloader.Thunk[V]{}}
}

// claimed is what claim returns for a set of keys.
type claimed[V any] struct {
	// thunks has every key's thunk, in key order.
	thunks []dataloader.Thunk[V]
	// slots has, for keys being fetched (by this claim or another), their
	// place in the batch fetching them; the zero slot for keys settled
	// already.
	slots []slot[V]
	// mine is the batch of the keys this claim must fetch, todo (unique,
	// in order), and settle; nil when there are none.
	mine *pending[V]
	todo []int
	// holding are the other claims' batches this claim holds (see claim).
	holding []*pending[V]
}

// claim returns a thunk for every key and the unique keys nobody has fetched
// yet, in a batch the caller must settle. With hold, batches that another
// caller is still fetching are held: their results stay hidden from field
// resolvers until the caller releases them (holds.Done).
func (c *cache[V]) claim(keys []int, hold bool) claimed[V] {
	out := claimed[V]{thunks: make([]dataloader.Thunk[V], len(keys)), slots: make([]slot[V], len(keys))}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		// The first claim of an operation is most of its keys: size the
		// map once rather than growing it seven times.
		c.entries = make(map[int]dataloader.Thunk[V], len(keys))
	}
	for i, k := range keys {
		if t, ok := c.entries[k]; ok {
			out.thunks[i] = t
			if s, inFlight := c.pending[k]; inFlight {
				out.slots[i] = s
				if hold && s.p != out.mine && !slices.Contains(out.holding, s.p) {
					s.p.holds.Add(1)
					out.holding = append(out.holding, s.p)
				}
			}
			continue
		}
		if out.mine == nil {
			out.mine = &pending[V]{fetched: make(chan struct{}), done: make(chan struct{})}
		}
		p, idx := out.mine, len(out.todo)
		t := func() (V, error) {
			<-p.done
			return p.vals[idx], p.errs[idx]
		}
		c.entries[k] = t
		if c.pending == nil {
			c.pending = make(map[int]slot[V], len(keys))
		}
		s := slot[V]{p: p, i: idx}
		c.pending[k] = s
		out.thunks[i], out.slots[i] = t, s
		out.todo = append(out.todo, k)
	}
	return out
}

// settle publishes the batch p of keys, its vals and errs set: first to the
// Prefetch calls holding it, then, once those have released it, to
// everyone.
func (c *cache[V]) settle(p *pending[V], keys []int) {
	c.mu.Lock()
	for _, k := range keys {
		delete(c.pending, k)
	}
	c.mu.Unlock()
	close(p.fetched)
	p.holds.Wait()
	close(p.done)
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
	c := l.cache.claim(keys, true)
	if c.mine == nil && len(c.holding) == 0 {
		// Every value was settled before: it is visible already, so then
		// runs now, in the caller, rather than racing the readers of those
		// values for the keys of the level below (the same patients
		// reached again through their cases, say).
		vals := make([]V, 0, len(keys))
		for i := range keys {
			if v, err := c.thunks[i](); err == nil {
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
	if c.mine != nil && !l.shared {
		started = make(chan struct{})
	}
	go func() {
		if started != nil {
			close(started)
		}
		defer func() {
			if c.mine != nil {
				l.cache.settle(c.mine, c.todo)
			}
			for _, p := range c.holding {
				p.holds.Done()
			}
		}()
		if c.mine != nil {
			c.mine.vals, c.mine.errs = l.level(ctx, c.todo)
		}
		vals := make([]V, 0, len(keys))
		for i := range keys {
			var v V
			var err error
			switch s := c.slots[i]; {
			case s.p != nil && s.p == c.mine:
				v, err = s.p.vals[s.i], s.p.errs[s.i]
			case s.p != nil:
				v, err = s.early()
			default:
				v, err = c.thunks[i]() // settled before we came
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
