// Package gateway is the whole Stacker server built from a configuration:
// the event bus, the embedded demo services when no service URLs are set,
// the upstream clients, the resolvers, the GraphQL endpoint with its
// transports and limits, authentication, readiness, the routes and the
// operators' listeners (debug, metrics). New builds it and listens; Serve
// serves until its context ends, then drains and shuts down gracefully.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/debugserver"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/health"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/logging"
	"github.com/stacker/stacker/metrics"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/sentryreport"
	"github.com/stacker/stacker/upstream"
)

// Gateway is a Stacker server, listening.
type Gateway struct {
	cfg       config.Config
	log       *slog.Logger
	urls      map[string]string // the services' base URLs
	servers   []*http.Server    // the public one first, then the operators'
	listeners []net.Listener
	closers   []func() // what New built, closed in reverse order
	ready     *health.Readiness
	demo      *demo.Services
	// demoTokens are the demo identity provider's tokens, one per console
	// role, for the banner (STACKER_DEMO_AUTH).
	demoTokens []demoToken

	// debugLn and metricsLn are the operators' listeners, nil when off.
	debugLn, metricsLn net.Listener
}

// Run is the `serve` command: it reads the configuration through getenv,
// builds the gateway, prints the banner and serves until ctx ends.
func Run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if cfg.Server.GCPercent > 0 { // 0: GOGC was set, and Go has applied it
		debug.SetGCPercent(cfg.Server.GCPercent)
	}
	g, err := New(ctx, cfg, NewLogger(cfg, stderr), stderr)
	if err != nil {
		return err
	}
	g.PrintBanner(stdout)
	return g.Serve(ctx)
}

// NewLogger is the process's logger as configured.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return logging.New(cfg.Log.Format, cfg.Log.Level, serviceName, w)
}

// serviceName is the gateway's name in ECS log lines (service.name).
const serviceName = "stacker"

// newReporter is the Sentry reporter when SENTRY_DSN is set, nil otherwise
// (a nil interface, not one holding a nil *Reporter).
func newReporter(cfg config.Config) (resolvers.ErrorReporter, func(), error) {
	if cfg.Log.SentryDSN == "" {
		return nil, func() {}, nil
	}
	rel := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		rel = serviceName + "@" + bi.Main.Version
	}
	r, err := sentryreport.New(sentryreport.Options{DSN: cfg.Log.SentryDSN, Environment: cfg.Env, Release: rel})
	if err != nil {
		// The DSN is a secret: its text stays out of the message.
		return nil, nil, errors.New("configuration: SENTRY_DSN is not a valid Sentry DSN")
	}
	return r, func() { r.Close(2 * time.Second) }, nil
}

// New builds the gateway from cfg and listens on its addresses; ctx bounds
// the start-up only (connecting to the bus, starting the demo services).
// stderr receives the audit trail when STACKER_AUDIT=stderr. On error,
// whatever was built is closed again.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			for _, l := range g.listeners {
				l.Close()
			}
			g.close()
		}
	}()
	// First, so it is closed last: its shutdown sends the spans of
	// everything closed before it.
	tp, err := newTracing(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if tp != nil {
		g.closers = append(g.closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn("spans were lost at shutdown", "error", err)
			}
		})
	}
	tr := tp.Tracer()
	bus, err := openBus(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, func() { bus.Close() })
	// The listener opens only once the configuration has loaded and
	// everything it names was built, so a replica that answers has its
	// configuration: that check holds by construction and is listed so
	// the answer says so. The others can change while it runs.
	checks := []health.Check{
		{Name: "config", Run: func(context.Context) error { return nil }},
		{Name: "events", Run: bus.Ping},
	}

	if cfg.Demo.DemoAuth {
		if err := g.startDemoAuth(); err != nil {
			return nil, err
		}
		cfg = g.cfg // now naming the demo provider as the issuer
	}
	authn, keys, err := newAuthentication(cfg, log)
	if err != nil {
		return nil, err
	}
	if keys != nil {
		g.closers = append(g.closers, keys.Close)
		checks = append(checks, health.Check{Name: "auth_keys", Run: keys.Ready})
	}

	g.urls = cfg.Upstream.ServiceURLs
	if cfg.Embedded() {
		// With demo authentication the services check the forwarded token
		// themselves, as real ones would: their own key source and
		// verifier, against the same provider.
		var guard *auth.Middleware
		if cfg.Demo.DemoAuth {
			var guardKeys *auth.KeySource
			guard, guardKeys, err = newAuthentication(cfg, log.With("component", "demo"))
			if err != nil {
				return nil, err
			}
			g.closers = append(g.closers, guardKeys.Close)
		}
		g.demo, g.urls, err = startDemo(ctx, cfg, log, bus, guard)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, func() { g.demo.Close() })
	}

	m, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}

	up := cfg.Upstream
	hc := upstream.NewHTTPClient(upstream.Options{
		MaxIdleConnsPerHost: up.MaxIdleConns,
		AttemptTimeout:      up.AttemptTimeout,
		RetryMax:            up.Retries,
		RetryWaitMin:        up.RetryWaitMin,
		RetryWaitMax:        up.RetryWaitMax,
		MaxRetryAfter:       up.MaxRetryAfter,
		Logger:              log.With("component", "upstream"),
	})
	g.closers = append(g.closers, hc.CloseIdleConnections)
	clients, err := loaders.NewClients(g.urls, hc, func(service string) upstream.Policy {
		return upstream.Policy{
			AttemptTimeout:  up.ServiceTimeouts[service],
			MaxInFlight:     up.MaxInFlight,
			BreakerFailures: up.BreakerFailures,
			BreakerMinCalls: up.BreakerMinCalls,
			BreakerWindow:   up.BreakerWindow,
			BreakerOpenFor:  up.BreakerOpenFor,
			RetryRatio:      up.RetryBudget,
			RetryReserve:    float64(up.RetryReserve),
			Logger:          log.With("component", "upstream"),
			Identity:        upstream.Identity(cfg.Auth.ServiceIdentity[service]),
			Observer:        callObserver(m),
			Tracer:          tr,
		}
	})
	if err != nil {
		return nil, err
	}
	trail, err := newAuditTrail(ctx, cfg, log, stderr)
	if err != nil {
		return nil, err
	}
	if trail != nil {
		g.closers = append(g.closers, func() { trail.Close() })
	}
	reporter, closeReporter, err := newReporter(cfg)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, closeReporter)
	res, err := resolvers.New(resolvers.Deps{
		Reporter:         reporter,
		Audit:            trail,
		Clients:          clients,
		Loaders:          loaders.Options{Wait: up.LoaderWait, Tracer: tr},
		Logger:           log,
		OperationTimeout: cfg.Server.OperationTimeout,
		UploadTimeout:    cfg.Server.UploadTimeout,
		Events:           bus,
		Authorization:    authorization(cfg),
		Live: live.Options{
			MaxPerReplica: cfg.Subscriptions.Max,
			MaxPerConn:    cfg.Subscriptions.MaxPerConnection,
			Buffer:        cfg.Subscriptions.Buffer,
		},
	})
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, res.Close)
	if m != nil {
		err := m.Watch(metrics.Sources{Services: clients.Services(), Events: bus, Live: res.LiveStats, Audit: trail})
		if err != nil {
			return nil, err
		}
	}

	apq, closeAPQ, err := newAPQCache(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, closeAPQ)
	if r, ok := apq.(*graphqlhttp.RedisAPQCache); ok {
		checks = append(checks, health.Check{Name: "redis", Run: r.Ping})
	}
	g.ready = health.NewReadiness(log.With("component", "readiness"), readinessTimeout, checks...)
	idem := newIdempotencyStore(cfg, apq)
	if m != nil {
		apq = metrics.CountCache(m, "apq", apq)
	}
	var trusted *graphqlhttp.TrustedDocuments
	if cfg.FrontDoor.TrustedDocumentsOff && cfg.Env == "production" {
		log.Warn("STACKER_TRUSTED_DOCUMENTS=off: this production gateway runs any operation a client sends; " +
			"register the front end's operations in a trusted documents manifest instead")
	}
	if cfg.FrontDoor.TrustedDocuments != "" {
		trusted, err = graphqlhttp.LoadTrustedDocuments(cfg.FrontDoor.TrustedDocuments, cfg.Env == "production", log.With("component", "trusted-documents"))
		if err != nil {
			return nil, fmt.Errorf("configuration: STACKER_TRUSTED_DOCUMENTS: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (STACKER_ADDR): %w", cfg.Server.Addr, err)
	}
	g.listeners = append(g.listeners, ln)
	g.servers = append(g.servers, &http.Server{
		Handler:           withDeadlines(routes(newGraphQLHandler(res, cfg, apq, idem, trusted, authn, m, tr, log), graphqlhttp.CORS{Origins: cfg.FrontDoor.CORSOrigins}, authn, g.ready, log, g.playgroundHeaders(), tr), cfg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// A GET carries its operation in the request line, which the
		// body limit bounds (the transport answers 414 past it).
		MaxHeaderBytes: cfg.Limits.MaxBodyBytes + 64<<10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
	if cfg.Server.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.Server.DebugAddr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s (STACKER_DEBUG_ADDR): %w", cfg.Server.DebugAddr, err)
		}
		g.listeners, g.debugLn = append(g.listeners, dln), dln
		g.servers = append(g.servers, &http.Server{Handler: debugserver.Handler(counters(res, trail)), ReadHeaderTimeout: 10 * time.Second})
	}
	if m != nil {
		mln, err := net.Listen("tcp", cfg.Server.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s (STACKER_METRICS_ADDR): %w", cfg.Server.MetricsAddr, err)
		}
		g.listeners, g.metricsLn = append(g.listeners, mln), mln
		g.servers = append(g.servers, &http.Server{Handler: metricsRoutes(m), ReadHeaderTimeout: 10 * time.Second})
	}
	return g, nil
}

// Addr is where the gateway serves GraphQL.
func (g *Gateway) Addr() net.Addr { return g.listeners[0].Addr() }

// readinessTimeout bounds the checks of one readiness probe, under the
// probe's own timeout (2s in deploy/), so a dependency that hangs is
// answered as failing rather than leaving the probe unanswered.
const readinessTimeout = time.Second

// Serve serves until ctx ends, then shuts down in the order a load balancer
// needs: /readyz answers 503 at once while everything is still served for
// STACKER_SHUTDOWN_DELAY (time for the load balancer to notice and stop
// sending); then the listeners close and requests in flight get
// STACKER_SHUTDOWN_TIMEOUT; last, everything New built is closed.
func (g *Gateway) Serve(ctx context.Context) error {
	defer g.close()
	g.log.Info("stacker started", "addr", g.Addr().String(), "embedded_demo", g.cfg.Embedded())
	errc := make(chan error, len(g.servers))
	for i, s := range g.servers {
		go func() { errc <- s.Serve(g.listeners[i]) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	g.ready.Drain()
	if d := g.cfg.Server.ShutdownDelay; d > 0 {
		g.log.Info("draining: not ready, serving on until load balancers stop sending", "delay", d.String())
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serving: %w", err)
		}
	}
	g.log.Info("shutting down", "timeout", g.cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.Server.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range g.servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (g *Gateway) close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
	g.closers = nil
}

// PrintBanner tells a person where everything is.
func (g *Gateway) PrintBanner(w io.Writer) {
	base := "http://" + displayAddr(g.Addr())
	fmt.Fprintf(w, "Stacker is ready\n")
	fmt.Fprintf(w, "  GraphQL     %s/graphql\n", base)
	fmt.Fprintf(w, "  Playground  %s/\n", base)
	if g.debugLn != nil {
		fmt.Fprintf(w, "  Debug       http://%s/debug/pprof/\n", displayAddr(g.debugLn.Addr()))
	}
	if g.metricsLn != nil {
		fmt.Fprintf(w, "  Metrics     http://%s/metrics\n", displayAddr(g.metricsLn.Addr()))
	}
	if g.cfg.Embedded() {
		fmt.Fprintf(w, "  Demo services (embedded):\n")
	} else {
		fmt.Fprintf(w, "  Services:\n")
	}
	for _, s := range config.Services() {
		fmt.Fprintf(w, "    %-13s %s\n", s, g.urls[s])
	}
	if len(g.demoTokens) > 0 {
		fmt.Fprintf(w, "  Demo identity provider  %s (STACKER_DEMO_AUTH; every request needs a token)\n", g.cfg.Auth.Issuer)
		fmt.Fprintf(w, "  Bearer tokens, valid until %s:\n", g.demoTokens[0].expires.Format(time.DateTime))
		for _, t := range g.demoTokens {
			fmt.Fprintf(w, "    %-16s %s\n", t.role, t.token)
		}
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
