package live

import (
	"context"
	"sync"

	"github.com/stacker/stacker/loaders"
)

// Slot holds the loaders of a subscription's current event. A subscription
// lives long, but a cache must not: every event gets a fresh set, shared by
// all the subscriptions that receive that event. gqlgen resolves an event's
// payload with the subscription's context, so the context carries this slot
// and the event pump fills it for each event.
//
// The pump may only change it while gqlgen is between events: the response
// loop calls Idle before it waits for the next event, and the pump waits on
// Ready before it sets the loaders and hands the event over.
type Slot struct {
	mu    sync.RWMutex
	l     *loaders.Loaders
	ready chan struct{}
}

// NewSlot returns an empty slot.
func NewSlot() *Slot { return &Slot{ready: make(chan struct{}, 1)} }

// Set installs the loaders for the next event.
func (s *Slot) Set(l *loaders.Loaders) {
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
}

func (s *Slot) get() *loaders.Loaders {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.l
}

// Idle says that the previous event is done with.
func (s *Slot) Idle() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready delivers once per Idle.
func (s *Slot) Ready() <-chan struct{} { return s.ready }

type slotKey struct{}

// NewSlotContext returns ctx carrying s; loaders.FromContext then returns
// the loaders in s, those of the event being resolved.
func NewSlotContext(ctx context.Context, s *Slot) context.Context {
	return loaders.NewSourceContext(context.WithValue(ctx, slotKey{}, s), s.get)
}

// SlotFromContext returns the slot of a subscription's context.
func SlotFromContext(ctx context.Context) (*Slot, bool) {
	s, ok := ctx.Value(slotKey{}).(*Slot)
	return s, ok
}
