// Package gateway is the whole Stacker server built from a configuration:
// the event bus, the embedded demo services when no service URLs are set,
// the upstream clients, the resolvers, the GraphQL endpoint with its
// transports and limits, the routes and the operators' debug listener.
// New builds it and listens; Serve serves until its context ends, then
// shuts down gracefully.
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

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/debugserver"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/upstream"
)

// Gateway is a Stacker server, listening.
type Gateway struct {
	cfg       config.Config
	log       *slog.Logger
	urls      map[string]string // the services' base URLs
	servers   []*http.Server    // the public one first, then the debug one
	listeners []net.Listener
	closers   []func() // what New built, closed in reverse order
}

// Run is the `serve` command: it reads the configuration through getenv,
// builds the gateway, prints the banner and serves until ctx ends.
func Run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if getenv("GOGC") == "" {
		// A query allocates a few MB of short-lived garbage (gqlgen's per-field
		// contexts) while the live heap stays small, so the default GOGC=100
		// collects several times per query; 400 trades some memory for a fifth
		// less CPU. GOGC and GOMEMLIMIT in the environment take precedence.
		debug.SetGCPercent(defaultGCPercent)
	}
	g, err := New(ctx, cfg, NewLogger(cfg, stderr))
	if err != nil {
		return err
	}
	g.PrintBanner(stdout)
	return g.Serve(ctx)
}

// defaultGCPercent is the GOGC Stacker runs with unless GOGC is set.
const defaultGCPercent = 400

// NewLogger is the process's logger as configured.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New builds the gateway from cfg and listens on its addresses; ctx bounds
// the start-up only (connecting to the bus, starting the demo services).
// On error, whatever was built is closed again.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			for _, l := range g.listeners {
				l.Close()
			}
			g.close()
		}
	}()
	bus, err := openBus(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, func() { bus.Close() })

	g.urls = cfg.ServiceURLs
	if cfg.Embedded() {
		var svcs *demo.Services
		svcs, g.urls, err = startDemo(ctx, cfg, log, bus)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, func() { svcs.Close() })
	}

	hc := upstream.NewHTTPClient(upstream.Options{
		MaxIdleConnsPerHost: cfg.UpstreamMaxIdleConns,
		AttemptTimeout:      cfg.UpstreamAttemptTimeout,
		RetryMax:            retries(cfg.UpstreamRetries),
		Logger:              log.With("component", "upstream"),
	})
	g.closers = append(g.closers, hc.CloseIdleConnections)
	clients, err := loaders.NewClients(g.urls, hc, func(service string) upstream.Policy {
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
		return nil, err
	}
	res := resolvers.New(resolvers.Deps{
		Clients:          clients,
		Loaders:          loaders.Options{Wait: cfg.LoaderWait},
		Logger:           log,
		OperationTimeout: cfg.OperationTimeout,
		Events:           bus,
		Live:             live.Options{MaxPerReplica: cfg.MaxSubscriptions, MaxPerConn: cfg.MaxSubscriptionsPerConnection},
	})
	g.closers = append(g.closers, res.Close)

	apq, closeAPQ, err := newAPQCache(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, closeAPQ)
	var trusted *graphqlhttp.TrustedDocuments
	if cfg.TrustedDocumentsOff && cfg.Env == "production" {
		log.Warn("STACKER_TRUSTED_DOCUMENTS=off: this production gateway runs any operation a client sends; " +
			"register the front end's operations in a trusted documents manifest instead")
	}
	if cfg.TrustedDocuments != "" {
		trusted, err = graphqlhttp.LoadTrustedDocuments(cfg.TrustedDocuments, cfg.Env == "production", log.With("component", "trusted-documents"))
		if err != nil {
			return nil, fmt.Errorf("configuration: STACKER_TRUSTED_DOCUMENTS: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (STACKER_ADDR): %w", cfg.Addr, err)
	}
	g.listeners = append(g.listeners, ln)
	g.servers = append(g.servers, &http.Server{
		Handler:           withDeadlines(routes(newGraphQLHandler(res, cfg, apq, trusted), graphqlhttp.CORS{Origins: cfg.CORSOrigins}, log), cfg),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// A GET carries its operation in the request line, which the
		// body limit bounds (the transport answers 414 past it).
		MaxHeaderBytes: cfg.MaxBodyBytes + 64<<10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	})
	if cfg.DebugAddr != "" {
		dln, err := net.Listen("tcp", cfg.DebugAddr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s (STACKER_DEBUG_ADDR): %w", cfg.DebugAddr, err)
		}
		g.listeners = append(g.listeners, dln)
		g.servers = append(g.servers, &http.Server{Handler: debugserver.Handler(), ReadHeaderTimeout: 10 * time.Second})
	}
	return g, nil
}

// Addr is where the gateway serves GraphQL.
func (g *Gateway) Addr() net.Addr { return g.listeners[0].Addr() }

// Serve serves until ctx ends, then shuts down gracefully: in-flight
// requests get STACKER_SHUTDOWN_TIMEOUT, and everything New built is closed.
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
	g.log.Info("shutting down", "timeout", g.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
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

// retries maps "0 retries" from the environment to the upstream package's
// "no retries", whose zero value means "the default".
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
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

// PrintBanner tells a person where everything is.
func (g *Gateway) PrintBanner(w io.Writer) {
	base := "http://" + displayAddr(g.Addr())
	fmt.Fprintf(w, "Stacker is ready\n")
	fmt.Fprintf(w, "  GraphQL     %s/graphql\n", base)
	fmt.Fprintf(w, "  Playground  %s/\n", base)
	for _, d := range g.listeners[1:] {
		fmt.Fprintf(w, "  Debug       http://%s/debug/pprof/\n", displayAddr(d.Addr()))
	}
	if g.cfg.Embedded() {
		fmt.Fprintf(w, "  Demo services (embedded):\n")
	} else {
		fmt.Fprintf(w, "  Services:\n")
	}
	for _, s := range config.Services() {
		fmt.Fprintf(w, "    %-13s %s\n", s, g.urls[s])
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
