// Package memory is the in-process events.Bus: publishers and subscribers
// in one process, no broker. It is the default for `go run .`, where the
// embedded demo services publish on it, and for tests. It reaches no other
// replica: run several replicas with a broker adapter instead.
package memory

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/stacker/stacker/events"
)

// Bus is the in-process events.Bus. Publish delivers to the subscribers
// before it returns, without ever waiting for one (see events.Hub).
type Bus struct {
	hub    *events.Hub
	closed atomic.Bool
}

var _ events.Bus = (*Bus)(nil)

// New returns an empty in-process Bus. opts.Topic is ignored. A nil logger
// discards.
func New(logger *slog.Logger, opts events.Options) *Bus {
	opts = opts.WithDefaults()
	return &Bus{hub: events.NewHub(logger, opts.BufferSize)}
}

// Publish validates e and delivers it to every subscriber.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	// Subscribers must not see later changes the publisher makes to its
	// slice, nor a monotonic clock reading a broker would have stripped.
	e.Changed = slices.Clone(e.Changed)
	e.OccurredAt = e.OccurredAt.Round(0)
	b.hub.Deliver(e)
	return nil
}

// PublishRaw delivers a JSON payload the way broker adapters deliver what
// they read: decoded, and logged, counted and skipped when malformed. It is
// for publishers that hold the wire form, and for the conformance suite.
func (b *Bus) PublishRaw(ctx context.Context, payload []byte) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.hub.DeliverPayload(payload)
	return nil
}

// Subscribe returns a subscription that lasts until ctx ends, the subscriber
// falls behind by more than the buffer, or the Bus closes.
func (b *Bus) Subscribe(ctx context.Context) (events.Subscription, error) {
	return b.hub.Subscribe(ctx)
}

// Stats returns the Bus's counters.
func (b *Bus) Stats() events.Stats { return b.hub.Stats() }

// Ping is nil until Close: there is no broker to lose.
func (b *Bus) Ping(context.Context) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	return nil
}

// Close ends every subscription with events.ErrClosed.
func (b *Bus) Close() error {
	b.closed.Store(true)
	b.hub.Close()
	return nil
}
