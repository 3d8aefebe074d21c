package events

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Hub fans events out to the local subscribers of one Bus. Broker adapters
// keep one broker subscription per Bus and hand what it receives to
// DeliverPayload, so a thousand GraphQL subscriptions on a replica cost one
// broker subscription.
//
// Delivery never blocks: each subscriber has a buffered channel, and a
// subscriber whose buffer is full when an event arrives is dropped (its
// channel closed, Err() = ErrSlowConsumer) instead of delaying the
// publisher and every other subscriber. Deliveries are serialised, so every
// subscriber sees events in the order Deliver was called. A Hub costs no
// goroutine per subscriber. Its methods are safe for concurrent use.
type Hub struct {
	logger     *slog.Logger
	bufferSize int

	mu     sync.Mutex // guards subs and closed, and every send on and close of a subscriber's channel
	subs   map[*subscription]struct{}
	closed bool

	received, delivered, dropped, malformed atomic.Uint64
}

// NewHub returns a Hub whose subscribers buffer bufferSize events
// (DefaultBufferSize when bufferSize <= 0). A nil logger discards.
func NewHub(logger *slog.Logger, bufferSize int) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if bufferSize <= 0 {
		bufferSize = DefaultBufferSize
	}
	return &Hub{logger: logger, bufferSize: bufferSize, subs: make(map[*subscription]struct{})}
}

// Subscribe adds a subscriber until ctx ends, it is dropped, or the Hub
// closes. It returns ErrClosed after Close, and otherwise ctx.Err() if ctx
// has already ended. The adapters' Subscribe is this: their Close closes
// the Hub.
func (h *Hub) Subscribe(ctx context.Context) (Subscription, error) {
	s := &subscription{ch: make(chan Event, h.bufferSize)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.subs[s] = struct{}{}
	// AfterFunc runs only once ctx ends, so a waiting subscriber costs no
	// goroutine; stop releases it when the subscription ends another way.
	// (If ctx ends right now, f waits for h.mu like any other caller.)
	s.stop = context.AfterFunc(ctx, func() { h.end(s, ctx.Err()) })
	h.mu.Unlock()
	return s, nil
}

// Deliver hands e to every current subscriber, dropping those whose buffer
// is full. It does nothing after Close.
func (h *Hub) Deliver(e Event) {
	dropped := 0
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.received.Add(1)
	for s := range h.subs {
		select {
		case s.ch <- e:
			h.delivered.Add(1)
		default:
			dropped++
			h.dropped.Add(1)
			h.endLocked(s, ErrSlowConsumer)
		}
	}
	h.mu.Unlock()
	if dropped > 0 { // logged outside the lock: a slow log must not hold up delivery
		h.logger.Warn("events: subscribers dropped: they stopped reading", "dropped", dropped, "buffer", h.bufferSize)
	}
}

// DeliverPayload decodes one payload read from the broker and delivers it.
// A malformed payload is logged, counted and skipped.
func (h *Hub) DeliverPayload(data []byte) {
	e, err := Decode(data)
	if err != nil {
		h.malformed.Add(1)
		h.logger.Warn("events: malformed event skipped", "error", err, "bytes", len(data), "payload", preview(data))
		return
	}
	h.Deliver(e)
}

// Close ends every subscription with ErrClosed; later subscriptions fail and
// deliveries are ignored. It is safe to call more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ErrClosed)
	}
}

// Stats returns the Hub's counters. It waits for a delivery in progress, so
// a subscriber that has received an event sees it counted.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{
		Received:    h.received.Load(),
		Delivered:   h.delivered.Load(),
		Dropped:     h.dropped.Load(),
		Malformed:   h.malformed.Load(),
		Subscribers: len(h.subs),
	}
}

func (h *Hub) end(s *subscription, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(s, err)
}

// endLocked removes s, records why and closes its channel. Only the first
// call for s has an effect.
func (h *Hub) endLocked(s *subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err.Store(&err)
	close(s.ch)
	s.stop()
}

// subscription is the Subscription a Hub hands out.
type subscription struct {
	ch   chan Event
	err  atomic.Pointer[error]
	stop func() bool // set and called under Hub.mu
}

func (s *subscription) Events() <-chan Event { return s.ch }

func (s *subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// preview returns the start of a payload for a log line.
func preview(data []byte) string {
	const limit = 120
	if len(data) > limit {
		return string(data[:limit]) + "..."
	}
	return string(data)
}
