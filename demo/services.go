package demo

import (
	"context"
	"errors"
	"fmt"
	"github.com/stacker/stacker/events"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServiceNames returns the names of the eight services, which are also the
// plural resource names in their URLs.
func ServiceNames() []string {
	return []string{"patients", "insurers", "cases", "staff", "doctors", "clinics", "appointments", "documents"}
}

// Options configures Services.
type Options struct {
	// Latency is added to every request before it is answered; a request
	// whose context ends first is answered 503 at once. SetLatency changes it
	// per service at runtime.
	Latency time.Duration
	// Logger receives one Debug record per request and server errors; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for writes (PATCH updated_at, the "starts_at in the
	// past" check); nil means time.Now.
	Now func() time.Time
	// Middleware, when set, wraps each service's endpoints inside the
	// counting, request-id and latency layer: the place for fault injection
	// (5xx, 429, dropped connections) so injected faults are still counted.
	// To drop a connection, use http.NewResponseController(w).Hijack.
	Middleware func(service string, next http.Handler) http.Handler
	// Publish, when set, receives the domain events of successful writes:
	// case.updated after a PATCH of a case, appointment.scheduled after an
	// appointment is created, appointment.cancelled or .rescheduled after a
	// PATCH of one, as the real services publish them on the bus.
	Publish func(ctx context.Context, e events.Event) error
	// MaxUploadBytes caps the file of a multipart POST /documents; 0 means
	// DefaultMaxUploadBytes.
	MaxUploadBytes int64
}

// Services serves the eight services over one Store, counting requests per
// service and per endpoint. Its methods are safe for concurrent use.
type Services struct {
	store   *Store
	publish func(ctx context.Context, e events.Event) error
	// maxUpload caps an uploaded file (Options.MaxUploadBytes).
	maxUpload int64
	log       *slog.Logger
	now       func() time.Time
	byName    map[string]*service // fixed in New, read without locking
	scratch   sync.Pool           // *scratch, a request's working memory

	mu      sync.Mutex // guards servers, cancel and closed
	servers []*http.Server
	cancel  context.CancelFunc // ends the servers' request contexts
	closed  bool
	serving sync.WaitGroup // Serve goroutines

	closeOnce sync.Once
	closeErr  error
}

// service is one service's outermost handler: counting, request-id echo,
// logging and latency, in front of an optional Options.Middleware and the
// router.
type service struct {
	*resource
	s *Services

	latency  atomic.Int64 // a time.Duration
	requests atomic.Int64
	inFlight atomic.Int64

	prefix    string      // "/<plural>"
	endpoints []*endpoint // every endpoint below, for snapshots
	selects   []*selector // GET /<plural>?ids= first, then the resource's selectors
	oneEP     *endpoint   // GET /<plural>/:id
	patchEP   *endpoint   // PATCH /<plural>/:id, nil when not allowed
	createEP  *endpoint   // POST /<plural>, nil when not allowed
	other     *endpoint   // anything that is not an endpoint: 404, 405, no selector

	// next is Options.Middleware around the router, nil without one: then
	// ServeHTTP dispatches the route it counted instead of routing (and
	// parsing the query) twice.
	next http.Handler
}

// endpoint counts the requests routed to it. key is the EndpointSnapshot key,
// "<service> <METHOD> <path>[?<selector>]", e.g. "cases GET /cases?status".
type endpoint struct {
	key   string
	count atomic.Int64
}

// New builds the services over store (a fresh NewStore when nil).
func New(store *Store, opts Options) *Services {
	if store == nil {
		store = NewStore()
	}
	s := &Services{
		publish: opts.Publish,
		store:   store,
		log:     opts.Logger,
		now:     opts.Now,
		byName:  make(map[string]*service),

		maxUpload: opts.MaxUploadBytes,
	}
	if s.maxUpload <= 0 {
		s.maxUpload = DefaultMaxUploadBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.scratch.New = func() any { return new(scratch) }
	for _, res := range s.resources() {
		svc := newService(s, res)
		svc.latency.Store(int64(max(opts.Latency, 0)))
		if opts.Middleware != nil {
			svc.next = opts.Middleware(res.name, http.HandlerFunc(svc.serve))
		}
		s.byName[res.name] = svc
	}
	return s
}

func newService(s *Services, res *resource) *service {
	svc := &service{resource: res, s: s, prefix: "/" + res.name}
	ep := func(method, path string) *endpoint {
		e := &endpoint{key: res.name + " " + method + " " + path}
		svc.endpoints = append(svc.endpoints, e)
		return e
	}
	coll, member := "/"+res.name, "/"+res.name+"/:id"
	ids := &selector{params: []string{"ids"}, serve: svc.serveIDs}
	svc.selects = append([]*selector{ids}, res.selects...)
	for _, sel := range svc.selects {
		sel.ep = ep(http.MethodGet, coll+"?"+sel.params[0])
	}
	svc.oneEP = ep(http.MethodGet, member)
	if res.patch != nil {
		svc.patchEP = ep(http.MethodPatch, member)
	}
	if res.create != nil {
		svc.createEP = ep(http.MethodPost, coll)
	}
	for _, n := range res.nested {
		for _, sel := range n.selects {
			sel.ep = ep(http.MethodGet, "/"+n.name+"?"+sel.params[0])
		}
		n.createEP = ep(http.MethodPost, member+"/"+n.name)
	}
	svc.other = &endpoint{key: res.name + " other"}
	svc.endpoints = append(svc.endpoints, svc.other)
	return svc
}

func (svc *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc.requests.Add(1)
	svc.inFlight.Add(1)
	defer svc.inFlight.Add(-1)
	t := svc.route(r)
	t.ep.count.Add(1)
	// The canonical spelling of X-Request-ID: Get and Set canonicalise their
	// key, which allocates for a key that is not canonical already.
	const requestIDHeader = "X-Request-Id"
	if id := r.Header.Get(requestIDHeader); id != "" {
		w.Header().Set(requestIDHeader, id)
	}

	ctx := r.Context()
	if svc.s.log.Enabled(ctx, slog.LevelDebug) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() {
			svc.s.log.LogAttrs(ctx, slog.LevelDebug, "demo request",
				slog.String("service", svc.name),
				slog.String("endpoint", t.ep.key),
				slog.String("method", r.Method),
				slog.String("uri", r.URL.RequestURI()),
				slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", r.Header.Get(requestIDHeader)),
				slog.String("traceparent", r.Header.Get("traceparent")))
		}()
	}

	if d := time.Duration(svc.latency.Load()); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			// The client gave up or the server is closing: answer now rather
			// than hold a handler (and Close) for the rest of the latency.
			timer.Stop()
			svc.s.writeError(w, http.StatusServiceUnavailable, "request cancelled")
			return
		}
	}
	if svc.next != nil {
		svc.next.ServeHTTP(w, r) // the middleware may change r: route it again
		return
	}
	svc.dispatch(w, r, t)
}

// statusWriter records the status for the request log. Unwrap lets
// http.ResponseController reach the connection through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Handler returns the handler of the named service, with counting, latency
// and request-id echo; it is the same handler Start serves.
func (s *Services) Handler(name string) (http.Handler, error) {
	svc, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("demo: unknown service %q", name)
	}
	return svc, nil
}

// Start listens on host with port 0 for each service and serves until ctx
// ends or Close is called. It returns each service's base URL
// ("http://127.0.0.1:port") by service name. Request contexts end when ctx
// ends or Close is called, which cuts injected latency short.
func (s *Services) Start(ctx context.Context, host string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("demo: start: services are closed")
	}
	if s.servers != nil {
		return nil, errors.New("demo: start: already started")
	}
	names := ServiceNames()
	listeners := make([]net.Listener, 0, len(names))
	urls := make(map[string]string, len(names))
	for _, name := range names {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return nil, fmt.Errorf("demo: start %s: %w", name, err)
		}
		listeners = append(listeners, ln)
		urls[name] = "http://" + ln.Addr().String()
	}

	base, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	for i, name := range names {
		srv := &http.Server{
			Handler:           s.byName[name],
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.servers = append(s.servers, srv)
		s.serving.Add(1)
		go func(ln net.Listener) {
			defer s.serving.Done()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("demo: serve", "service", name, "err", err)
			}
		}(listeners[i])
	}
	go func() {
		<-base.Done()
		if err := s.Close(); err != nil {
			s.log.Error("demo: close", "err", err)
		}
	}()
	return urls, nil
}

// Close stops the servers Start started and waits for their handlers; it
// first ends the request contexts, so requests sleeping in injected latency
// are answered 503 at once instead of holding Close. Later calls return the
// first call's result.
func (s *Services) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		servers, cancel := s.servers, s.cancel
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		var errs []error
		for _, srv := range servers {
			if err := srv.Shutdown(context.Background()); err != nil {
				errs = append(errs, err)
			}
		}
		s.serving.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Requests returns the number of requests the service has received since the
// last ResetCounts (0 for an unknown service).
func (s *Services) Requests(service string) int64 {
	if svc, ok := s.byName[service]; ok {
		return svc.requests.Load()
	}
	return 0
}

// InFlight returns the number of requests the service is serving now.
func (s *Services) InFlight(service string) int64 {
	if svc, ok := s.byName[service]; ok {
		return svc.inFlight.Load()
	}
	return 0
}

// Snapshot returns the request counts by service, leaving out services with
// no requests so tests can compare it with a literal map.
func (s *Services) Snapshot() map[string]int64 {
	out := make(map[string]int64)
	for name, svc := range s.byName {
		if n := svc.requests.Load(); n > 0 {
			out[name] = n
		}
	}
	return out
}

// EndpointSnapshot returns the request counts by endpoint, keyed
// "<service> <METHOD> <path>[?<selector>]" (for example
// "patients GET /patients?ids", "cases GET /cases?status",
// "cases GET /cases/:id", "cases PATCH /cases/:id"), plus "<service> other"
// for requests that matched no endpoint. Endpoints with no requests are left
// out.
func (s *Services) EndpointSnapshot() map[string]int64 {
	out := make(map[string]int64)
	for _, svc := range s.byName {
		for _, ep := range svc.endpoints {
			if n := ep.count.Load(); n > 0 {
				out[ep.key] = n
			}
		}
	}
	return out
}

// ResetCounts sets every request count to zero; in-flight counts are left
// alone since those requests are still running.
func (s *Services) ResetCounts() {
	for _, svc := range s.byName {
		svc.requests.Store(0)
		for _, ep := range svc.endpoints {
			ep.count.Store(0)
		}
	}
}

// SetLatency sets the latency of one service, or of all when service is "";
// it applies to requests that start afterwards. Unknown names are ignored.
func (s *Services) SetLatency(service string, d time.Duration) {
	d = max(d, 0)
	for name, svc := range s.byName {
		if service == "" || service == name {
			svc.latency.Store(int64(d))
		}
	}
}

// Latency returns the service's current latency.
func (s *Services) Latency(service string) time.Duration {
	if svc, ok := s.byName[service]; ok {
		return time.Duration(svc.latency.Load())
	}
	return 0
}
