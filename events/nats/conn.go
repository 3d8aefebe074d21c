package nats

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// conn is one NATS connection, as the Bus and the Publisher hold it: it
// retries forever with the caller's backoff once connected, and logs when
// it goes and comes back (naming the server without its credentials).
type conn struct {
	nc      *natsgo.Conn
	logger  *slog.Logger
	closing atomic.Bool   // set by close, so going away is not logged as a fault
	done    chan struct{} // closed by nats.go's ClosedHandler
}

// dial connects to servers within connectTimeout (or ctx's deadline, if
// sooner). extra options are applied after the shared ones.
func dial(ctx context.Context, servers string, logger *slog.Logger, backoff func(int) time.Duration, extra ...natsgo.Option) (*conn, error) {
	c := &conn{logger: logger, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	dialTimeout := connectTimeout
	if d, ok := ctx.Deadline(); ok {
		dialTimeout = time.Until(d)
	}
	opts := append([]natsgo.Option{
		natsgo.Name("stacker"),
		natsgo.Timeout(dialTimeout),
		natsgo.MaxReconnects(-1),
		natsgo.CustomReconnectDelay(backoff),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if !c.closing.Load() {
				logger.Warn("events: nats: disconnected; reconnecting", "error", err)
			}
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			logger.Info("events: nats: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			// Slow-consumer reports land here: nats.go dropped messages
			// because this process did not keep up.
			logger.Error("events: nats: asynchronous error", "error", err)
		}),
		natsgo.ClosedHandler(func(*natsgo.Conn) { close(c.done) }),
	}, extra...)
	nc, err := natsgo.Connect(servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("events: nats: connect: %w", err)
	}
	c.nc = nc
	return c, nil
}

// close closes the connection and waits until nats.go's reader and flusher
// have stopped.
func (c *conn) close() {
	c.closing.Store(true)
	c.nc.Close()
	select {
	case <-c.done:
	case <-time.After(connectTimeout):
		c.logger.Warn("events: nats: connection did not report closed")
	}
}
