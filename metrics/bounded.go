package metrics

import (
	"strings"
	"sync"
)

// Other is the label value of every value past a label's bound.
const Other = "other"

// maxValueBytes caps a label value: a valid GraphQL name can be as long
// as the request body allows, and one long name would make every scrape
// carry it.
const maxValueBytes = 100

// bounded gives a label at most max values of its own besides the known
// ones: the first max distinct values seen keep theirs, every later one
// (and any longer than maxValueBytes) becomes Other. First come first
// served is predictable and needs no configuration; the known values (the
// front end's operations) keep their series whatever clients invent
// before them. A restart forgets the values seen.
type bounded struct {
	max  int
	seen sync.Map // string -> struct{}: read without the lock on the hot path
	mu   sync.Mutex
	n    int // values admitted beyond the known ones, under mu
}

func newBounded(max int, known ...string) *bounded {
	b := &bounded{max: max}
	for _, v := range known {
		b.seen.Store(v, struct{}{})
	}
	return b
}

// value is v when v may have series of its own, Other when not.
func (b *bounded) value(v string) string {
	if _, ok := b.seen.Load(v); ok {
		return v
	}
	if len(v) > maxValueBytes {
		return Other
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen.Load(v); ok {
		return v
	}
	if b.n >= b.max {
		return Other
	}
	b.n++
	v = strings.Clone(v) // not a slice of a request body kept alive
	b.seen.Store(v, struct{}{})
	return v
}
