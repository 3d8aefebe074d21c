package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stacker/stacker/events"
)

// Publisher is the NATS events.Publisher. What a successful Publish means
// depends on the subject, looked up once when the Publisher opens:
//
//   - a JetStream stream captures it: the payload is published through
//     JetStream, and Publish returns once the stream acknowledged it (stored,
//     as the stream's own replication and storage settings keep it);
//   - no stream does (or the server has no JetStream): a core publish
//     followed by a flush, so Publish returns once the server has received
//     it. Core NATS keeps nothing: only subscribers listening then get it.
//
// A stream created after the Publisher opened is not used until the next
// open. While the connection is down Publish fails at once instead of
// buffering, so a payload it reported as failed is never sent later.
type Publisher struct {
	c       *conn
	js      jetstream.JetStream // nil: core publish and flush
	subject string
}

var _ events.Publisher = (*Publisher)(nil)

// OpenPublisher connects to servers (as Open takes them) and returns a
// Publisher on the subject topic. A server that does not answer now is an
// error; once connected, the Publisher reconnects on its own. A nil logger
// discards.
func OpenPublisher(ctx context.Context, servers string, logger *slog.Logger, topic string) (*Publisher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := ValidSubject(topic); err != nil {
		return nil, err
	}
	// No reconnect buffer: a payload published while disconnected fails
	// now rather than being sent after its caller was told it failed.
	c, err := dial(ctx, servers, logger, events.Options{}.Backoff, natsgo.ReconnectBufSize(-1))
	if err != nil {
		return nil, err
	}
	p := &Publisher{c: c, subject: topic}
	js, err := jetstream.New(c.nc)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("events: nats: jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	stream, err := js.StreamNameBySubject(ctx, topic)
	switch {
	case err == nil:
		p.js = js
		logger.Info("events: nats: publishing through JetStream: each payload waits for the stream's acknowledgement",
			"subject", topic, "stream", stream, "server", c.nc.ConnectedUrlRedacted())
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, natsgo.ErrNoResponders),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		logger.Warn("events: nats: no JetStream stream captures the subject: core publish, confirmed by a flush; the server keeps nothing for subscribers that are not listening",
			"subject", topic, "server", c.nc.ConnectedUrlRedacted())
	default:
		c.close()
		return nil, fmt.Errorf("events: nats: looking up the stream of subject %q: %w", topic, err)
	}
	return p, nil
}

// Publish sends payload and waits for its confirmation (see Publisher)
// until ctx ends, or connectTimeout when ctx has no deadline.
func (p *Publisher) Publish(ctx context.Context, payload []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	if p.js != nil {
		if _, err := p.js.Publish(ctx, p.subject, payload); err != nil {
			return fmt.Errorf("events: nats: publish on %q through JetStream: %w", p.subject, err)
		}
		return nil
	}
	if err := p.c.nc.Publish(p.subject, payload); err != nil {
		if errors.Is(err, natsgo.ErrReconnectBufExceeded) {
			// What nats.go says when nothing may be buffered.
			return fmt.Errorf("events: nats: publish on %q: disconnected, reconnecting: %w", p.subject, err)
		}
		return fmt.Errorf("events: nats: publish on %q: %w", p.subject, err)
	}
	if err := p.c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("events: nats: publish on %q: flush: %w", p.subject, err)
	}
	return nil
}

// Close closes the connection.
func (p *Publisher) Close() error {
	p.c.close()
	return nil
}
