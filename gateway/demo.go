package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/auth/demoidp"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventsurl"
)

// RunDemo is the `demo` command: it runs only the demo services, so a
// benchmark can run them in a process of their own and count the gateway's
// CPU alone. It prints one
// STACKER_<SERVICE>_URL=... line per service (ready for `env $(cat file)`)
// and STACKER_DEMO_STATS_URL, where the load command reads request counts.
func RunDemo(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := NewLogger(cfg, stderr)
	bus, err := openBus(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer bus.Close()
	svcs, urls, err := startDemo(ctx, cfg, log, bus, nil)
	if err != nil {
		return err
	}
	defer svcs.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for demo stats: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"requests": svcs.Snapshot()})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	for _, s := range config.Services() {
		fmt.Fprintf(stdout, "%s=%s\n", config.EnvName(s), urls[s])
	}
	fmt.Fprintf(stdout, "STACKER_DEMO_STATS_URL=http://%s/stats\n", ln.Addr())
	log.Info("demo services running", "latency", cfg.Demo.Latency.String())
	<-ctx.Done()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("stopping", slog.String("cause", err.Error()))
	}
	return nil
}

// openBus opens the event bus STACKER_EVENTS_URL names.
func openBus(ctx context.Context, cfg config.Config, log *slog.Logger) (events.Bus, error) {
	bus, err := eventsurl.Open(ctx, cfg.Subscriptions.EventsURL, log.With("component", "events"), events.Options{})
	if err != nil {
		return nil, fmt.Errorf("configuration: STACKER_EVENTS_URL: %w", err)
	}
	return bus, nil
}

// startDemo starts the demo services on loopback as configured (latency,
// faults), publishing their events on bus, and returns their base URLs.
// With guard, every service refuses a call without a valid token (401)
// before its faults apply; the calls are counted either way.
func startDemo(ctx context.Context, cfg config.Config, log *slog.Logger, bus events.Bus, guard *auth.Middleware) (*demo.Services, map[string]string, error) {
	faults, err := demo.ParseFaults(cfg.Demo.Faults)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: STACKER_DEMO_FAULTS: %w", err)
	}
	inject := demo.NewFaultInjector(faults)
	middleware := inject.Middleware
	if guard != nil {
		middleware = func(service string, next http.Handler) http.Handler {
			return guard.Wrap(inject.Middleware(service, next))
		}
	}
	svcs := demo.New(demo.NewStore(), demo.Options{
		Latency:    cfg.Demo.Latency,
		Logger:     log.With("component", "demo"),
		Middleware: middleware,
		Publish:    bus.Publish,
	})
	urls, err := svcs.Start(ctx, "127.0.0.1")
	if err != nil {
		return nil, nil, fmt.Errorf("starting demo services: %w", err)
	}
	return svcs, urls, nil
}

// demoTokenTTL is how long the banner's tokens last: a working day of
// clicking through the playground.
const demoTokenTTL = 12 * time.Hour

// demoToken is one console role's token, for the banner.
type demoToken struct {
	role, token string
	expires     time.Time
}

// startDemoAuth starts the demo identity provider on loopback, points the
// gateway's authentication at it and signs a token per console role
// (STACKER_DEMO_AUTH).
func (g *Gateway) startDemoAuth() error {
	idp, err := demoidp.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo identity provider: %w", err)
	}
	g.closers = append(g.closers, func() { idp.Close() })
	g.cfg.Auth.Issuer, g.cfg.Auth.Audience = idp.Issuer, demoidp.Audience
	expires := time.Now().Add(demoTokenTTL)
	for _, r := range demoidp.Roles() {
		tok, err := idp.Token(r, demoTokenTTL)
		if err != nil {
			return err
		}
		g.demoTokens = append(g.demoTokens, demoToken{role: r.Name, token: tok, expires: expires})
	}
	g.log.Info("demo identity provider started", "issuer", idp.Issuer)
	return nil
}

// playgroundHeaders is what the playground's Headers tab starts with: the
// case manager's Authorization header under STACKER_DEMO_AUTH, else
// nothing.
func (g *Gateway) playgroundHeaders() string {
	for _, t := range g.demoTokens {
		if t.role == "case_manager" {
			b, _ := json.MarshalIndent(map[string]string{"Authorization": "Bearer " + t.token}, "", "  ")
			return string(b)
		}
	}
	return ""
}
