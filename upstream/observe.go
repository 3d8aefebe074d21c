package upstream

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stacker/stacker/tracing"
)

// Observer learns of every upstream call once it is over, its retries
// included. The gateway's metrics implement it, so this package keeps no
// metrics of its own and imports no metrics library. ObserveCall runs on the
// caller's goroutine, on every call: it must be quick and must not block.
// ctx is the call's context, so an observer can attribute the call to the
// operation that made it.
type Observer interface {
	ObserveCall(ctx context.Context, c Call)
}

// Call is one finished upstream call as an Observer sees it.
type Call struct {
	Service string
	Method  string
	// Route is the path with its ids taken out, so it names what was
	// called without naming which row: "/patients/:id" for /patients/42,
	// and "/patients?ids" for a batch by the ids parameter. Its values are
	// as few as the typed clients' paths.
	Route string
	// Status is the last attempt's HTTP status; 0 when no attempt got an
	// answer (see Outcome).
	Status int
	// Err is what the call returned; nil on success.
	Err      error
	Duration time.Duration // from the call to its return, waits and retries included
	// IDs is the number of distinct ids a batch call sent; 0 for a call
	// that is not a batch.
	IDs int
	// Retries is the number of attempts after the first.
	Retries int
	// BudgetExhausted says the retry policy wanted one more attempt and the
	// service's retry budget refused it.
	BudgetExhausted bool
}

// Outcome names how the call ended in one word from a small set: the last
// answer's status ("200", "503"), or, when no answer came, why:
// "breaker_open" and "bulkhead_full" (not sent), "timeout", "unavailable"
// (the connection failed).
func (c Call) Outcome() string {
	switch {
	case c.Status != 0:
		return strconv.Itoa(c.Status)
	case c.Err == nil:
		return "ok"
	case errors.Is(c.Err, errBreakerOpen):
		return "breaker_open"
	case errors.Is(c.Err, ErrOverloaded):
		return "bulkhead_full"
	case errors.Is(c.Err, ErrTimeout):
		return "timeout"
	default:
		return "unavailable"
	}
}

// routeOf is path with every all-digit segment replaced by ":id", and
// idParam, the batch's id-list parameter when there is one, appended as
// "?<idParam>". The typed clients put ids in paths only as decimal numbers.
func routeOf(path, idParam string) string {
	var b strings.Builder
	b.Grow(len(path) + len(idParam) + 4)
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			seg = ":id"
		}
		b.WriteString(seg)
	}
	if idParam != "" {
		b.WriteByte('?')
		b.WriteString(idParam)
	}
	return b.String()
}

// request is what the observer needs of a call that the URL no longer says
// plainly: its path before the base and query were added, and its id list.
type request struct {
	path    string
	idParam string // the id-list parameter of a batch; "" otherwise
	ids     int
}

// record is one observed call's tally, which the attempts and the retry
// policy fill in as the call goes. It is reached through the request's
// context because the shared client sees only requests; the attempts of
// one call run one after another, so it needs no lock.
type record struct {
	status    int
	attempts  int
	exhausted bool
}

type recordKey struct{}

func withRecord(ctx context.Context, r *record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// recordFrom is the call's record, nil when nobody observes the call.
func recordFrom(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

// traced is what an attempt's span needs of the call it belongs to, reached
// through the request's context like record (and, like it, without a lock).
type traced struct {
	service  *Service
	route    string
	attempts int // so far: the next attempt's retry number
}

type tracedKey struct{}

func withTraced(ctx context.Context, t *traced) context.Context {
	return context.WithValue(ctx, tracedKey{}, t)
}

// attemptSpan starts the span of the attempt req is about to make, on a
// copy of req that carries the span's traceparent; req and a zero span when
// the call is not traced.
func attemptSpan(req *http.Request) (*http.Request, tracing.Span) {
	t, _ := req.Context().Value(tracedKey{}).(*traced)
	if t == nil {
		return req, tracing.Span{}
	}
	// Each attempt gets its own traceparent: retryablehttp sends one
	// request's headers again, and a RoundTripper must not change them.
	cp := req.WithContext(req.Context())
	cp.Header = req.Header.Clone()
	cp, span := t.service.tracer.Attempt(cp, t.service.name, t.route, t.attempts, t.service.BreakerState())
	t.attempts++
	return cp, span
}

// errBreakerOpen is the cause of a call refused by an open breaker, so
// Outcome can tell it from a failed connection (both are ErrUnavailable).
var errBreakerOpen = errors.New("the call was not sent")
