package loaders

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
)

// recorder is a fetchFunc that records every batch it was given, as
// dataloader's own tests do, and knows the ids below limit.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	limit   int
	err     error
	panic   bool
	gate    chan struct{} // when set, fetches wait for it
}

func (r *recorder) fetch(ctx context.Context, ids []int) (map[int]string, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(ids))
	r.mu.Unlock()
	if r.gate != nil {
		<-r.gate
	}
	if r.panic {
		panic("boom")
	}
	if r.err != nil {
		return nil, r.err
	}
	m := map[int]string{}
	for _, id := range ids {
		if id < r.limit {
			m[id] = "v" + itoa(id)
		}
	}
	return m, nil
}

func itoa(n int) string {
	return string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

func (r *recorder) calls() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

func newTestLoader(r *recorder) *Loader[string] {
	return newLoader("things", Options{Wait: time.Millisecond}, r.fetch, notFound[string]("things", "thing"))
}

func TestLoadAll(t *testing.T) {
	tests := []struct {
		name        string
		keys        []int
		limit       int
		wantBatches [][]int
		wantMissing []int // indexes of keys that must be not found
	}{
		{name: "order and duplicates", keys: []int{3, 1, 3, 2}, limit: 1000, wantBatches: [][]int{{3, 1, 2}}},
		{name: "missing ids are per-key not found", keys: []int{5, 2000, 6}, limit: 1000, wantBatches: [][]int{{5, 2000, 6}}, wantMissing: []int{1}},
		{name: "empty", keys: nil, limit: 1000},
		{name: "chunked at the id limit", keys: seq(250), limit: 1000, wantBatches: [][]int{seq(100), seqFrom(100, 200), seqFrom(200, 250)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{limit: tc.limit}
			l := newTestLoader(r)
			vals, errs := l.LoadAll(context.Background(), tc.keys)
			if len(vals) != len(tc.keys) {
				t.Fatalf("got %d values for %d keys", len(vals), len(tc.keys))
			}
			for i, k := range tc.keys {
				missing := slices.Contains(tc.wantMissing, i)
				switch {
				case missing && (errs == nil || !errors.Is(errs[i], upstream.ErrNotFound)):
					t.Errorf("key %d: want not found, got %v", k, errs)
				case !missing && vals[i] != "v"+itoa(k):
					t.Errorf("key %d: got %q", k, vals[i])
				}
			}
			got := r.calls()
			slices.SortFunc(got, func(a, b []int) int { return a[0] - b[0] })
			if !slices.EqualFunc(got, tc.wantBatches, slices.Equal) {
				t.Errorf("batches = %v, want %v", got, tc.wantBatches)
			}
			// Everything is cached now: neither path calls again.
			l.LoadAll(context.Background(), tc.keys)
			for _, k := range tc.keys {
				l.Load(context.Background(), k)
			}
			if n := len(r.calls()); n != len(tc.wantBatches) {
				t.Errorf("%d fetches after the cache was warm, want %d", n, len(tc.wantBatches))
			}
		})
	}
}

func seq(n int) []int { return seqFrom(0, n) }

func seqFrom(a, b int) []int {
	out := make([]int, 0, b-a)
	for i := a; i < b; i++ {
		out = append(out, i)
	}
	return out
}

// A Load that arrives while LoadAll is fetching its key waits for that
// fetch instead of making another.
func TestLoadSharesInFlightLoadAll(t *testing.T) {
	r := &recorder{limit: 1000, gate: make(chan struct{})}
	l := newTestLoader(r)
	done := make(chan []string)
	go func() {
		v, _ := l.LoadAll(context.Background(), []int{1, 2})
		done <- v
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("LoadAll never fetched")
		}
		time.Sleep(time.Millisecond)
	}
	got := make(chan string)
	go func() {
		v, _ := l.Load(context.Background(), 2)
		got <- v
	}()
	close(r.gate)
	if v := <-got; v != "v002" {
		t.Errorf("Load = %q", v)
	}
	<-done
	if n := len(r.calls()); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestLoadBatchesConcurrentLoads(t *testing.T) {
	r := &recorder{limit: 1000}
	l := newTestLoader(r)
	var wg sync.WaitGroup
	results := make([]string, 20)
	start := make(chan struct{})
	for i := range 20 {
		wg.Go(func() {
			<-start
			results[i], _ = l.Load(context.Background(), i)
		})
	}
	close(start)
	wg.Wait()
	for i, v := range results {
		if v != "v"+itoa(i) {
			t.Errorf("key %d = %q", i, v)
		}
	}
	// Timer batching may split under load; what must hold is that no key
	// was fetched twice and every batch respected the id limit.
	seen := map[int]bool{}
	for _, b := range r.calls() {
		if len(b) > maxIDs {
			t.Errorf("batch of %d ids", len(b))
		}
		for _, k := range b {
			if seen[k] {
				t.Errorf("key %d fetched twice", k)
			}
			seen[k] = true
		}
	}
}

func TestFetchFailure(t *testing.T) {
	boom := &upstream.Error{Service: "things", Kind: upstream.ErrUnavailable}
	r := &recorder{err: boom}
	l := newTestLoader(r)
	_, errs := l.LoadAll(context.Background(), []int{1, 2})
	if len(errs) != 2 || !errors.Is(errs[0], upstream.ErrUnavailable) || !errors.Is(errs[1], upstream.ErrUnavailable) {
		t.Fatalf("errs = %v", errs)
	}
	// The failure is cached for the operation: the resolvers report it
	// without calling the struggling service again.
	if _, err := l.Load(context.Background(), 1); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("Load after failure = %v", err)
	}
	if n := len(r.calls()); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestFetchPanicSettlesEveryKey(t *testing.T) {
	r := &recorder{panic: true}
	l := newTestLoader(r)
	done := make(chan []error, 1)
	go func() {
		_, errs := l.LoadAll(context.Background(), []int{1, 2, 3})
		done <- errs
	}()
	select {
	case errs := <-done:
		var pe *PanicError
		if len(errs) != 3 || !errors.As(errs[2], &pe) || pe.Service != "things" || len(pe.Stack) == 0 {
			t.Fatalf("errs = %v", errs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadAll hung after a panic in fetch")
	}
}

func TestPrime(t *testing.T) {
	r := &recorder{limit: 1000}
	l := newTestLoader(r)
	l.Prime(7, "primed")
	l.Prime(7, "again") // a cached key is left alone
	vals, _ := l.LoadAll(context.Background(), []int{7})
	if v, _ := l.Load(context.Background(), 7); vals[0] != "primed" || v != "primed" {
		t.Errorf("got %q and %q", vals[0], v)
	}
	if n := len(r.calls()); n != 0 {
		t.Errorf("%d fetches, want 0", n)
	}
}

// Prefetch calls then with the loaded values before a Load of the same key
// can see them: then claims the next level first.
func TestPrefetchThenRunsBeforeValuesArePublic(t *testing.T) {
	r := &recorder{limit: 1000}
	l := newTestLoader(r)
	thenDone := make(chan struct{})
	var order []string
	var mu sync.Mutex
	l.Prefetch(context.Background(), []int{1, 2, 2, 1}, func(vals []string) {
		mu.Lock()
		order = append(order, "then:"+strings.Join(vals, ","))
		mu.Unlock()
		close(thenDone)
	})
	v, err := l.Load(context.Background(), 2)
	mu.Lock()
	order = append(order, "load:"+v)
	mu.Unlock()
	<-thenDone
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"then:v001,v002,v002,v001", "load:v002"}
	if !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}
	if n := len(r.calls()); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// A second Prefetch of keys already in flight holds them: neither fetches
// again, and the values stay hidden until both thens have run.
func TestPrefetchHoldsKeysInFlight(t *testing.T) {
	r := &recorder{limit: 1000, gate: make(chan struct{})}
	l := newTestLoader(r)
	firstThen := make(chan struct{})
	secondThen := make(chan struct{})
	releaseSecond := make(chan struct{})
	l.Prefetch(context.Background(), []int{1, 2}, func([]string) { close(firstThen) })
	l.Prefetch(context.Background(), []int{2, 3}, func(vals []string) {
		if !slices.Equal(vals, []string{"v002", "v003"}) {
			t.Errorf("second then got %v", vals)
		}
		close(secondThen)
		<-releaseSecond
	})
	loaded := make(chan string)
	go func() {
		v, _ := l.Load(context.Background(), 2)
		loaded <- v
	}()
	close(r.gate)
	<-firstThen
	<-secondThen
	select {
	case v := <-loaded:
		t.Fatalf("Load saw %q while the second Prefetch still held it", v)
	default:
	}
	close(releaseSecond)
	if v := <-loaded; v != "v002" {
		t.Errorf("Load = %q", v)
	}
	calls := r.calls()
	if len(calls) != 2 || !slices.Equal(calls[0], []int{1, 2}) && !slices.Equal(calls[1], []int{1, 2}) {
		t.Errorf("batches = %v, want [1 2] and [3]", calls)
	}
}

func TestPrefetchFailuresAndPanics(t *testing.T) {
	t.Run("fetch error", func(t *testing.T) {
		r := &recorder{err: &upstream.Error{Service: "things", Kind: upstream.ErrUnavailable}}
		l := newTestLoader(r)
		got := make(chan []string, 1)
		l.Prefetch(context.Background(), []int{1}, func(vals []string) { got <- vals })
		if vals := <-got; len(vals) != 0 {
			t.Errorf("then got %v, want nothing", vals)
		}
		if _, err := l.Load(context.Background(), 1); !errors.Is(err, upstream.ErrUnavailable) {
			t.Errorf("Load = %v", err)
		}
	})
	t.Run("panic in then", func(t *testing.T) {
		r := &recorder{limit: 1000}
		l := newTestLoader(r)
		l.Prefetch(context.Background(), []int{1}, func([]string) { panic("planner bug") })
		done := make(chan string)
		go func() {
			v, _ := l.Load(context.Background(), 1)
			done <- v
		}()
		select {
		case v := <-done:
			if v != "v001" {
				t.Errorf("Load = %q", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a panic in then left the key unsettled")
		}
	})
}

// Prefetch waits for its fetch to be under way, never for it to finish:
// the level above must not be held up by this level's latency.
func TestPrefetchReturnsWhileFetching(t *testing.T) {
	r := &recorder{limit: 1000, gate: make(chan struct{})}
	l := newTestLoader(r)
	got := make(chan []string, 1)
	l.Prefetch(context.Background(), []int{1, 2}, func(vals []string) { got <- vals })
	select {
	case vals := <-got:
		t.Fatalf("then ran with %v before the fetch was let through", vals)
	default:
	}
	close(r.gate)
	if vals := <-got; !slices.Equal(vals, []string{"v001", "v002"}) {
		t.Errorf("then got %v", vals)
	}
}
