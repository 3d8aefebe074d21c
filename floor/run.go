package floor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/debugserver"
)

// Run is the `floor` command: it serves the case board on STACKER_ADDR (at
// /graphql, so the load command's URL only changes port) and the process
// figures on STACKER_DEBUG_ADDR, calling the services the
// STACKER_<SERVICE>_URL variables name, until ctx ends.
//
// It takes from the configuration what shapes the cost of a request in the
// gateway too, so the comparison is of the work and not of the tuning: the
// GOGC the gateway sets, its keep-alive pool per service and its operation
// timeout.
func Run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if cfg.Embedded() {
		return errors.New("floor: set the STACKER_<SERVICE>_URL variables; `stacker demo` prints them")
	}
	if cfg.Server.GCPercent > 0 { // 0: GOGC was set, and Go has applied it
		debug.SetGCPercent(cfg.Server.GCPercent)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns = 0 // the per-host limit is the one that matters, as in the gateway
	tr.MaxIdleConnsPerHost = cfg.Upstream.MaxIdleConns
	hc := &http.Client{Transport: tr}
	defer hc.CloseIdleConnections()
	h, err := New(cfg.Upstream.ServiceURLs, hc, cfg.Server.OperationTimeout)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	routes := []route{{cfg.Server.Addr, "STACKER_ADDR", mux}}
	if cfg.Server.DebugAddr != "" {
		routes = append(routes, route{cfg.Server.DebugAddr, "STACKER_DEBUG_ADDR", debugserver.Handler(nil)})
	}
	var servers []*http.Server
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	for _, r := range routes {
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			return fmt.Errorf("listening on %s (%s): %w", r.addr, r.env, err)
		}
		listeners = append(listeners, ln)
		servers = append(servers, &http.Server{Handler: r.handler, ReadHeaderTimeout: 10 * time.Second})
	}

	fmt.Fprintf(stdout, "Stacker floor is ready (the case board without a gateway)\n")
	fmt.Fprintf(stdout, "  Case board  http://%s/graphql\n", listeners[0].Addr())
	for _, ln := range listeners[1:] {
		fmt.Fprintf(stdout, "  Debug       http://%s/debug/stats\n", ln.Addr())
	}
	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("floor: serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(sctx))
	}
	return errors.Join(errs...)
}

// route is one listener: its address, the variable that set it, what it
// serves.
type route struct {
	addr, env string
	handler   http.Handler
}
