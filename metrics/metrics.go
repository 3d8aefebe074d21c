// Package metrics is Stacker's Prometheus metrics, served on the operators'
// metrics listener (STACKER_METRICS_ADDR); docs/metrics.md lists them.
//
// It is the one package that imports the Prometheus client. The rest of
// Stacker keeps its own figures and knows nothing of it: the upstream
// clients tell an upstream.Observer of every call (Metrics is one), the
// GraphQL handler runs the operation middlewares here, and the counters
// other packages already keep (the event bus's, the subscription engine's,
// the audit trail's, each service's guard) are read at scrape time rather
// than counted twice.
//
// Every metric lives on the registry a Metrics owns, never on Prometheus's
// global one, so two gateways in one process (the tests run many) keep
// their own. Every label's values are bounded (see bounded): a client can
// choose an operation's name, but 10,000 invented names make one "other"
// series, not 10,000.
package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options bound the labels clients can influence.
type Options struct {
	// KnownOperations are operation names that always get series of their
	// own: the front end's (operations.Names).
	KnownOperations []string
	// MaxOperations is how many other names get series of their own, first
	// come first served; later ones share "other". 0: none do.
	MaxOperations int
}

// Metrics holds the gateway's metrics and their registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	// The label values that clients or upstream answers can influence,
	// each bounded.
	operations, routes, codes *bounded

	opDuration *prometheus.HistogramVec
	opErrors   *prometheus.CounterVec
	opCalls    *prometheus.HistogramVec

	upRequests  *prometheus.CounterVec
	upDuration  *prometheus.HistogramVec
	upIDs       *prometheus.HistogramVec
	upRetries   *prometheus.CounterVec
	upExhausted *prometheus.CounterVec

	cacheRequests *prometheus.CounterVec
}

// Routes and error codes come from Stacker's own code, so these caps are
// never reached in practice; they stand in case one day a value leaks in
// from outside (an id left in a path, an upstream's code).
const (
	maxRoutes = 100
	maxCodes  = 50
)

// New builds the metrics on a registry of their own, with the Go runtime's
// and the process's collectors beside them.
func New(o Options) (*Metrics, error) {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		operations: newBounded(o.MaxOperations, o.KnownOperations...),
		routes:     newBounded(maxRoutes),
		codes:      newBounded(maxCodes),

		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stacker_operation_duration_seconds",
			Help: "Queries and mutations, from parsing to the last response, by operation name and type.",
			// 5 ms to 10 s: the operation deadline's default is 10 s.
			Buckets: prometheus.DefBuckets,
		}, []string{"operation", "type"}),
		opErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stacker_operation_errors_total",
			Help: "Errors in responses, by operation name and type and extensions.code; type is unknown for a request refused before its operation was known.",
		}, []string{"operation", "type", "code"}),
		opCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stacker_operation_upstream_calls",
			Help: "Upstream calls one query or mutation made, by operation name.",
			// The case board makes 8; a page of unrelated lookups more.
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128},
		}, []string{"operation"}),

		upRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stacker_upstream_requests_total",
			Help: "Upstream calls, retries included in one, by service, route template, method and outcome (the last HTTP status, or breaker_open, bulkhead_full, timeout, unavailable).",
		}, []string{"service", "route", "method", "status"}),
		upDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stacker_upstream_request_duration_seconds",
			Help: "Upstream calls from start to end, bulkhead wait, retries and backoff included, by service and route template.",
			// 1 ms (a service on loopback) to 5 s (the attempt timeout's default).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"service", "route"}),
		upIDs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stacker_upstream_batch_ids",
			Help: "Distinct ids sent in one batch call, by service and route template.",
			// Up to the services' limit of 100 ids a call.
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100},
		}, []string{"service", "route"}),
		upRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stacker_upstream_retries_total",
			Help: "Attempts after the first, by service.",
		}, []string{"service"}),
		upExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stacker_upstream_retry_budget_exhausted_total",
			Help: "Calls whose retry the service's retry budget refused, by service.",
		}, []string{"service"}),

		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stacker_cache_requests_total",
			Help: "Lookups in the persisted-query (apq) and parsed-query caches, by cache and result (hit, miss).",
		}, []string{"cache", "result"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.opDuration, m.opErrors, m.opCalls,
		m.upRequests, m.upDuration, m.upIDs, m.upRetries, m.upExhausted,
		m.cacheRequests,
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// Handler serves the metrics in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the metrics live, for tests that gather them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
