package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/upstream"
)

// Sources are the parts whose own figures the metrics read at scrape
// time. A nil field is a part this gateway does not have.
type Sources struct {
	Services []*upstream.Service // each one's guard: breaker, in flight, waiting
	Events   events.Bus          // events received, delivered, dropped, malformed
	Live     func() live.Stats   // WebSocket connections and subscriptions
	Audit    *audit.Trail        // audit records written and lost
}

// Watch adds what sources report to the metrics. Call it once, when the
// parts exist (the upstream clients need Metrics as their observer before
// that).
func (m *Metrics) Watch(s Sources) error {
	for _, svc := range s.Services {
		// Zeros from the start, so a rate or an alert sees every service
		// before its first retry.
		m.upRetries.WithLabelValues(svc.Name())
		m.upExhausted.WithLabelValues(svc.Name())
	}
	if err := m.reg.Register(newSources(s)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// sources is the collector of what Sources report. Its descriptions are
// made with it: the package keeps no state of its own.
type sources struct {
	Sources
	breaker, inFlight, waiting                 *prometheus.Desc
	received, delivered, busDropped, malformed *prometheus.Desc
	connections, subscriptions, subsDropped    *prometheus.Desc
	auditWritten, auditLost                    *prometheus.Desc
}

func newSources(s Sources) sources {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return sources{
		Sources: s,
		breaker: d("stacker_upstream_breaker_state",
			"1 for the state each service's circuit breaker is in (closed, half-open, open), 0 for the others.", "service", "state"),
		inFlight: d("stacker_upstream_in_flight", "Calls to each service running now.", "service"),
		waiting:  d("stacker_upstream_waiting", "Calls to each service waiting for a bulkhead slot now.", "service"),

		received:   d("stacker_events_received_total", "Valid events that reached this replica's event bus."),
		delivered:  d("stacker_events_delivered_total", "Events handed to the bus's subscribers, one per subscriber per event."),
		busDropped: d("stacker_events_subscribers_dropped_total", "Bus subscribers dropped, and their waiting events with them, because they fell behind."),
		malformed:  d("stacker_events_malformed_total", "Payloads on the bus that were not valid events, skipped."),

		connections:   d("stacker_live_connections", "WebSocket connections open now."),
		subscriptions: d("stacker_live_subscriptions", "GraphQL subscriptions open now, on any transport."),
		subsDropped:   d("stacker_live_subscriptions_dropped_total", "Subscriptions dropped because their client did not keep up with its events."),

		auditWritten: d("stacker_audit_records_written_total", "Audit records the audit sink took."),
		auditLost:    d("stacker_audit_records_lost_total", "Audit records not kept: buffer full, sink failed, or written after close."),
	}
}

func (s sources) Describe(ch chan<- *prometheus.Desc) {
	if len(s.Services) > 0 {
		ch <- s.breaker
		ch <- s.inFlight
		ch <- s.waiting
	}
	if s.Events != nil {
		ch <- s.received
		ch <- s.delivered
		ch <- s.busDropped
		ch <- s.malformed
	}
	if s.Live != nil {
		ch <- s.connections
		ch <- s.subscriptions
		ch <- s.subsDropped
	}
	if s.Audit != nil {
		ch <- s.auditWritten
		ch <- s.auditLost
	}
}

func (s sources) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	for _, svc := range s.Services {
		st := svc.GuardStats()
		// One of the three is 1 at a time.
		for _, state := range []string{"closed", "half-open", "open"} {
			v := 0.0
			if st.Breaker == state {
				v = 1
			}
			gauge(s.breaker, v, svc.Name(), state)
		}
		gauge(s.inFlight, float64(st.InFlight), svc.Name())
		gauge(s.waiting, float64(st.Waiting), svc.Name())
	}
	if s.Events != nil {
		st := s.Events.Stats()
		counter(s.received, float64(st.Received))
		counter(s.delivered, float64(st.Delivered))
		counter(s.busDropped, float64(st.Dropped))
		counter(s.malformed, float64(st.Malformed))
	}
	if s.Live != nil {
		st := s.Live()
		gauge(s.connections, float64(st.Connections))
		gauge(s.subscriptions, float64(st.Subscriptions))
		counter(s.subsDropped, float64(st.Dropped))
	}
	if s.Audit != nil {
		counter(s.auditWritten, float64(s.Audit.Written()))
		counter(s.auditLost, float64(s.Audit.Lost()))
	}
}
