package loadtest

import (
	"fmt"
	"io"
)

// Comparison is the gateway's figures over the floor's, both medians of runs
// taken in turn against the same demo services. Costs and rates are ratios;
// latencies are differences, because most of the floor's latency is the
// services' own and a ratio would hide what the gateway adds to it. A figure
// whose stats were not read on both sides (or whose floor value is 0) is 0.
type Comparison struct {
	CPUMsPerQueryRatio     float64 `json:"cpu_ms_per_query_ratio"`
	PeakRSSRatio           float64 `json:"peak_rss_ratio"`
	RequestsPerSecondRatio float64 `json:"requests_per_second_ratio"`
	P50DiffMs              float64 `json:"p50_diff_ms"` // gateway - floor
	P99DiffMs              float64 `json:"p99_diff_ms"`
}

// Compare returns gateway's figures over floor's.
func Compare(gateway, floor Report) Comparison {
	c := Comparison{
		RequestsPerSecondRatio: ratio(gateway.RequestsPerSecond, floor.RequestsPerSecond),
		P50DiffMs:              gateway.Latency.P50 - floor.Latency.P50,
		P99DiffMs:              gateway.Latency.P99 - floor.Latency.P99,
	}
	if g, f := gateway.Stacker, floor.Stacker; g != nil && f != nil {
		c.CPUMsPerQueryRatio = ratio(g.CPUMsPerQuery, f.CPUMsPerQuery)
		c.PeakRSSRatio = ratio(float64(g.PeakRSSBytes), float64(f.PeakRSSBytes))
	}
	return c
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteText writes c with the figures it was computed from, one line each:
// gateway / floor = ratio, and for latencies what the gateway adds.
func (c Comparison) WriteText(w io.Writer, gateway, floor Report) {
	fmt.Fprintf(w, "gateway / floor, medians of %d runs each:\n", gateway.Runs)
	if g, f := gateway.Stacker, floor.Stacker; g != nil && f != nil {
		fmt.Fprintf(w, "  CPU/query    %.2f / %.2f ms = %.2fx\n", g.CPUMsPerQuery, f.CPUMsPerQuery, c.CPUMsPerQueryRatio)
		fmt.Fprintf(w, "  peak RSS     %.1f / %.1f MiB = %.2fx\n", mib(g.PeakRSSBytes), mib(f.PeakRSSBytes), c.PeakRSSRatio)
	}
	fmt.Fprintf(w, "  requests/s   %.1f / %.1f = %.2fx\n", gateway.RequestsPerSecond, floor.RequestsPerSecond, c.RequestsPerSecondRatio)
	fmt.Fprintf(w, "  latency p50  %s / %s, gateway %+.2f ms\n", fmtMs(gateway.Latency.P50), fmtMs(floor.Latency.P50), c.P50DiffMs)
	fmt.Fprintf(w, "  latency p99  %s / %s, gateway %+.2f ms\n", fmtMs(gateway.Latency.P99), fmtMs(floor.Latency.P99), c.P99DiffMs)
	if g, f := gateway.Upstream, floor.Upstream; g != nil && f != nil {
		// Not a ratio: it should be 1, and anything else means the two did
		// not do the same work.
		fmt.Fprintf(w, "  upstream     %.2f / %.2f requests/query\n", g.PerQuery, f.PerQuery)
	}
}
