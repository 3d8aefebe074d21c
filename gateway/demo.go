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
	svcs, urls, err := startDemo(ctx, cfg, log, bus)
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
func startDemo(ctx context.Context, cfg config.Config, log *slog.Logger, bus events.Bus) (*demo.Services, map[string]string, error) {
	faults, err := demo.ParseFaults(cfg.Demo.Faults)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: STACKER_DEMO_FAULTS: %w", err)
	}
	svcs := demo.New(demo.NewStore(), demo.Options{
		Latency:    cfg.Demo.Latency,
		Logger:     log.With("component", "demo"),
		Middleware: demo.NewFaultInjector(faults).Middleware,
		Publish:    bus.Publish,
	})
	urls, err := svcs.Start(ctx, "127.0.0.1")
	if err != nil {
		return nil, nil, fmt.Errorf("starting demo services: %w", err)
	}
	return svcs, urls, nil
}
