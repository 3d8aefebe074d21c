package gateway

import (
	"fmt"
	"net/http"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/metrics"
	"github.com/stacker/stacker/operations"
	"github.com/stacker/stacker/upstream"
)

// newMetrics builds the metrics when STACKER_METRICS_ADDR is set, nil
// otherwise: a gateway without them pays nothing for them. The front end's
// operations always get series of their own.
func newMetrics(cfg config.Config) (*metrics.Metrics, error) {
	if cfg.Server.MetricsAddr == "" {
		return nil, nil
	}
	known, err := operations.Names()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return metrics.New(metrics.Options{KnownOperations: known, MaxOperations: cfg.Server.MetricsOperations})
}

// callObserver is m as the upstream clients' observer: a nil interface, not
// one holding a nil *Metrics, when there are no metrics.
func callObserver(m *metrics.Metrics) upstream.Observer {
	if m == nil {
		return nil
	}
	return m
}

// metricsRoutes is the metrics listener's one route.
func metricsRoutes(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}
