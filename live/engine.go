// Package live is the subscription engine: one consumer of the event bus
// per replica, fanning each burst of events out to the subscriptions that
// want it with one fresh set of loaders per caller; the per-event loader
// slot a subscription's resolvers read through; and the WebSocket side of
// closing a connection with a code that tells the client why (shutdown, a
// client that fell behind, a protocol error).
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/loaders"
)

// Errors a subscription can end with.
var (
	ErrNoEvents         = errors.New("subscriptions are not available: no event bus is configured")
	ErrTooManyOnReplica = errors.New("this replica has its maximum of subscriptions; try again later or on another replica")
	ErrTooManyOnConn    = errors.New("this connection has its maximum of subscriptions")
)

// Options limits subscriptions.
// The values come from config, which owns their defaults
// (STACKER_MAX_SUBSCRIPTIONS, ...); as everywhere, 0 means no cap.
type Options struct {
	MaxPerReplica int
	MaxPerConn    int
	Buffer        int // events a subscription may have waiting before it is dropped; at least 1
}

// Engine is the replica's one consumer of the event bus. It reads each burst
// of events once, gives the burst one fresh set of loaders per caller and
// hands it to every subscription that wants any of it, so a thousand
// subscriptions of one caller to one event make one upstream call per
// service, not a thousand.
//
// The loaders are per caller because a batch's upstream call carries the
// identity of the context that started it (the first Load of the batch):
// loaders shared by two callers would fetch one caller's entities with the
// other's token, and cache them for both. Subscriptions whose contexts hold
// the same bearer token (auth.FromContext), or none, share. A subscription
// keeps the identity of the request that opened it, token expiry included
// (checking it again on graphql-ws connection_init is a later step). A
// subscription
// too slow to keep its buffer is dropped rather than allowed to hold up the
// others.
type Engine struct {
	bus     events.Bus
	newL    func() *loaders.Loaders
	opts    Options
	log     *slog.Logger
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	conns   map[*wsConn]struct{}
	started bool
	stop    context.CancelFunc
	done    chan struct{}
	dropped uint64 // subscriptions dropped for falling behind, under mu
}

// Stats are the engine's figures, for the operators' metrics.
type Stats struct {
	// Connections and Subscriptions are the WebSocket connections and the
	// subscriptions (on any transport) open now.
	Connections, Subscriptions int
	// Dropped counts the subscriptions dropped for falling behind.
	Dropped uint64
}

// Stats returns the engine's figures now; a nil engine (no event bus) has
// none.
func (lv *Engine) Stats() Stats {
	if lv == nil {
		return Stats{}
	}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	return Stats{Connections: len(lv.conns), Subscriptions: len(lv.subs), Dropped: lv.dropped}
}

// Sub is one subscription's place in the engine: its deliveries arrive on
// C, which is closed when the subscription is dropped or the engine stops.
type Sub struct {
	C       <-chan Delivery
	match   func(events.Event) bool
	ch      chan Delivery
	dropped atomic.Bool
	conn    *wsConn // the WebSocket connection it runs on; nil on SSE
	caller  string  // the subscriber's bearer token, "" when anonymous: whom it shares loaders with
}

// Delivery is the events of one burst a subscription wants, with the
// loaders shared by the subscriptions of the same caller that got that
// burst.
type Delivery struct {
	Events  []events.Event
	Loaders *loaders.Loaders
}

// New returns the engine of bus; newL makes the loaders of one burst.
// Nothing runs until the first subscription.
func New(bus events.Bus, newL func() *loaders.Loaders, o Options, log *slog.Logger) *Engine {
	o.Buffer = max(o.Buffer, 1) // unbuffered, every subscription would be dropped at its first event
	return &Engine{bus: bus, newL: newL, opts: o, log: log, subs: map[*Sub]struct{}{}, conns: map[*wsConn]struct{}{}}
}

// Add registers a subscription for the events match wants, starting the
// consumer on first use. ctx is the subscription's: the limit per WebSocket
// connection counts it until ctx ends.
func (lv *Engine) Add(ctx context.Context, match func(events.Event) bool) (*Sub, error) {
	if lv == nil || lv.bus == nil {
		return nil, ErrNoEvents
	}
	c, _ := ctx.Value(connKey{}).(*wsConn)
	if c != nil {
		if n := c.n.Add(1); lv.opts.MaxPerConn > 0 && n > int32(lv.opts.MaxPerConn) {
			c.n.Add(-1)
			return nil, ErrTooManyOnConn
		}
		context.AfterFunc(ctx, func() { c.n.Add(-1) })
	}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.opts.MaxPerReplica > 0 && len(lv.subs) >= lv.opts.MaxPerReplica {
		return nil, ErrTooManyOnReplica
	}
	if !lv.started {
		ctx, cancel := context.WithCancel(context.Background())
		lv.stop, lv.done, lv.started = cancel, make(chan struct{}), true
		go lv.run(ctx)
	}
	ch := make(chan Delivery, lv.opts.Buffer)
	s := &Sub{C: ch, match: match, ch: ch, conn: c}
	if id, ok := auth.FromContext(ctx); ok {
		s.caller = id.Token.Reveal()
	}
	lv.subs[s] = struct{}{}
	return s, nil
}

// Remove ends a subscription's place in the engine.
func (lv *Engine) Remove(s *Sub) {
	lv.mu.Lock()
	delete(lv.subs, s)
	lv.mu.Unlock()
}

// Close closes the WebSocket connections (so their clients reconnect to
// another replica) and stops the consumer; open subscriptions end.
func (lv *Engine) Close() {
	if lv == nil {
		return
	}
	lv.mu.Lock()
	started, stop, done := lv.started, lv.stop, lv.done
	for c := range lv.conns {
		c.closeWith(c.ctx, CloseServiceRestart, "server shutting down; reconnect")
	}
	lv.mu.Unlock()
	if started {
		stop()
		<-done
	}
}

// run consumes the bus until ctx ends, subscribing again (with backoff) when
// the bus drops this consumer.
func (lv *Engine) run(ctx context.Context) {
	defer close(lv.done)
	defer lv.endAll()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		sub, err := lv.bus.Subscribe(ctx)
		if err == nil {
			attempt = 0
			lv.consume(ctx, sub)
			if ctx.Err() != nil {
				return
			}
			err = sub.Err()
		}
		if errors.Is(err, events.ErrClosed) {
			return
		}
		lv.log.Warn("event subscription ended; subscribing again", "error", err)
		t := time.NewTimer(min(time.Duration(1<<min(attempt, 6))*50*time.Millisecond, 3*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (lv *Engine) consume(ctx context.Context, sub events.Subscription) {
	in := sub.Events()
	for {
		var first events.Event
		select {
		case <-ctx.Done():
			return
		case e, ok := <-in:
			if !ok {
				return
			}
			first = e
		}
		// Everything already waiting goes out as one burst with one set of
		// loaders: events that arrive together are resolved together.
		burst := []events.Event{first}
	drain:
		for len(burst) < 256 {
			select {
			case e, ok := <-in:
				if !ok {
					break drain
				}
				burst = append(burst, e)
			default:
				break drain
			}
		}
		lv.fanOut(burst)
	}
}

func (lv *Engine) fanOut(burst []events.Event) {
	perCaller := map[string]*loaders.Loaders{}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	for s := range lv.subs {
		var mine []events.Event
		for _, e := range burst {
			if s.match(e) {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 {
			continue
		}
		l := perCaller[s.caller]
		if l == nil {
			l = lv.newL()
			perCaller[s.caller] = l
		}
		select {
		case s.ch <- Delivery{Events: mine, Loaders: l}:
		default:
			// Too slow: drop it, so it delays nobody.
			s.dropped.Store(true)
			close(s.ch)
			delete(lv.subs, s)
			lv.dropped++
			lv.log.Warn("dropped a subscription that could not keep up", "buffer", cap(s.ch))
			if s.conn != nil {
				// Close its connection now, rather than let it miss events
				// silently; not from the subscription's goroutine, which
				// waits behind the transport's write to a client that may
				// never read again.
				lv.log.Info("closing a connection that did not keep up", "error", errSlowSubscriber)
				s.conn.closeWith(s.conn.ctx, CloseTryAgainLater, fmt.Sprintf("too slow: more than %d events waiting; reconnect", cap(s.ch)))
			}
		}
	}
}

func (lv *Engine) endAll() {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	for s := range lv.subs {
		close(s.ch)
		delete(lv.subs, s)
	}
}

type connKey struct{}

// wsConn is one WebSocket connection: its subscription count, and the
// cancel that closes it (the WebSocket transport closes a connection when the
// context its InitFunc returned ends).
type wsConn struct {
	n      atomic.Int32
	cancel context.CancelFunc
	ctx    context.Context
}

// closeWith closes the connection with a code and reason.
func (c *wsConn) closeWith(ctx context.Context, code int, reason string) {
	if n, ok := CloseNoticeFrom(ctx); ok {
		n.Set(code, reason)
	}
	c.cancel()
}

// WithConnection marks ctx as one WebSocket connection's, for the
// per-connection subscription limit, and registers it so that shutdown and
// a client that falls behind can close it. The WebSocket transport calls it
// from its InitFunc.
func (lv *Engine) WithConnection(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	c := &wsConn{cancel: cancel, ctx: ctx}
	if lv != nil {
		lv.mu.Lock()
		lv.conns[c] = struct{}{}
		lv.mu.Unlock()
		context.AfterFunc(ctx, func() {
			lv.mu.Lock()
			delete(lv.conns, c)
			lv.mu.Unlock()
		})
	}
	return context.WithValue(ctx, connKey{}, c)
}

var errSlowSubscriber = errors.New("subscription ended: the client did not keep up with its events")
