// Package nats is the events.Bus on core NATS: the topic is a subject, each
// Bus holds one connection and one subscription to it, and fans the events
// out to its local subscribers.
//
// Core NATS is at-most-once: events published while this replica is
// disconnected from the server are not delivered to it (JetStream, which
// could replay them, is not used). Its own Publish calls made while
// reconnecting are buffered by nats.go and sent once it is back. Nothing is
// ever delivered twice. The connection retries forever, with exponential
// backoff, and logs when it goes and comes back.
package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/stacker/stacker/events"
)

// Bus is the NATS events.Bus.
type Bus struct {
	c      *conn
	sub    *natsgo.Subscription
	hub    *events.Hub
	topic  string
	logger *slog.Logger

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ events.Bus = (*Bus)(nil)

// connectTimeout bounds the first connection and its subscription.
const connectTimeout = 10 * time.Second

// Open connects to servers (a NATS URL, or several separated by commas:
// "nats://127.0.0.1:4222"), subscribes to opts.Topic and returns the Bus.
// A server that does not answer now is an error; once connected, the Bus
// reconnects on its own. A nil logger discards.
func Open(ctx context.Context, servers string, logger *slog.Logger, opts events.Options) (*Bus, error) {
	opts = opts.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := ValidSubject(opts.Topic); err != nil {
		return nil, err
	}
	c, err := dial(ctx, servers, logger, opts.Backoff)
	if err != nil {
		return nil, err
	}
	b := &Bus{c: c, hub: events.NewHub(logger, opts.BufferSize), topic: opts.Topic, logger: logger}
	nc := c.nc
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	// The callback runs on nats.go's one goroutine for this subscription,
	// so events reach the hub in the order the server sent them.
	sub, err := nc.Subscribe(b.topic, func(m *natsgo.Msg) { b.hub.DeliverPayload(m.Data) })
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("events: nats: subscribe %q: %w", b.topic, err)
	}
	b.sub = sub
	// Once the server has processed the SUB, every event published from
	// now on reaches this replica.
	if err := nc.FlushWithContext(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("events: nats: subscribe %q: %w", b.topic, err)
	}
	return b, nil
}

// Publish sends e on the subject. While reconnecting, nats.go buffers it (up
// to 8 MiB) and sends it once connected again.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := e.Encode()
	if err != nil {
		return err
	}
	if err := b.c.nc.Publish(b.topic, data); err != nil {
		if errors.Is(err, natsgo.ErrConnectionClosed) && b.closed.Load() {
			return events.ErrClosed
		}
		return fmt.Errorf("events: nats: publish: %w", err)
	}
	return nil
}

// Subscribe returns a subscription that lasts until ctx ends, the subscriber
// falls behind by more than the buffer, or the Bus closes.
func (b *Bus) Subscribe(ctx context.Context) (events.Subscription, error) {
	return b.hub.Subscribe(ctx)
}

// Stats returns the Bus's counters.
func (b *Bus) Stats() events.Stats { return b.hub.Stats() }

// Ping reports whether the connection is up: at once while nats.go is
// reconnecting, otherwise by a round trip to the server.
func (b *Bus) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	nc := b.c.nc
	if !nc.IsConnected() {
		return fmt.Errorf("events: nats: %s", strings.ToLower(nc.Status().String()))
	}
	// nats.go wants a deadline; ctx's own stays in force when sooner.
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("events: nats: ping: %w", err)
	}
	return nil
}

// Close ends every subscription with events.ErrClosed and closes the
// connection.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.hub.Close()
		b.c.close()
	})
	return nil
}

// ValidSubject refuses topics NATS cannot publish on.
func ValidSubject(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("events: nats: topic %q is not a valid subject", s)
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return fmt.Errorf("events: nats: topic %q is not a valid subject to publish on", s)
		}
	}
	return nil
}
