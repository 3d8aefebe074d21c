package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/stacker/stacker/tracing"
)

const (
	// maxBodyBytes caps how much of a successful response is read, so a
	// hostile or broken upstream cannot exhaust the gateway's memory.
	maxBodyBytes = 32 << 20
	// maxPooledBuffer: a buffer grown past this by an unusually large
	// answer is dropped rather than kept in the pool.
	maxPooledBuffer = 1 << 20
	// maxErrorBodyBytes caps how much of an error response is read.
	maxErrorBodyBytes = 64 << 10
	// drainBytes is how much unread body is discarded before closing, so
	// the connection can go back to the pool; past that it is dropped.
	drainBytes = 4 << 10
	// maxMessageBytes caps the upstream message kept in an Error.
	maxMessageBytes = 512
)

// Service is one upstream service: its name (used in errors), its base URL
// and the shared *http.Client. The typed clients in upstream/<service> wrap
// one each. A Service is immutable and safe for concurrent use.
type Service struct {
	name    string
	base    string // absolute http(s) URL without a trailing slash
	hc      *http.Client
	maxBody int64
	bufs    *sync.Pool // *bytes.Buffer for response bodies
	types   *sync.Map  // envelopeKey -> reflect.Type, see keyed.unmarshal
	guard   *guard     // bulkhead, breaker, retry budget; see Policy
	// identity is how the caller is named to the service.
	identity Identity
	// observer learns of every call; nil: nobody does.
	observer Observer
	// tracer makes the spans of every call; nil: none.
	tracer *tracing.Tracer
}

// NewService checks that baseURL is an absolute http or https URL with a host
// (and no query or fragment), and returns a Service that sends requests to
// paths under it through hc.
//
// Without WithPolicy the service is unguarded: no bulkhead, no breaker and
// no retry budget, so retries are bounded by the client's RetryMax alone.
func NewService(name, baseURL string, hc *http.Client, opts ...Option) (*Service, error) {
	if name == "" {
		return nil, errors.New("upstream: service name is empty")
	}
	if hc == nil {
		return nil, fmt.Errorf("upstream %s: http client is nil", name)
	}
	if baseURL == "" {
		return nil, fmt.Errorf("upstream %s: base URL is empty", name)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: base URL %q: %w", name, baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("upstream %s: base URL %q must be an absolute http or https URL", name, baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("upstream %s: base URL %q has no host", name, baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream %s: base URL %q must not have a query, fragment or user info", name, baseURL)
	}
	s := &Service{
		name:    name,
		base:    strings.TrimRight(u.String(), "/"),
		hc:      hc,
		maxBody: maxBodyBytes,
		bufs:    &sync.Pool{New: func() any { return new(bytes.Buffer) }},
		types:   &sync.Map{},
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("upstream %s: %w", name, err)
		}
	}
	return s, nil
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// BaseURL returns the service's base URL without a trailing slash.
func (s *Service) BaseURL() string { return s.base }

// Get sends GET base+path?query and decodes a 2xx JSON body into out (nil
// discards it). Failures are *Error (or *ValidationError for a 422).
func (s *Service) Get(ctx context.Context, path string, query url.Values, out any) error {
	return s.get(ctx, request{path: path}, query.Encode(), out)
}

// get is Get with a ready-made query string; the typed helpers use it to
// send id lists without url.Values' map and escaping.
func (s *Service) get(ctx context.Context, r request, rawQuery string, out any) error {
	u := s.base + r.path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return s.do(ctx, http.MethodGet, u, r, nil, out)
}

// Send sends body as JSON with method to base+path and decodes a 2xx JSON
// answer into out (nil discards it). A 422 becomes a *ValidationError. Only
// GET and HEAD are ever retried, so a write is sent once.
func (s *Service) Send(ctx context.Context, method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("upstream %s: %s %s: encode body: %w", s.name, method, path, err)
	}
	return s.do(ctx, method, s.base+path, request{path: path}, &payload{r: bytes.NewReader(data), contentType: "application/json"}, out)
}

// SendStream sends body, of the given content type, with method (never GET
// or HEAD) to base+path as it is read: chunked, never buffered, and sent
// exactly once. A streamed body cannot be replayed, so nothing retries it:
// the shared client sends every write straight to the pool (bypassing
// retryablehttp, which would read the whole body into memory to be able
// to retry), and net/http cannot resend it on a dropped idle connection
// either, since the request has no GetBody. Everything else a call gets is
// the same as Send's: identity headers, X-Request-Id, traceparent, the
// guard, the observers and the span. A failure to read body aborts the
// request, so the service sees a broken body; the error wraps the read's.
func (s *Service) SendStream(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	if method == http.MethodGet || method == http.MethodHead || body == nil {
		return fmt.Errorf("upstream %s: %s %s: a streamed body needs a write method and a body", s.name, method, path)
	}
	src := &source{r: body}
	err := s.do(withStreamed(ctx, src), method, s.base+path, request{path: path}, &payload{r: src, contentType: contentType}, out)
	if rerr := src.err(); err != nil && rerr != nil && !errors.Is(err, rerr) {
		// How net/http reports a body that failed to read varies with the
		// moment it failed; the reader's own error does not.
		err = fmt.Errorf("%w (%w)", rerr, err)
	}
	return err
}

// payload is a request's body and its content type.
type payload struct {
	r           io.Reader
	contentType string
}

// do makes the call, in a span of its own when the service is traced, and
// tells the observers about it when there are any: the service's, and the
// one its context carries (WithCallRecorder).
func (s *Service) do(ctx context.Context, method, rawURL string, r request, body *payload, out any) (err error) {
	if c, ok := ctx.Value(callCountKey).(*CallCount); ok {
		c.n.Add(1)
	}
	ctx, done := bind(ctx)
	defer done()
	recorder := callRecorder(ctx)
	if s.observer == nil && recorder == nil && s.tracer == nil {
		return s.guarded(ctx, method, rawURL, body, out)
	}
	route := routeOf(r.path, r.idParam)
	if s.tracer != nil {
		var span tracing.Span
		ctx, span = s.tracer.Batch(ctx, s.name, method, route, r.ids)
		ctx = withTraced(ctx, &traced{service: s, route: route})
		defer func() { span.End(err) }()
	}
	if s.observer == nil && recorder == nil {
		return s.guarded(ctx, method, rawURL, body, out)
	}
	rec := &record{}
	start := time.Now()
	err = s.guarded(withRecord(ctx, rec), method, rawURL, body, out)
	c := Call{
		Service: s.name, Method: method, Route: route,
		Status: rec.status, Err: err, Duration: time.Since(start), IDs: r.ids,
		Retries: max(rec.attempts-1, 0), BudgetExhausted: rec.exhausted,
	}
	if s.observer != nil {
		s.observer.ObserveCall(ctx, c)
	}
	if recorder != nil {
		recorder.ObserveCall(ctx, c)
	}
	return err
}

// guarded is one call under the service's guard, if it has one.
func (s *Service) guarded(ctx context.Context, method, rawURL string, body *payload, out any) error {
	if s.guard == nil {
		return s.call(ctx, method, rawURL, body, out)
	}
	return s.guard.run(ctx, s, method, rawURL, func(ctx context.Context) error {
		return s.call(ctx, method, rawURL, body, out)
	})
}

// call is one call, retries included, outside the guard.
func (s *Service) call(ctx context.Context, method, rawURL string, body *payload, out any) error {
	var rd io.Reader
	if body != nil {
		rd = body.r
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return fmt.Errorf("upstream %s: build request: %w", s.name, err)
	}
	h := req.Header
	h["Accept"] = []string{"application/json"}
	if body != nil {
		h["Content-Type"] = []string{body.contentType}
	}
	if id, ok := RequestID(ctx); ok {
		h["X-Request-Id"] = []string{id}
	}
	if tp, ok := Traceparent(ctx); ok {
		h["Traceparent"] = []string{tp}
	}
	s.identity.set(ctx, h)

	resp, err := s.hc.Do(req)
	if err != nil {
		return s.transportError(ctx, method, rawURL, err)
	}
	defer drainAndClose(resp.Body)
	if rec := recordFrom(ctx); rec != nil {
		rec.status = resp.StatusCode
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		return s.decode(ctx, method, rawURL, resp, out)
	}
	return s.statusError(method, rawURL, resp)
}

// decode reads the body, through a size limit, into a pooled buffer and
// unmarshals it into out. Reading first lets json.Unmarshal work on one
// slice instead of a Decoder refilling and growing its own buffer.
func (s *Service) decode(ctx context.Context, method, rawURL string, resp *http.Response, out any) error {
	lr := &io.LimitedReader{R: resp.Body, N: s.maxBody + 1}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			s.bufs.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(lr)
	if err == nil && lr.N > 0 {
		if k, ok := out.(*keyed); ok {
			err = k.unmarshal(s.types, buf.Bytes())
		} else {
			err = gojson.Unmarshal(buf.Bytes(), out)
		}
	}
	if err == nil && lr.N > 0 {
		return nil
	}
	e := &Error{
		Service: s.name, Method: method, URL: rawURL, StatusCode: resp.StatusCode,
		Kind: ErrUnavailable, Message: "decode response", Err: err,
	}
	switch {
	case lr.N <= 0:
		e.Message = fmt.Sprintf("response body exceeds %d bytes", s.maxBody)
		e.Err = nil
	case isTimeout(ctx, err):
		e.Kind = ErrTimeout
		e.Message = "read response"
	}
	return e
}

// transportError classifies a failure to get any response.
func (s *Service) transportError(ctx context.Context, method, rawURL string, err error) error {
	// url.Error repeats the method and URL the Error already has.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	kind := ErrUnavailable
	if isTimeout(ctx, err) {
		kind = ErrTimeout
	}
	return &Error{Service: s.name, Method: method, URL: rawURL, Kind: kind, Err: err}
}

func isTimeout(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errorBody is the Rails error shape: {"error": "..."} or {"errors": {...}}.
type errorBody struct {
	Error  string          `json:"error"`
	Errors json.RawMessage `json:"errors"`
}

// statusError turns a non-2xx response into *Error or *ValidationError.
func (s *Service) statusError(method, rawURL string, resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	var eb errorBody
	parsed := len(data) > 0 && json.Unmarshal(data, &eb) == nil

	if resp.StatusCode == http.StatusUnprocessableEntity && parsed {
		if fields := validationFields(eb.Errors); len(fields) > 0 {
			return &ValidationError{Service: s.name, Fields: fields}
		}
	}

	e := &Error{Service: s.name, Method: method, URL: rawURL, StatusCode: resp.StatusCode}
	switch {
	case parsed && eb.Error != "":
		e.Message = eb.Error
	case parsed && len(eb.Errors) > 0:
		e.Message = string(eb.Errors)
	case !parsed:
		e.Message = string(data)
	}
	e.Message = truncate(strings.TrimSpace(e.Message), maxMessageBytes)

	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		e.Kind = ErrBadRequest
	case http.StatusNotFound:
		e.Kind = ErrNotFound
	case http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
	case http.StatusRequestTimeout:
		e.Kind = ErrTimeout
	default:
		// 5xx, and any status the contract does not use.
		e.Kind = ErrUnavailable
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// validationFields reads {"field": ["msg", ...]}, or a bare list of messages
// (kept under "base", Rails' name for model-wide errors).
func validationFields(raw json.RawMessage) map[string][]string {
	if len(raw) == 0 {
		return nil
	}
	var fields map[string][]string
	if json.Unmarshal(raw, &fields) == nil {
		return fields
	}
	var base []string
	if json.Unmarshal(raw, &base) == nil && len(base) > 0 {
		return map[string][]string{"base": base}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// drainAndClose reads a little of what is left so the connection can be
// reused, then closes the body.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	_ = body.Close()
}
