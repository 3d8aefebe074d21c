package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/stacker/stacker/tracing"
)

// Policy is how one service is protected from Stacker and Stacker from it:
// a per-attempt timeout, a cap on requests in flight (bulkhead), a circuit
// breaker and a budget for retries. The zero value gives the defaults below.
type Policy struct {
	// AttemptTimeout bounds one attempt of a call to this service, body
	// included; 0 keeps the shared client's Options.AttemptTimeout.
	AttemptTimeout time.Duration
	// MaxInFlight caps concurrent calls to this service; 0 means no cap. A
	// call over the cap waits for a slot until its context ends, then fails
	// with ErrOverloaded: one slow service cannot take every connection and
	// goroutine of the gateway.
	MaxInFlight int
	// The breaker opens after BreakerFailures consecutive failed calls, or
	// when at least half of BreakerMinCalls calls in the last BreakerWindow
	// failed; 0 turns the rule off, and with both off there is no breaker.
	// While open, calls fail at once with ErrUnavailable and the service is
	// left alone; after BreakerOpenFor (required when there is a breaker)
	// one probe call is let through, and its success closes it. A
	// BreakerWindow of 0 never forgets a call while the breaker is closed.
	BreakerFailures int
	BreakerMinCalls int
	BreakerWindow   time.Duration
	BreakerOpenFor  time.Duration
	// RetryRatio is how many retries the service may get per first attempt
	// over time (0.2: at most one retry for every five calls, once the
	// reserve of RetryReserve retries is spent). An outage then adds a fifth
	// to the load on the struggling service instead of multiplying it by
	// the number of attempts. 0 is an empty budget: no retries.
	RetryRatio   float64
	RetryReserve float64
	// Logger receives the breaker's state changes; nil discards them.
	Logger *slog.Logger
	// Identity is how the service learns who is asking (see identity.go);
	// the zero value forwards the caller's bearer token.
	Identity Identity
	// Observer learns of every call to the service (see Observer); nil
	// means none.
	Observer Observer
	// Tracer makes a span of every call and of each of its attempts, and
	// sends the attempt's traceparent to the service; nil makes none.
	Tracer *tracing.Tracer
}

// check reports a policy that cannot work. It defaults nothing: the values
// come from config.
func (p Policy) check() error {
	if (p.BreakerFailures > 0 || p.BreakerMinCalls > 0) && p.BreakerOpenFor <= 0 {
		return errors.New("policy: BreakerOpenFor must be positive when the breaker is on")
	}
	return nil
}

// Option configures a Service; NewService reports its error.
type Option func(*Service) error

// WithPolicy sets the service's resilience policy.
func WithPolicy(p Policy) Option {
	return func(s *Service) error {
		if err := p.check(); err != nil {
			return err
		}
		s.guard = newGuard(s.name, p)
		s.identity = p.Identity
		s.observer = p.Observer
		s.tracer = p.Tracer
		return nil
	}
}

// guard applies a Policy to the calls of one service.
type guard struct {
	attemptTimeout time.Duration
	slots          chan struct{} // nil: no bulkhead
	breaker        *gobreaker.CircuitBreaker[struct{}]
	budget         *retryBudget
	// inFlight counts the calls holding a slot (or running, without a
	// bulkhead); waiting those queued for a slot.
	inFlight, waiting atomic.Int64
}

func newGuard(service string, p Policy) *guard {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &guard{attemptTimeout: p.AttemptTimeout, budget: newRetryBudget(p.RetryRatio, p.RetryReserve)}
	if p.MaxInFlight > 0 {
		g.slots = make(chan struct{}, p.MaxInFlight)
	}
	if p.BreakerFailures <= 0 && p.BreakerMinCalls <= 0 {
		return g
	}
	g.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        service,
		MaxRequests: 1,
		Interval:    p.BreakerWindow,
		Timeout:     p.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return (p.BreakerFailures > 0 && int(c.ConsecutiveFailures) >= p.BreakerFailures) ||
				(p.BreakerMinCalls > 0 && int(c.Requests) >= p.BreakerMinCalls && c.TotalFailures*2 >= c.Requests)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			level := slog.LevelWarn
			if to == gobreaker.StateClosed {
				level = slog.LevelInfo
			}
			log.Log(context.Background(), level, "circuit breaker state changed",
				slog.String("service", name), slog.String("from", from.String()), slog.String("to", to.String()))
		},
		// Only the service's own failures count: a 404 or a 422 is a healthy
		// service answering, and a caller that gave up says nothing about it.
		IsExcluded: func(err error) bool {
			return errors.Is(err, errCallerGone)
		},
		IsSuccessful: func(err error) bool {
			return err == nil || !(errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout))
		},
	})
	return g
}

// errCallerGone marks a call that ended because its own context did.
var errCallerGone = errors.New("caller gave up")

// BreakerState reports the state of the service's circuit breaker: "closed",
// "half-open" or "open".
func (s *Service) BreakerState() string {
	if s.guard == nil || s.guard.breaker == nil {
		return "closed"
	}
	return s.guard.breaker.State().String()
}

// GuardStats is a service's guard as it stands now.
type GuardStats struct {
	// Breaker is the circuit breaker's state: "closed", "half-open" or
	// "open" (see BreakerState).
	Breaker string
	// InFlight is the calls running now; Waiting, those waiting for a
	// bulkhead slot (Policy.MaxInFlight).
	InFlight, Waiting int64
}

// GuardStats reports the state of the service's guard; an unguarded
// service has a closed breaker and no calls counted.
func (s *Service) GuardStats() GuardStats {
	st := GuardStats{Breaker: s.BreakerState()}
	if s.guard != nil {
		st.InFlight, st.Waiting = s.guard.inFlight.Load(), s.guard.waiting.Load()
	}
	return st
}

// run runs call under the guard: a bulkhead slot, then the breaker.
//
// A streamed call (an upload) takes no slot: it lasts as long as its client
// takes to send the file, minutes on a slow link, and a few such would
// hold every slot the service's quick reads need. The gateway caps uploads
// in flight itself (graphqlhttp's MaxUploads).
func (g *guard) run(ctx context.Context, s *Service, method, rawURL string, call func(context.Context) error) error {
	if g.slots != nil && !streamed(ctx) {
		select {
		case g.slots <- struct{}{}:
			defer func() { <-g.slots }()
		default:
			g.waiting.Add(1)
			select {
			case g.slots <- struct{}{}:
				g.waiting.Add(-1)
				defer func() { <-g.slots }()
			case <-ctx.Done():
				g.waiting.Add(-1)
				return &Error{
					Service: s.name, Method: method, URL: rawURL, Kind: ErrOverloaded,
					Message: fmt.Sprintf("%d calls already in flight; no slot freed before the deadline", cap(g.slots)),
					Err:     ctx.Err(),
				}
			}
		}
	}
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	if g.breaker == nil {
		return call(withBudget(ctx, g))
	}
	var callErr error
	_, err := g.breaker.Execute(func() (struct{}, error) {
		callErr = call(withBudget(ctx, g))
		// A call that failed because its caller gave up, or because its
		// streamed body did (a client over the limit or gone), says
		// nothing about the service.
		if callErr != nil && (ctx.Err() != nil || sourceFailed(ctx)) {
			return struct{}{}, fmt.Errorf("%w: %w", errCallerGone, callErr)
		}
		return struct{}{}, callErr
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return &Error{
			Service: s.name, Method: method, URL: rawURL, Kind: ErrUnavailable,
			Message: "circuit breaker open: the service failed repeatedly and is left alone for a while",
			Err:     errBreakerOpen,
		}
	case err != nil:
		return callErr
	}
	return nil
}

// retryBudget allows a retry for every 1/ratio first attempts, plus a
// reserve for quiet times (the token bucket of gRPC's retry throttling and
// Finagle's RetryBudget): deposits come from calls, withdrawals from retries.
type retryBudget struct {
	mu      sync.Mutex
	ratio   float64
	reserve float64
	tokens  float64
}

func newRetryBudget(ratio, reserve float64) *retryBudget {
	return &retryBudget{ratio: ratio, reserve: reserve, tokens: reserve}
}

func (b *retryBudget) deposit() {
	if b.ratio <= 0 {
		return
	}
	b.mu.Lock()
	b.tokens = math.Min(b.tokens+b.ratio, b.reserve+b.ratio*100)
	b.mu.Unlock()
}

// withdraw takes one retry from the budget, if there is one.
func (b *retryBudget) withdraw() bool {
	if b.ratio <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type guardKey struct{}

// withBudget tells the shared client's retry policy and attempt transport,
// which see only a request, whose budget and attempt timeout apply to it.
func withBudget(ctx context.Context, g *guard) context.Context {
	g.budget.deposit()
	return context.WithValue(ctx, guardKey{}, g)
}

func guardFrom(ctx context.Context) *guard {
	g, _ := ctx.Value(guardKey{}).(*guard)
	return g
}
