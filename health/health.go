// Package health answers the two questions an orchestrator asks a replica.
// Liveness (/healthz): does the process answer at all? Nothing else is
// checked, so a broker outage never gets every replica restarted at once.
// Readiness (/readyz): should this replica get traffic? Only when every
// dependency it was configured with answers and it is not shutting down.
//
// The checks are whatever the gateway built (its event bus, its Redis, its
// identity provider's keys); this package knows none of them. Answers name
// each check and its state only: the reason a check fails, which may carry
// a host name, goes to the log, where it is written when the state changes
// rather than at every probe.
package health

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Check is one condition for getting traffic.
type Check struct {
	// Name names it in the answer and the log: short, lower case, no
	// address or secret.
	Name string
	// Run returns nil while the condition holds. It must honour ctx's
	// deadline: a probe is answered within the Readiness's timeout.
	Run func(ctx context.Context) error
}

// The states a Report gives.
const (
	StatusReady    = "ready"
	StatusNotReady = "not ready" // a check fails
	StatusDraining = "draining"  // shutting down, whatever the checks say
	CheckOK        = "ok"
	CheckFailing   = "failing"
)

// Report is a readiness answer, as /readyz serves it in JSON.
type Report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"` // check name -> CheckOK or CheckFailing
}

// Ready reports whether the replica should get traffic.
func (r Report) Ready() bool { return r.Status == StatusReady }

// Readiness is a replica's readiness: its checks, run at every probe, and
// whether it is draining. It is safe for concurrent use.
type Readiness struct {
	checks   []Check
	timeout  time.Duration
	log      *slog.Logger
	draining atomic.Bool

	mu      sync.Mutex
	failing map[string]bool // each check's last state, so only changes are logged
}

// NewReadiness returns the readiness of checks; each run of a check gets
// timeout (less than the orchestrator's probe timeout, so a hung
// dependency is answered as failing rather than not answered).
func NewReadiness(log *slog.Logger, timeout time.Duration, checks ...Check) *Readiness {
	return &Readiness{checks: checks, timeout: timeout, log: log, failing: map[string]bool{}}
}

// Drain makes the replica not ready for good: it is shutting down and
// load balancers should stop sending to it while it still serves.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Check runs every check at once and reports.
func (r *Readiness) Check(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	errs := make([]error, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Go(func() { errs[i] = c.Run(ctx) })
	}
	wg.Wait()

	rep := Report{Status: StatusReady, Checks: make(map[string]string, len(r.checks))}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.checks {
		failing := errs[i] != nil
		rep.Checks[c.Name] = CheckOK
		if failing {
			rep.Checks[c.Name] = CheckFailing
			rep.Status = StatusNotReady
		}
		was, seen := r.failing[c.Name]
		switch {
		case failing && !was:
			r.log.Warn("readiness: check failing; this replica asks for no traffic", "check", c.Name, "error", errs[i])
		case !failing && was:
			r.log.Info("readiness: check passing again", "check", c.Name)
		case !failing && !seen:
			r.log.Debug("readiness: check passing", "check", c.Name)
		}
		r.failing[c.Name] = failing
	}
	if r.draining.Load() {
		rep.Status = StatusDraining
	}
	return rep
}

// ServeHTTP answers a readiness probe: 200 when ready, 503 otherwise, with
// the Report either way.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := r.Check(req.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rep)
}

// CloseWhenDraining makes every answer begun while draining close its
// connection (Connection: close). Clients that hold connections open, such
// as a layer-4 load balancer's or a mesh's, then reconnect through the load
// balancer to a replica that is staying, instead of having an idle
// connection closed under them when the listener shuts. WebSocket upgrades
// are left alone: their answer must say Upgrade.
func (r *Readiness) CloseWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.draining.Load() && req.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, req)
	})
}

// Live answers a liveness probe: the process is running and serving HTTP.
func Live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
