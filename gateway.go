package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/playground"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/upstream"
)

// serve runs the gateway until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	if getenv("GOGC") == "" {
		// A query allocates a few MB of short-lived garbage (gqlgen's per-field
		// contexts) while the live heap stays small, so the default GOGC=100
		// collects several times per query; 400 trades some memory for a fifth
		// less CPU. GOGC and GOMEMLIMIT in the environment take precedence.
		debug.SetGCPercent(defaultGCPercent)
	}

	bus, err := openBus(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer bus.Close()

	urls := cfg.ServiceURLs
	if cfg.Embedded() {
		var svcs *demo.Services
		svcs, urls, err = startDemo(ctx, cfg, log, bus)
		if err != nil {
			return err
		}
		defer svcs.Close()
	}

	hc := upstream.NewHTTPClient(upstream.Options{
		MaxIdleConnsPerHost: cfg.UpstreamMaxIdleConns,
		AttemptTimeout:      cfg.UpstreamAttemptTimeout,
		RetryMax:            retries(cfg.UpstreamRetries),
		Logger:              log.With("component", "upstream"),
	})
	defer hc.CloseIdleConnections()
	clients, err := loaders.NewClients(urls, hc, func(service string) upstream.Policy {
		return upstream.Policy{
			AttemptTimeout:  cfg.ServiceTimeouts[service],
			MaxInFlight:     inFlightCap(cfg.UpstreamMaxInFlight),
			BreakerFailures: cfg.BreakerFailures,
			BreakerOpenFor:  cfg.BreakerOpenFor,
			RetryRatio:      retryRatio(cfg.RetryBudget),
			Logger:          log.With("component", "upstream"),
		}
	})
	if err != nil {
		return err
	}
	res := resolvers.New(resolvers.Deps{
		Clients:          clients,
		Loaders:          loaders.Options{Wait: cfg.LoaderWait},
		Logger:           log,
		OperationTimeout: cfg.OperationTimeout,
		Events:           bus,
		Live:             resolvers.LiveOptions{MaxPerReplica: cfg.MaxSubscriptions, MaxPerConn: cfg.MaxSubscriptionsPerConnection},
	})
	defer res.Close()

	apq, closeAPQ, err := newAPQCache(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeAPQ()
	var trusted *graphqlhttp.TrustedDocuments
	if cfg.TrustedDocumentsOff && cfg.Env == "production" {
		log.Warn("STACKER_TRUSTED_DOCUMENTS=off: this production gateway runs any operation a client sends; " +
			"register the front end's operations in a trusted documents manifest instead")
	}
	if cfg.TrustedDocuments != "" {
		trusted, err = graphqlhttp.LoadTrustedDocuments(cfg.TrustedDocuments, cfg.Env == "production", log.With("component", "trusted-documents"))
		if err != nil {
			return fmt.Errorf("configuration: STACKER_TRUSTED_DOCUMENTS: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s (STACKER_ADDR): %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           withDeadlines(routes(newGraphQLHandler(res, cfg, apq, trusted), graphqlhttp.CORS{Origins: cfg.CORSOrigins}, log), cfg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// A GET carries its operation in the request line, which the
		// body limit bounds (the transport answers 414 past it).
		MaxHeaderBytes: cfg.MaxBodyBytes + 64<<10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listening on %s (STACKER_DEBUG_ADDR): %w", cfg.DebugAddr, err)
		}
		servers = append(servers, &http.Server{Handler: debugRoutes(), ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, dln)
	}

	printBanner(stdout, ln.Addr(), listeners[1:], urls, cfg.Embedded())
	log.Info("stacker started", "addr", ln.Addr().String(), "embedded_demo", cfg.Embedded())

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// playgroundQuery is the playground's first tab: the front-end team's main query.
//
//go:embed operations/CaseBoard.graphql
var playgroundQuery string

// defaultGCPercent is the GOGC Stacker runs with unless GOGC is set.
const defaultGCPercent = 400

// retries maps "0 retries" from the environment to the upstream package's
// "no retries", whose zero value means "the default".
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// inFlightCap and retryRatio map the configuration's "0 means none" to the
// upstream package's, whose zero values mean "the default".
func inFlightCap(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func retryRatio(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// newGraphQLHandler builds the GraphQL endpoint with explicit parts (gqlgen's
// NewDefaultServer is meant for examples): Stacker's GraphQL-over-HTTP
// transport, a parsed-query cache, the request limits, persisted queries,
// the error presenter and per-operation loaders. The extensions that read
// the document run in order: trusted documents resolve or refuse it, APQ
// resolves a hash, then the limits look at the final text.
func newGraphQLHandler(res *resolvers.Resolver, cfg config.Config, apq graphql.Cache[string], trusted *graphqlhttp.TrustedDocuments) *handler.Server {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: res})
	srv := handler.New(es)
	// GraphQL over HTTP first: it claims every request but WebSocket
	// upgrades and Server-Sent Events, which go to the subscription
	// transports: graphql-transport-ws (and the legacy graphql-ws) over
	// WebSocket, and GraphQL over Server-Sent Events.
	srv.AddTransport(graphqlhttp.New(graphqlhttp.Options{MaxBodyBytes: int64(cfg.MaxBodyBytes), MaxBatch: cfg.BatchMax}))
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(newWebsocketTransport(res, websocketOrigins(cfg), 10*time.Second))
	srv.SetQueryCache(lru.New[*ast.QueryDocument](cfg.QueryCacheSize))
	srv.SetParserTokenLimit(cfg.MaxTokens)
	srv.SetDisableSuggestion(!cfg.FieldSuggestions)
	srv.SetValidationRulesFn(graphqlhttp.ValidationRules(cfg.FieldSuggestions))
	if trusted != nil {
		srv.Use(trusted)
	}
	if apq != nil {
		srv.Use(&graphqlhttp.APQ{Cache: apq, MaxEntryBytes: cfg.APQMaxEntryBytes})
	}
	srv.Use(&graphqlhttp.Limits{
		MaxTokens: cfg.MaxTokens, MaxDepth: cfg.MaxDepth, MaxAliases: cfg.MaxAliases,
		MaxRootFields: cfg.MaxRootFields, MaxDirectives: cfg.MaxDirectives, MaxCost: cfg.MaxCost,
		MaxFields: cfg.MaxFields, MaxRepeats: cfg.MaxFieldRepeats,
		Cost: resolvers.CostModel(), Schema: es.Schema(),
	})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(graphqlhttp.NoIntrospection{})
	}
	srv.SetErrorPresenter(res.ErrorPresenter)
	srv.SetRecoverFunc(res.Recover)
	srv.AroundOperations(res.AroundOperations)
	srv.AroundResponses(graphqlhttp.LimitErrors(cfg.MaxErrors))
	srv.AroundResponses(resolvers.SortErrors)
	return srv
}

// newAPQCache is Redis when configured (shared by all replicas), memory
// otherwise.
func newAPQCache(ctx context.Context, cfg config.Config, log *slog.Logger) (graphql.Cache[string], func(), error) {
	if cfg.RedisURL == "" {
		return graphqlhttp.NewMemoryAPQCache(cfg.APQMaxBytes), func() {}, nil
	}
	c, err := graphqlhttp.NewRedisAPQCache(cfg.RedisURL, cfg.APQMaxBytes, log.With("component", "apq"))
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: STACKER_REDIS_URL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		log.Warn("redis does not answer yet; persisted queries degrade to misses until it does", "error", err)
	}
	return c, func() { c.Close() }, nil
}

// routes lists every route of the gateway.
func routes(gql http.Handler, cors graphqlhttp.CORS, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", cors.Wrap(noSniff(withCloseNotice(gql))))
	pg := playground.Handler(playground.Options{
		Endpoint: "/graphql", SubscriptionEndpoint: "/graphql", DefaultQuery: playgroundQuery, Title: "Stacker",
	})
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /graphiql", pg)
	mux.Handle("GET /playground/", pg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	return withRequestID(withAccessLog(mux, log))
}

// withDeadlines bounds the time a request may hold its connection: its
// headers and body must arrive within ReadTimeout (a client that sends one
// byte of body and stalls is cut off), and its answer must be written
// within WriteTimeout of the operation's deadline (a client that never reads
// a large answer does not pin it in memory). WebSockets and Server-Sent
// Events live as long as their subscriptions and get neither; their
// connection may have served a plain request before, so any deadline left
// from it is cleared.
func withDeadlines(next http.Handler, cfg config.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if streaming(r) {
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		} else {
			now := time.Now()
			_ = rc.SetReadDeadline(now.Add(cfg.ReadTimeout))
			_ = rc.SetWriteDeadline(now.Add(cfg.ReadTimeout + cfg.OperationTimeout + cfg.WriteTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// streaming reports whether a request opens a subscription stream.
func streaming(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// noSniff keeps browsers from reading an answer as anything but what its
// Content-Type says.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// debugRoutes are for operators only and live on their own listener
// (STACKER_DEBUG_ADDR), never on the public one: pprof and process figures
// for the load command.
func debugRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(processStats())
	})
	return mux
}

// stats is what the load command reads before and after a run.
type stats struct {
	CPUSeconds     float64 `json:"cpu_seconds"`
	MaxRSSBytes    int64   `json:"max_rss_bytes"`
	HeapInuseBytes uint64  `json:"heap_inuse_bytes"`
	Goroutines     int     `json:"goroutines"`
}

func processStats() stats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return stats{
		CPUSeconds:     tv(ru.Utime) + tv(ru.Stime),
		MaxRSSBytes:    int64(ru.Maxrss) * 1024, // Linux reports KiB
		HeapInuseBytes: ms.HeapInuse,
		Goroutines:     runtime.NumGoroutine(),
	}
}

// withRequestID gives every request an id: the client's X-Request-ID when it
// sent a sane one, a random one otherwise. It is echoed in the response,
// logged, and forwarded to every upstream call the request makes.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := upstream.WithRequestID(r.Context(), id)
		if tp := r.Header.Get("traceparent"); tp != "" && len(tp) <= 64 {
			ctx = upstream.WithTraceparent(ctx, tp)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush keeps Server-Sent Events streaming through the recorder: gqlgen
// asserts http.Flusher on the writer it is given.
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func withAccessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		id, _ := upstream.RequestID(r.Context())
		log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", id),
		)
	})
}

func printBanner(w io.Writer, addr net.Addr, debug []net.Listener, urls map[string]string, embedded bool) {
	base := "http://" + displayAddr(addr)
	fmt.Fprintf(w, "Stacker is ready\n")
	fmt.Fprintf(w, "  GraphQL     %s/graphql\n", base)
	fmt.Fprintf(w, "  Playground  %s/\n", base)
	for _, d := range debug {
		fmt.Fprintf(w, "  Debug       http://%s/debug/pprof/\n", displayAddr(d.Addr()))
	}
	if embedded {
		fmt.Fprintf(w, "  Demo services (embedded):\n")
	} else {
		fmt.Fprintf(w, "  Services:\n")
	}
	for _, s := range config.Services() {
		fmt.Fprintf(w, "    %-13s %s\n", s, urls[s])
	}
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
