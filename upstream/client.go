// Package upstream is the shared HTTP plumbing for the typed clients in
// upstream/<service>: one pooled, retrying *http.Client for every service, the
// Service base those clients wrap, request-id, traceparent and caller
// propagation, and the error kinds the gateway classifies failures by. It knows nothing
// of GraphQL.
//
// Retries are for idempotent reads only. A GET or HEAD is retried, with
// jittered exponential backoff measured in milliseconds, after a connection
// error, a per-attempt timeout, or a 502, 503, 504 or 429; every other
// status is final. A 429's Retry-After is waited for only when the wait fits
// inside the request context's deadline (and Options.MaxRetryAfter);
// otherwise the call fails at once with ErrRateLimited, because a caller
// that will have given up by then gains nothing from the wait. POST and
// PATCH are sent exactly once: the services give no idempotency keys, so a
// retried write could be applied twice. Nothing is retried once the
// request's context is done.
package upstream

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"

	cleanhttp "github.com/hashicorp/go-cleanhttp"
	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"github.com/stacker/stacker/tracing"
)

// Options configures the shared HTTP client used for every service. Nothing
// here has a default of its own: the gateway passes config's values (see
// docs/configuration.md), and a zero turns off what a field enables.
type Options struct {
	// MaxIdleConnsPerHost sizes the keep-alive pool per service. A resolver
	// fan-out opens many concurrent requests to one host; net/http's own
	// value, which 0 keeps, is 2 and would close and redial most of them.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps connections per service; 0 means no cap.
	MaxConnsPerHost int
	// AttemptTimeout bounds one attempt, including reading its body; 0
	// means attempts are bounded only by the request's context, which
	// bounds the whole call in any case.
	AttemptTimeout time.Duration
	// RetryMax is the number of retries after the first attempt; 0 means
	// none.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the backoff between retries
	// (retryablehttp's own defaults are seconds, far too long on a request
	// path); 0 retries at once. A RetryWaitMax below RetryWaitMin is raised
	// to it.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRetryAfter is the longest 429 Retry-After that is waited for; 0
	// waits for none. It applies even when the context has no deadline, so
	// a hostile Retry-After cannot park a request.
	MaxRetryAfter time.Duration
	// Logger receives a record per retry; nil discards them. retryablehttp's
	// own stderr logger is never used.
	Logger *slog.Logger
}

// NewHTTPClient returns the client every Service shares. Its transport sends
// GET and HEAD through retryablehttp with the policy in the package comment
// and every other method straight to the pool, once. Build one per process:
// the connection pool is the point. CloseIdleConnections on the returned
// client closes the pool's idle connections.
func NewHTTPClient(o Options) *http.Client {
	o.MaxConnsPerHost = max(o.MaxConnsPerHost, 0)
	o.RetryMax = max(o.RetryMax, 0)
	o.RetryWaitMax = max(o.RetryWaitMax, o.RetryWaitMin)

	pool := cleanhttp.DefaultPooledTransport()
	pool.MaxIdleConnsPerHost = o.MaxIdleConnsPerHost
	pool.MaxConnsPerHost = o.MaxConnsPerHost
	// The per-host limit is what matters; the eight services are the only
	// hosts, so a global cap below 8*MaxIdleConnsPerHost would only evict.
	pool.MaxIdleConns = 0

	// attempt has no CloseIdleConnections method on purpose: retryablehttp
	// calls HTTPClient.CloseIdleConnections after every call that fails,
	// which on a shared pool would drop every other request's idle
	// connections whenever one service misbehaves.
	attempt := &attemptTransport{pool: pool, timeout: o.AttemptTimeout}
	p := &policy{maxRetryAfter: o.MaxRetryAfter, logger: o.Logger}
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: attempt},
		Logger:       nil, // never the default stderr logger; retries are logged by policy
		RetryWaitMin: o.RetryWaitMin,
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.RetryMax,
		CheckRetry:   p.checkRetry,
		Backoff:      p.backoff,
		// Hand back the last response (or error) as it was, so the caller
		// sees the final status instead of a generic "giving up" error.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &http.Client{Transport: &transport{
		retrying: &retryablehttp.RoundTripper{Client: rc},
		once:     attempt,
		pool:     pool,
	}}
}

// transport routes idempotent requests through retries and everything else
// straight to the pool.
type transport struct {
	retrying http.RoundTripper
	once     http.RoundTripper
	pool     *http.Transport
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.once
	switch req.Method {
	case "", http.MethodGet, http.MethodHead:
		rt = t.retrying
	}
	resp, err := rt.RoundTrip(req)
	if err != nil && resp != nil {
		// net/http ignores (and leaks) a response returned with an error.
		drainAndClose(resp.Body)
		resp = nil
	}
	return resp, err
}

func (t *transport) CloseIdleConnections() { t.pool.CloseIdleConnections() }

// attemptTransport gives each attempt its own deadline, which lasts until
// the response body is closed.
type attemptTransport struct {
	pool    *http.Transport
	timeout time.Duration
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rec := recordFrom(req.Context()); rec != nil {
		rec.attempts++
	}
	req, span := attemptSpan(req)
	timeout := t.timeout
	if g := guardFrom(req.Context()); g != nil && g.attemptTimeout > 0 {
		timeout = g.attemptTimeout
	}
	var ctx context.Context
	var cancel context.CancelFunc
	switch {
	case timeout > 0 && streamed(req.Context()):
		ctx, cancel = afterWritten(req.Context(), timeout)
	case timeout > 0:
		ctx, cancel = context.WithTimeout(req.Context(), timeout)
	default:
		ctx, cancel = context.WithCancel(req.Context())
	}
	resp, err := t.pool.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		span.EndHTTP(0, err)
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel, span: span, status: resp.StatusCode}
	return resp, nil
}

type streamedKey struct{}

// source is the body of a streamed call (SendStream), which remembers the
// first error reading it failed with: then the call failed because of the
// client sending it, not of the service. net/http reads it from a
// goroutine of its own, which may outlive the call, hence the lock.
type source struct {
	r     io.Reader
	mu    sync.Mutex
	first error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.mu.Lock()
		if s.first == nil {
			s.first = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// err is the first error reading the body failed with, if any.
func (s *source) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// withStreamed marks ctx as that of a call whose body streams in from the
// client (SendStream).
func withStreamed(ctx context.Context, src *source) context.Context {
	return context.WithValue(ctx, streamedKey{}, src)
}

func streamed(ctx context.Context) bool {
	_, ok := ctx.Value(streamedKey{}).(*source)
	return ok
}

// sourceFailed reports whether ctx is that of a streamed call whose body
// failed to read.
func sourceFailed(ctx context.Context) bool {
	src, ok := ctx.Value(streamedKey{}).(*source)
	return ok && src.err() != nil
}

// afterWritten is the context of an attempt whose body streams in from
// the client: the attempt timeout runs from when the body has been sent,
// not from the start, since a 50 MiB file on a slow link takes longer than
// any service should take to answer. Until then the operation's deadline
// (an upload's) bounds it.
func afterWritten(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	var mu sync.Mutex
	var timer *time.Timer
	stopped := false
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer = time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
		}
	}}
	return httptrace.WithClientTrace(ctx, trace), func() {
		mu.Lock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

// cancelOnClose ends an attempt, its deadline and its span, when its body
// is closed: the attempt lasts until its answer has been read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	span   tracing.Span
	status int
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	b.span.EndHTTP(b.status, nil)
	return err
}

// policy holds the retry decisions; its methods are retryablehttp's
// CheckRetry and Backoff.
type policy struct {
	maxRetryAfter time.Duration
	logger        *slog.Logger
}

// checkRetry never returns an error: retryablehttp would then hand back the
// response and an error together. The request's own outcome says what failed.
func (p *policy) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		// The caller is gone or out of time: that is the outcome, whatever
		// the last attempt answered, rather than a race between the two.
		return false, ctx.Err()
	}
	if err != nil {
		// Connection errors and attempt timeouts are retried; retryablehttp's
		// base policy already refuses the hopeless ones (bad scheme or
		// header, untrusted certificate, redirect loop).
		retry, _ := retryablehttp.ErrorPropagatedRetryPolicy(ctx, nil, err)
		if retry && !p.budgetAllows(ctx) {
			return false, nil
		}
		if retry {
			p.log(ctx, "retrying upstream request after error", slog.String("error", err.Error()))
		}
		return retry, nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	case http.StatusTooManyRequests:
		if wait, ok := retryAfter(resp); ok {
			if wait > p.maxRetryAfter {
				return false, nil
			}
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
				return false, nil
			}
		}
	default:
		return false, nil
	}
	if !p.budgetAllows(ctx) {
		return false, nil
	}
	p.log(ctx, "retrying upstream request after status",
		slog.String("method", resp.Request.Method),
		slog.String("url", withoutQueryValues(resp.Request.URL.String())),
		slog.Int("status", resp.StatusCode))
	return true, nil
}

// budgetAllows takes a retry from the service's retry budget. When the
// budget is spent the call fails with what the last attempt got.
func (p *policy) budgetAllows(ctx context.Context) bool {
	g := guardFrom(ctx)
	if g == nil || g.budget.withdraw() {
		return true
	}
	if rec := recordFrom(ctx); rec != nil {
		rec.exhausted = true
	}
	p.log(ctx, "retry budget exhausted; not retrying")
	return false
}

func (p *policy) log(ctx context.Context, msg string, attrs ...slog.Attr) {
	if p.logger == nil {
		return
	}
	if id, ok := RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	p.logger.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

// backoff waits Retry-After for a 429 that has one (checkRetry has made sure
// it fits), and otherwise an exponentially growing, jittered wait between
// min and max. The jitter keeps the many requests of one fan-out from
// retrying in lockstep.
func (p *policy) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if wait, ok := retryAfter(resp); ok {
			return wait
		}
	}
	d := max
	if attempt < 32 {
		if e := min << attempt; e > 0 && e < max {
			d = e
		}
	}
	lo := d / 2
	if lo < min {
		lo = min
	}
	if d <= lo {
		return lo
	}
	return lo + rand.N(d-lo+1)
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 1<<32 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(time.Until(at), 0), true
}
