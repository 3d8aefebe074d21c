package metrics

import (
	"context"

	"github.com/stacker/stacker/upstream"
)

var _ upstream.Observer = (*Metrics)(nil)

// ObserveCall records one upstream call. The calls of each operation are
// counted by the upstream package (upstream.CountCalls, see
// AroundOperations).
func (m *Metrics) ObserveCall(ctx context.Context, c upstream.Call) {
	route := m.routes.value(c.Route)
	m.upRequests.WithLabelValues(c.Service, route, c.Method, c.Outcome()).Inc()
	m.upDuration.WithLabelValues(c.Service, route).Observe(c.Duration.Seconds())
	if c.IDs > 0 {
		m.upIDs.WithLabelValues(c.Service, route).Observe(float64(c.IDs))
	}
	if c.Retries > 0 {
		m.upRetries.WithLabelValues(c.Service).Add(float64(c.Retries))
	}
	if c.BudgetExhausted {
		m.upExhausted.WithLabelValues(c.Service).Inc()
	}
}
