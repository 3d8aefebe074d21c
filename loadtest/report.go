package loadtest

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report holds the figures of one measured run, or (Run == 0) the median of
// several. Requests counts completed requests, failed ones included; rates
// and per-query figures divide by it. Upstream and Stacker are nil when their
// stats endpoint was not given.
type Report struct {
	Target            string      `json:"target,omitempty"` // -name; "floor" or "gateway" in a comparison
	Run               int         `json:"run,omitempty"`    // 1-based; 0 for a median
	Runs              int         `json:"runs"`
	Concurrency       int         `json:"concurrency"`
	Seconds           float64     `json:"seconds"` // wall time of the measured load
	Requests          int         `json:"requests"`
	RequestsPerSecond float64     `json:"requests_per_second"`
	Errors            int         `json:"errors"`
	ErrorRate         float64     `json:"error_rate"` // Errors/Requests, 0..1
	ErrorsByKind      ErrorCounts `json:"errors_by_kind"`
	FirstError        string      `json:"first_error,omitempty"`
	Latency           Latency     `json:"latency_ms"`
	Upstream          *Upstream   `json:"upstream,omitempty"`
	Stacker           *Stacker    `json:"stacker,omitempty"`
}

// Latency holds exact percentiles, in milliseconds, of successful requests
// (request sent to response body read).
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Upstream is the demo services' work per query.
type Upstream struct {
	Requests  int64              `json:"requests"` // upstream requests during the run
	PerQuery  float64            `json:"requests_per_query"`
	ByService map[string]float64 `json:"by_service_per_query"`
}

// Stacker is the gateway process's cost (the floor's, in a floor's report).
// PeakRSSBytes is the process's peak
// so far, so it covers this run and everything before it.
type Stacker struct {
	CPUSeconds      float64 `json:"cpu_seconds"` // user+sys during the run
	CPUMsPerQuery   float64 `json:"cpu_ms_per_query"`
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	HeapInuseBytes  int64   `json:"heap_inuse_bytes"` // at the end of the run
	GoroutinesStart int     `json:"goroutines_start"`
	GoroutinesEnd   int     `json:"goroutines_end"`
}

// buildReport turns a run's tally and stats into a Report.
func buildReport(concurrency int, t tally, elapsed time.Duration, before, after snapshot) Report {
	r := Report{
		Concurrency:  concurrency,
		Seconds:      elapsed.Seconds(),
		Requests:     t.requests,
		Errors:       t.errs.Total(),
		ErrorsByKind: t.errs,
		FirstError:   t.sample,
	}
	if elapsed > 0 {
		r.RequestsPerSecond = float64(t.requests) / elapsed.Seconds()
	}
	if t.requests > 0 {
		r.ErrorRate = float64(r.Errors) / float64(t.requests)
	}
	lat := slices.Clone(t.latencies)
	slices.Sort(lat)
	r.Latency = Latency{
		P50: ms(percentile(lat, 50)),
		P90: ms(percentile(lat, 90)),
		P99: ms(percentile(lat, 99)),
		Max: ms(percentile(lat, 100)),
	}
	if before.demo != nil && after.demo != nil {
		u := upstreamFigures(*before.demo, *after.demo, t.requests)
		r.Upstream = &u
	}
	if before.stacker != nil && after.stacker != nil {
		s := stackerFigures(*before.stacker, *after.stacker, t.requests)
		r.Stacker = &s
	}
	return r
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest sample with at least p% of the samples at or below
// it. It is always a measured value, never an interpolation; 0 for no
// samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n: integer inputs then stay exact.
	rank := int(math.Ceil(p * float64(n) / 100))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Median returns a Report whose every figure is the median of that figure
// across reports (the mean of the middle two for an even count), which is
// how figures are quoted: one slow or lucky run does not move it. Counts are
// rounded to whole numbers. Upstream and Stacker are medians over the
// reports that have them, nil if none does; a service missing from a report
// counts as zero there. FirstError is the first one reported. Run is 0,
// Runs is len(reports) and Target that of the first report.
func Median(reports []Report) Report {
	if len(reports) == 0 {
		return Report{}
	}
	f := func(get func(Report) float64) float64 { return medianOf(reports, get) }
	i := func(get func(Report) int) int {
		return int(math.Round(f(func(r Report) float64 { return float64(get(r)) })))
	}
	m := Report{
		Target:            reports[0].Target,
		Runs:              len(reports),
		Concurrency:       i(func(r Report) int { return r.Concurrency }),
		Seconds:           f(func(r Report) float64 { return r.Seconds }),
		Requests:          i(func(r Report) int { return r.Requests }),
		RequestsPerSecond: f(func(r Report) float64 { return r.RequestsPerSecond }),
		Errors:            i(func(r Report) int { return r.Errors }),
		ErrorRate:         f(func(r Report) float64 { return r.ErrorRate }),
		ErrorsByKind: ErrorCounts{
			HTTP:      i(func(r Report) int { return r.ErrorsByKind.HTTP }),
			Transport: i(func(r Report) int { return r.ErrorsByKind.Transport }),
			GraphQL:   i(func(r Report) int { return r.ErrorsByKind.GraphQL }),
			Decode:    i(func(r Report) int { return r.ErrorsByKind.Decode }),
		},
		Latency: Latency{
			P50: f(func(r Report) float64 { return r.Latency.P50 }),
			P90: f(func(r Report) float64 { return r.Latency.P90 }),
			P99: f(func(r Report) float64 { return r.Latency.P99 }),
			Max: f(func(r Report) float64 { return r.Latency.Max }),
		},
	}
	for _, r := range reports {
		if r.FirstError != "" {
			m.FirstError = r.FirstError
			break
		}
	}

	var ups []Upstream
	var sts []Stacker
	for _, r := range reports {
		if r.Upstream != nil {
			ups = append(ups, *r.Upstream)
		}
		if r.Stacker != nil {
			sts = append(sts, *r.Stacker)
		}
	}
	if len(ups) > 0 {
		u := Upstream{
			Requests:  int64(math.Round(medianOf(ups, func(u Upstream) float64 { return float64(u.Requests) }))),
			PerQuery:  medianOf(ups, func(u Upstream) float64 { return u.PerQuery }),
			ByService: map[string]float64{},
		}
		for _, up := range ups {
			for name := range up.ByService {
				if _, done := u.ByService[name]; !done {
					u.ByService[name] = medianOf(ups, func(u Upstream) float64 { return u.ByService[name] })
				}
			}
		}
		m.Upstream = &u
	}
	if len(sts) > 0 {
		i64 := func(get func(Stacker) int64) int64 {
			return int64(math.Round(medianOf(sts, func(s Stacker) float64 { return float64(get(s)) })))
		}
		m.Stacker = &Stacker{
			CPUSeconds:      medianOf(sts, func(s Stacker) float64 { return s.CPUSeconds }),
			CPUMsPerQuery:   medianOf(sts, func(s Stacker) float64 { return s.CPUMsPerQuery }),
			PeakRSSBytes:    i64(func(s Stacker) int64 { return s.PeakRSSBytes }),
			HeapInuseBytes:  i64(func(s Stacker) int64 { return s.HeapInuseBytes }),
			GoroutinesStart: int(i64(func(s Stacker) int64 { return int64(s.GoroutinesStart) })),
			GoroutinesEnd:   int(i64(func(s Stacker) int64 { return int64(s.GoroutinesEnd) })),
		}
	}
	return m
}

// medianOf returns the median of get over xs; xs must not be empty.
func medianOf[T any](xs []T, get func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = get(x)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// WriteText writes r in the human-readable form: a header naming the target
// and the run (or the median), and one line per group of figures.
func (r Report) WriteText(w io.Writer) {
	if r.Run > 0 {
		fmt.Fprintf(w, "%srun %d/%d: %.1fs, concurrency %d\n", prefix(r.Target), r.Run, r.Runs, r.Seconds, r.Concurrency)
	} else {
		fmt.Fprintf(w, "%smedian of %d runs: %.1fs, concurrency %d\n", prefix(r.Target), r.Runs, r.Seconds, r.Concurrency)
	}

	fmt.Fprintf(w, "  requests     %d (%.1f/s), errors %d (%.2f%%)", r.Requests, r.RequestsPerSecond, r.Errors, r.ErrorRate*100)
	var kinds []string
	for _, k := range []struct {
		name string
		n    int
	}{
		{"http", r.ErrorsByKind.HTTP},
		{"transport", r.ErrorsByKind.Transport},
		{"graphql", r.ErrorsByKind.GraphQL},
		{"decode", r.ErrorsByKind.Decode},
	} {
		if k.n > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d", k.name, k.n))
		}
	}
	if len(kinds) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(kinds, ", "))
	}
	fmt.Fprintln(w)
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error  %s\n", r.FirstError)
	}

	fmt.Fprintf(w, "  latency      p50 %s  p90 %s  p99 %s  max %s\n",
		fmtMs(r.Latency.P50), fmtMs(r.Latency.P90), fmtMs(r.Latency.P99), fmtMs(r.Latency.Max))

	if u := r.Upstream; u != nil {
		per := make([]string, 0, len(u.ByService))
		for _, name := range slices.Sorted(maps.Keys(u.ByService)) {
			per = append(per, fmt.Sprintf("%s %.2f", name, u.ByService[name]))
		}
		fmt.Fprintf(w, "  upstream     %.2f requests/query (%s)\n", u.PerQuery, strings.Join(per, ", "))
	}
	if s := r.Stacker; s != nil {
		process := cmp.Or(r.Target, "stacker")
		fmt.Fprintf(w, "  %-12s %.2f ms CPU/query, peak RSS %.1f MiB, heap in use %.1f MiB, goroutines %d -> %d\n",
			process, s.CPUMsPerQuery, mib(s.PeakRSSBytes), mib(s.HeapInuseBytes), s.GoroutinesStart, s.GoroutinesEnd)
	}
}

// fmtMs keeps sub-10ms latencies, common on loopback, from rounding to
// nothing.
func fmtMs(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
