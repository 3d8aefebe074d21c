// Package redis is the events.Bus on Redis pub/sub: the topic is a channel,
// each Bus holds one PubSub connection subscribed to it (plus go-redis's
// pool for publishing) and fans the events out to its local subscribers.
//
// Redis pub/sub is at-most-once: events published while this replica's
// PubSub connection is down, including the moment between the server coming
// back and the channel being subscribed again, are not delivered to it.
// Nothing is delivered twice. When the connection breaks, go-redis
// reconnects and resubscribes on the next read; this Bus retries that read
// with exponential backoff and logs when the subscription goes and comes
// back. A connection that is quiet for a while is checked with a PING, so a
// dead one is noticed even when no error arrives.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/stacker/stacker/events"
)

// Bus is the Redis pub/sub events.Bus.
type Bus struct {
	client *goredis.Client
	ps     *goredis.PubSub
	hub    *events.Hub
	topic  string
	opts   events.Options
	logger *slog.Logger

	health time.Duration // healthInterval, shorter in tests
	pongs  atomic.Int64  // answers to health checks, for tests

	ctx        context.Context // ends when the Bus closes
	cancel     context.CancelFunc
	readerDone chan struct{}
	closed     atomic.Bool
	closeOnce  sync.Once
}

var _ events.Bus = (*Bus)(nil)

const (
	// connectTimeout bounds the first connection and subscription.
	connectTimeout = 10 * time.Second
	// healthInterval is how long the PubSub connection may stay quiet
	// before it is checked with a PING.
	healthInterval = 15 * time.Second
)

// Open connects to the Redis at rawURL ("redis://host:6379/0", "rediss://..."
// with go-redis's URL options), subscribes to the channel opts.Topic and
// returns the Bus. A server that does not answer now is an error; once
// connected, the Bus reconnects on its own. A nil logger discards.
func Open(ctx context.Context, rawURL string, logger *slog.Logger, opts events.Options) (*Bus, error) {
	return open(ctx, rawURL, logger, opts, healthInterval)
}

func open(ctx context.Context, rawURL string, logger *slog.Logger, opts events.Options, health time.Duration) (*Bus, error) {
	opts = opts.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	client, err := connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	ps := client.Subscribe(ctx, opts.Topic)
	// The first reply confirms the subscription: from then on, every event
	// published reaches this replica. go-redis keeps the context of the
	// first receive for the PubSub's life, so it is the Bus's, not ctx
	// (connectTimeout bounds the read).
	busCtx, busCancel := context.WithCancel(context.Background())
	msg, err := ps.ReceiveTimeout(busCtx, connectTimeout)
	if err == nil {
		if _, ok := msg.(*goredis.Subscription); !ok {
			err = fmt.Errorf("unexpected reply %T", msg)
		}
	}
	if err != nil {
		busCancel()
		_ = ps.Close()
		_ = client.Close()
		return nil, fmt.Errorf("events: redis: subscribe %q: %w", opts.Topic, err)
	}

	b := &Bus{
		client:     client,
		ps:         ps,
		hub:        events.NewHub(logger, opts.BufferSize),
		topic:      opts.Topic,
		opts:       opts,
		logger:     logger,
		health:     health,
		ctx:        busCtx,
		cancel:     busCancel,
		readerDone: make(chan struct{}),
	}
	go b.read()
	return b, nil
}

// connect returns a client of the Redis at rawURL once it has answered a
// PING within ctx.
func connect(ctx context.Context, rawURL string) (*goredis.Client, error) {
	ropts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("events: redis: %w", err)
	}
	// Commands honour their context's deadline.
	ropts.ContextTimeoutEnabled = true
	client := goredis.NewClient(ropts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("events: redis: connect to %s: %w", ropts.Addr, err)
	}
	return client, nil
}

// read is the one goroutine that reads the PubSub connection, until Close.
func (b *Bus) read() {
	defer close(b.readerDone)
	failures := 0
	for {
		msg, err := b.ps.ReceiveTimeout(b.ctx, b.health)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && failures == 0 {
				// Quiet for a while: a PING either gets a Pong on this
				// connection or makes go-redis reconnect.
				if err := b.ps.Ping(b.ctx); err == nil {
					continue
				}
			}
			failures++
			if failures == 1 {
				b.logger.Warn("events: redis: subscription lost; reconnecting", "error", err)
			}
			select {
			case <-time.After(b.opts.Backoff(failures)):
			case <-b.ctx.Done():
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Message:
			b.hub.DeliverPayload([]byte(m.Payload))
		case *goredis.Subscription:
			// go-redis subscribes again on every new connection.
			if failures > 0 {
				b.logger.Info("events: redis: subscribed again", "channel", m.Channel, "attempts", failures)
			}
			failures = 0
		case *goredis.Pong:
			b.pongs.Add(1)
		}
	}
}

// Publish sends e on the channel. It fails, after go-redis's retries, while
// the server is away.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	data, err := e.Encode()
	if err != nil {
		return err
	}
	if err := b.client.Publish(ctx, b.topic, data).Err(); err != nil {
		if b.closed.Load() {
			return events.ErrClosed
		}
		return fmt.Errorf("events: redis: publish: %w", err)
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

// Ping reports whether the server answers a PING. The subscription's own
// connection is checked by the reader, which reconnects it on its own.
func (b *Bus) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("events: redis: ping: %w", err)
	}
	return nil
}

// Close ends every subscription with events.ErrClosed, stops the reader and
// closes the connections.
func (b *Bus) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.hub.Close()
		b.cancel()
		_ = b.ps.Close() // unblocks the reader's read
		<-b.readerDone
		err = b.client.Close()
	})
	if err != nil {
		return fmt.Errorf("events: redis: close: %w", err)
	}
	return nil
}
