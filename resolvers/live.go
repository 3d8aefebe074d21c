package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
)

// Errors a subscription can end with.
var (
	ErrNoEvents         = errors.New("subscriptions are not available: no event bus is configured")
	ErrTooManyOnReplica = errors.New("this replica has its maximum of subscriptions; try again later or on another replica")
	ErrTooManyOnConn    = errors.New("this connection has its maximum of subscriptions")
)

// LiveOptions limits subscriptions.
type LiveOptions struct {
	MaxPerReplica int // default 10,000
	MaxPerConn    int // default 100
	Buffer        int // events a subscription may have waiting before it is dropped (default 64)
}

// live is the replica's one consumer of the event bus. It reads each burst
// of events once, gives the burst one fresh set of loaders and hands it to
// every subscription that wants any of it, so a thousand subscribers of one
// event make one upstream call per service, not a thousand. A subscription
// too slow to keep its buffer is dropped rather than allowed to hold up the
// others.
type live struct {
	bus     events.Bus
	newL    func() *loaders.Loaders
	opts    LiveOptions
	log     *slog.Logger
	mu      sync.Mutex
	subs    map[*liveSub]struct{}
	conns   map[*wsConn]struct{}
	started bool
	stop    context.CancelFunc
	done    chan struct{}
}

type liveSub struct {
	match   func(events.Event) bool
	ch      chan delivery
	dropped atomic.Bool
	conn    *wsConn // the WebSocket connection it runs on; nil on SSE
}

// delivery is the events of one burst a subscription wants, with the
// loaders shared by everyone who got that burst.
type delivery struct {
	events []events.Event
	l      *loaders.Loaders
}

func newLive(bus events.Bus, newL func() *loaders.Loaders, o LiveOptions, log *slog.Logger) *live {
	if o.MaxPerReplica <= 0 {
		o.MaxPerReplica = 10000
	}
	if o.MaxPerConn <= 0 {
		o.MaxPerConn = 100
	}
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	return &live{bus: bus, newL: newL, opts: o, log: log, subs: map[*liveSub]struct{}{}, conns: map[*wsConn]struct{}{}}
}

// add registers a subscription, starting the consumer on first use.
func (lv *live) add(ctx context.Context, match func(events.Event) bool) (*liveSub, error) {
	if lv == nil || lv.bus == nil {
		return nil, ErrNoEvents
	}
	c, _ := ctx.Value(connKey{}).(*wsConn)
	if c != nil {
		if c.n.Add(1) > int32(lv.opts.MaxPerConn) {
			c.n.Add(-1)
			return nil, ErrTooManyOnConn
		}
		context.AfterFunc(ctx, func() { c.n.Add(-1) })
	}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if len(lv.subs) >= lv.opts.MaxPerReplica {
		return nil, ErrTooManyOnReplica
	}
	if !lv.started {
		ctx, cancel := context.WithCancel(context.Background())
		lv.stop, lv.done, lv.started = cancel, make(chan struct{}), true
		go lv.run(ctx)
	}
	s := &liveSub{match: match, ch: make(chan delivery, lv.opts.Buffer), conn: c}
	lv.subs[s] = struct{}{}
	return s, nil
}

func (lv *live) remove(s *liveSub) {
	lv.mu.Lock()
	delete(lv.subs, s)
	lv.mu.Unlock()
}

// close closes the WebSocket connections (so their clients reconnect to
// another replica) and stops the consumer; open subscriptions end.
func (lv *live) close() {
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
func (lv *live) run(ctx context.Context) {
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

func (lv *live) consume(ctx context.Context, sub events.Subscription) {
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

func (lv *live) fanOut(burst []events.Event) {
	l := lv.newL()
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
		select {
		case s.ch <- delivery{events: mine, l: l}:
		default:
			// Too slow: drop it, so it delays nobody.
			s.dropped.Store(true)
			close(s.ch)
			delete(lv.subs, s)
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

func (lv *live) endAll() {
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

// WebSocket close codes Stacker closes connections with. Both are codes the
// graphql-ws client treats as worth a reconnect.
const (
	CloseServiceRestart = 1012 // shutdown: reconnect, to another replica
	CloseTryAgainLater  = 1013 // the client fell behind its events
)

// CloseNotice is the code and reason a connection is to be closed with;
// the WebSocket layer reads it when the transport closes the connection.
type CloseNotice struct {
	mu     sync.Mutex
	code   int
	reason string
	done   chan struct{} // closed by the first Set
}

// Set records why the connection is closing (first reason wins).
func (n *CloseNotice) Set(code int, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.code == 0 {
		n.code, n.reason = code, reason
		close(n.doneLocked())
	}
}

// Done is closed once a reason is set: the WebSocket layer closes the
// connection then, even while the transport is stuck writing to it.
func (n *CloseNotice) Done() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.doneLocked()
}

func (n *CloseNotice) doneLocked() chan struct{} {
	if n.done == nil {
		n.done = make(chan struct{})
	}
	return n.done
}

// Get returns the recorded code and reason, or ok false.
func (n *CloseNotice) Get() (code int, reason string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.code, n.reason, n.code != 0
}

type noticeKey struct{}

// WithCloseNotice gives a WebSocket request a notice the resolvers can fill.
func WithCloseNotice(ctx context.Context) (context.Context, *CloseNotice) {
	n := &CloseNotice{}
	return context.WithValue(ctx, noticeKey{}, n), n
}

// CloseNoticeFrom returns the notice of the connection ctx belongs to.
func CloseNoticeFrom(ctx context.Context) (*CloseNotice, bool) {
	n, ok := ctx.Value(noticeKey{}).(*CloseNotice)
	return n, ok
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
func (r *Resolver) WithConnection(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	c := &wsConn{cancel: cancel, ctx: ctx}
	if r.live != nil {
		r.live.mu.Lock()
		r.live.conns[c] = struct{}{}
		r.live.mu.Unlock()
		context.AfterFunc(ctx, func() {
			r.live.mu.Lock()
			delete(r.live.conns, c)
			r.live.mu.Unlock()
		})
	}
	return context.WithValue(ctx, connKey{}, c)
}

// stream runs one GraphQL subscription: it registers with live, and for
// every event it receives waits until gqlgen is ready for the next one,
// installs the event's loaders, prefetches what the client selected and hands
// the payload over.
//
// keep, when set, decides after the loaders are in place whether the event
// goes to this subscriber at all (casesChanged needs the case's status).
func stream[T any](ctx context.Context, r *Resolver, match func(events.Event) bool, convert func(events.Event) T,
	below func(*planner, context.Context, []T, ast.SelectionSet), keep func(context.Context, *loaders.Loaders, T) bool,
) (<-chan graphql.Event[T], error) {
	slot, ok := loaders.SlotFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("subscription without a loader slot: AroundOperations is not installed")
	}
	s, err := r.live.add(ctx, match)
	if err != nil {
		return nil, err
	}
	sel := selections(ctx)
	out := make(chan graphql.Event[T])
	r.log.Debug("subscription started", "field", graphql.GetFieldContext(ctx).Field.Name)
	go func() {
		defer close(out)
		defer r.log.Debug("subscription ended")
		defer r.live.remove(s)
		for {
			var d delivery
			select {
			case <-ctx.Done():
				return
			case got, ok := <-s.ch:
				if !ok {
					return // dropped (fanOut closed a WebSocket) or shut down
				}
				d = got
			}
			for _, e := range d.events {
				select {
				case <-ctx.Done():
					return
				case <-slot.Ready():
				}
				slot.Set(d.l)
				v := convert(e)
				if keep != nil && !keep(ctx, d.l, v) {
					slot.Idle() // gqlgen is still waiting: keep its turn
					continue
				}
				if below != nil {
					below(newPlanner(ctx, d.l), ctx, []T{v}, sel)
				}
				select {
				case <-ctx.Done():
					return
				case out <- graphql.Event[T]{Context: ctx, Value: v}:
				}
			}
		}
	}()
	return out, nil
}

var errSlowSubscriber = errors.New("subscription ended: the client did not keep up with its events")

// Conversions from bus events to the GraphQL payloads.

func caseUpdated(e events.Event) *model.CaseUpdatedEvent {
	changed := e.Changed
	if changed == nil {
		changed = []string{}
	}
	return &model.CaseUpdatedEvent{CaseID: int(e.CaseID), OccurredAt: e.OccurredAt, Changed: changed}
}

func caseActivity(e events.Event) model.CaseActivity {
	switch e.Type {
	case events.TypeDocumentUploaded:
		return &model.DocumentUploadedEvent{CaseID: int(e.CaseID), DocumentID: int(e.DocumentID), OccurredAt: e.OccurredAt}
	case events.TypeAppointmentScheduled:
		return &model.AppointmentScheduledEvent{CaseID: int(e.CaseID), AppointmentID: int(e.AppointmentID), OccurredAt: e.OccurredAt}
	}
	return caseUpdated(e)
}

// casesChanged serves Subscription.casesChanged: case updates whose case is
// now in one of the statuses (all when none are given).
func (r *Resolver) casesChanged(ctx context.Context, status []model.CaseStatus) (<-chan graphql.Event[*model.CaseUpdatedEvent], error) {
	var keep func(context.Context, *loaders.Loaders, *model.CaseUpdatedEvent) bool
	if len(status) > 0 {
		keep = func(ctx context.Context, l *loaders.Loaders, e *model.CaseUpdatedEvent) bool {
			c, err := l.Cases.Load(ctx, e.CaseID)
			return err != nil || slices.Contains(status, c.Status) // an error is shown, not hidden
		}
	}
	return stream(ctx, r, func(e events.Event) bool { return e.Type == events.TypeCaseUpdated }, caseUpdated, (*planner).caseUpdatedEvents, keep)
}

// findByID loads a case's list through l and picks one entry by id.
func findByID[V any](l *loaders.Loader[[]V], ctx context.Context, caseID, id int, idOf func(V) int) (V, error) {
	var zero V
	list, err := l.Load(ctx, caseID)
	if err != nil {
		return zero, err
	}
	for _, v := range list {
		if idOf(v) == id {
			return v, nil
		}
	}
	return zero, badInput("item %d of case %d does not exist (any more)", id, caseID)
}
