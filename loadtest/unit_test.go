package loadtest

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		d := make([]time.Duration, len(vs))
		for i, v := range vs {
			d[i] = time.Duration(v) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p90", ms(hundred...), 90, 90 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 max", ms(hundred...), 100, 100 * time.Millisecond},
		{"1..10 p50", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5 * time.Millisecond},
		{"1..10 p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"1..10 p99 rounds up to the last", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"four samples p50 takes the lower middle", ms(1, 2, 3, 40), 50, 2 * time.Millisecond},
		{"outlier only at p99 of 1000", append(ms(hundred...), ms(500)...), 99, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   errKind
	}{
		{"data", http.StatusOK, `{"data":{"x":1}}`, errNone},
		{"empty errors array", http.StatusOK, `{"data":{"x":1},"errors":[]}`, errNone},
		{"null errors", http.StatusOK, `{"data":{"x":1},"errors":null}`, errNone},
		{"errors with partial data", http.StatusOK, `{"data":{"x":null},"errors":[{"message":"a"}]}`, errGraphQL},
		{"errors without data", http.StatusOK, `{"errors":[{"message":"a"},{"message":"b"}]}`, errGraphQL},
		{"500", http.StatusInternalServerError, `{"errors":[{"message":"a"}]}`, errHTTP},
		{"400 with GraphQL errors", http.StatusBadRequest, `{"errors":[{"message":"parse"}]}`, errHTTP},
		{"429", http.StatusTooManyRequests, ``, errHTTP},
		{"HTML", http.StatusOK, `<html></html>`, errDecode},
		{"empty body", http.StatusOK, ``, errDecode},
		{"errors not an array", http.StatusOK, `{"errors":"oops"}`, errDecode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, detail := classify(tc.status, []byte(tc.body))
			if got != tc.want {
				t.Errorf("classify(%d, %q) = %v (%s), want %v", tc.status, tc.body, got, detail, tc.want)
			}
			if (got == errNone) != (detail == "") {
				t.Errorf("kind %v with detail %q: a failure needs a detail and only a failure", got, detail)
			}
		})
	}
}

func TestUpstreamFigures(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after map[string]int64
		queries       int
		want          Upstream
	}{
		{
			name:    "eight per query",
			before:  map[string]int64{"cases": 10, "patients": 20, "documents": 0},
			after:   map[string]int64{"cases": 110, "patients": 320, "documents": 400},
			queries: 100,
			want: Upstream{Requests: 800, PerQuery: 8,
				ByService: map[string]float64{"cases": 1, "patients": 3, "documents": 4}},
		},
		{
			name:    "fractional fan-out",
			before:  map[string]int64{"staff": 0},
			after:   map[string]int64{"staff": 1},
			queries: 4,
			want:    Upstream{Requests: 1, PerQuery: 0.25, ByService: map[string]float64{"staff": 0.25}},
		},
		{
			name:    "service first seen after the run",
			before:  map[string]int64{"cases": 5},
			after:   map[string]int64{"cases": 15, "clinics": 10},
			queries: 10,
			want:    Upstream{Requests: 20, PerQuery: 2, ByService: map[string]float64{"cases": 1, "clinics": 1}},
		},
		{
			name:    "no queries gives zeros, not NaN",
			before:  map[string]int64{"cases": 5},
			after:   map[string]int64{"cases": 5},
			queries: 0,
			want:    Upstream{ByService: map[string]float64{"cases": 0}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := upstreamFigures(demoStats{tc.before}, demoStats{tc.after}, tc.queries)
			if got.Requests != tc.want.Requests || math.Abs(got.PerQuery-tc.want.PerQuery) > 1e-12 ||
				!mapsEqual(got.ByService, tc.want.ByService) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStackerFigures(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after stackerStats
		queries       int
		wantCPUMs     float64
	}{
		{
			name:      "4ms per query",
			before:    stackerStats{CPUSeconds: 10, MaxRSSBytes: 50 << 20, Goroutines: 12},
			after:     stackerStats{CPUSeconds: 14, MaxRSSBytes: 90 << 20, HeapInuseBytes: 30 << 20, Goroutines: 13},
			queries:   1000,
			wantCPUMs: 4,
		},
		{
			name:      "sub-millisecond",
			before:    stackerStats{CPUSeconds: 1.25},
			after:     stackerStats{CPUSeconds: 1.5},
			queries:   1000,
			wantCPUMs: 0.25,
		},
		{
			name:      "no queries gives zero, not Inf",
			before:    stackerStats{CPUSeconds: 1},
			after:     stackerStats{CPUSeconds: 2},
			queries:   0,
			wantCPUMs: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stackerFigures(tc.before, tc.after, tc.queries)
			if math.Abs(got.CPUMsPerQuery-tc.wantCPUMs) > 1e-9 {
				t.Errorf("CPU %v ms/query, want %v", got.CPUMsPerQuery, tc.wantCPUMs)
			}
			if got.PeakRSSBytes != tc.after.MaxRSSBytes || got.HeapInuseBytes != int64(tc.after.HeapInuseBytes) {
				t.Errorf("memory %d/%d, want the after values %d/%d", got.PeakRSSBytes, got.HeapInuseBytes, tc.after.MaxRSSBytes, tc.after.HeapInuseBytes)
			}
			if got.GoroutinesStart != tc.before.Goroutines || got.GoroutinesEnd != tc.after.Goroutines {
				t.Errorf("goroutines %d -> %d, want %d -> %d", got.GoroutinesStart, got.GoroutinesEnd, tc.before.Goroutines, tc.after.Goroutines)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	rep := func(rps, p99 float64, requests int, up *Upstream, st *Stacker) Report {
		return Report{Run: 1, Runs: 3, Concurrency: 32, RequestsPerSecond: rps, Requests: requests,
			Latency: Latency{P99: p99}, Upstream: up, Stacker: st}
	}
	for _, tc := range []struct {
		name    string
		reports []Report
		check   func(t *testing.T, m Report)
	}{
		{
			name:    "none",
			reports: nil,
			check: func(t *testing.T, m Report) {
				if m.Runs != 0 || m.Upstream != nil || m.Stacker != nil {
					t.Errorf("median of nothing = %+v, want zero", m)
				}
			},
		},
		{
			name: "odd count takes the middle, ignoring an outlier",
			reports: []Report{
				rep(1000, 20, 100, nil, nil),
				rep(10, 900, 1, nil, nil),
				rep(1100, 22, 110, nil, nil),
			},
			check: func(t *testing.T, m Report) {
				if m.RequestsPerSecond != 1000 || m.Latency.P99 != 22 || m.Requests != 100 {
					t.Errorf("rps %v, p99 %v, requests %d; want 1000, 22, 100", m.RequestsPerSecond, m.Latency.P99, m.Requests)
				}
				if m.Run != 0 || m.Runs != 3 || m.Concurrency != 32 {
					t.Errorf("run %d, runs %d, concurrency %d; want 0, 3, 32", m.Run, m.Runs, m.Concurrency)
				}
			},
		},
		{
			name: "even count averages the middle two",
			reports: []Report{
				rep(100, 1, 10, nil, nil),
				rep(400, 4, 40, nil, nil),
				rep(200, 2, 20, nil, nil),
				rep(300, 3, 31, nil, nil),
			},
			check: func(t *testing.T, m Report) {
				if m.RequestsPerSecond != 250 || m.Latency.P99 != 2.5 || m.Requests != 26 {
					t.Errorf("rps %v, p99 %v, requests %d; want 250, 2.5, 26 (25.5 rounded)", m.RequestsPerSecond, m.Latency.P99, m.Requests)
				}
			},
		},
		{
			name: "stats figures over the reports that have them",
			reports: []Report{
				rep(1, 1, 1, &Upstream{PerQuery: 8, ByService: map[string]float64{"cases": 1, "patients": 7}},
					&Stacker{CPUMsPerQuery: 4, PeakRSSBytes: 100, GoroutinesStart: 10, GoroutinesEnd: 12}),
				rep(1, 1, 1, nil, nil),
				rep(1, 1, 1, &Upstream{PerQuery: 6, ByService: map[string]float64{"cases": 1, "documents": 5}},
					&Stacker{CPUMsPerQuery: 2, PeakRSSBytes: 300, GoroutinesStart: 10, GoroutinesEnd: 10}),
				rep(1, 1, 1, &Upstream{PerQuery: 10, ByService: map[string]float64{"cases": 3}},
					&Stacker{CPUMsPerQuery: 3, PeakRSSBytes: 200, GoroutinesStart: 10, GoroutinesEnd: 11}),
			},
			check: func(t *testing.T, m Report) {
				if m.Upstream == nil || m.Stacker == nil {
					t.Fatalf("upstream %v, stacker %v; want both", m.Upstream, m.Stacker)
				}
				if m.Upstream.PerQuery != 8 {
					t.Errorf("upstream %v per query, want 8", m.Upstream.PerQuery)
				}
				// A service missing from a report is zero there.
				want := map[string]float64{"cases": 1, "patients": 0, "documents": 0}
				if !mapsEqual(m.Upstream.ByService, want) {
					t.Errorf("by service %v, want %v", m.Upstream.ByService, want)
				}
				if s := m.Stacker; s.CPUMsPerQuery != 3 || s.PeakRSSBytes != 200 || s.GoroutinesStart != 10 || s.GoroutinesEnd != 11 {
					t.Errorf("stacker %+v, want 3 ms/query, 200 B, 10 -> 11", *s)
				}
			},
		},
		{
			name: "error counts and first error",
			reports: []Report{
				{Errors: 0, ErrorsByKind: ErrorCounts{}},
				{Errors: 5, ErrorsByKind: ErrorCounts{HTTP: 3, GraphQL: 2}, FirstError: "HTTP 500: boom"},
				{Errors: 4, ErrorsByKind: ErrorCounts{HTTP: 4}, FirstError: "HTTP 502"},
			},
			check: func(t *testing.T, m Report) {
				if m.Errors != 4 || m.ErrorsByKind != (ErrorCounts{HTTP: 3}) || m.FirstError != "HTTP 500: boom" {
					t.Errorf("errors %d %+v %q; want 4 {HTTP:3} and the first error", m.Errors, m.ErrorsByKind, m.FirstError)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, Median(tc.reports))
		})
	}
}

func TestWriteText(t *testing.T) {
	r := Report{
		Run: 1, Runs: 3, Concurrency: 32, Seconds: 10.04,
		Requests: 12345, RequestsPerSecond: 1234.5, Errors: 3, ErrorRate: 3.0 / 12345,
		ErrorsByKind: ErrorCounts{HTTP: 1, GraphQL: 2},
		FirstError:   "HTTP 500: boom",
		Latency:      Latency{P50: 0.84, P90: 15.1, P99: 22, Max: 40.08},
		Upstream:     &Upstream{PerQuery: 8, ByService: map[string]float64{"patients": 1, "appointments": 7}},
		Stacker:      &Stacker{CPUMsPerQuery: 4.123, PeakRSSBytes: 89443533 /* 85.3 MiB */, HeapInuseBytes: 20 << 20, GoroutinesStart: 12, GoroutinesEnd: 12},
	}
	want := `run 1/3: 10.0s, concurrency 32
  requests     12345 (1234.5/s), errors 3 (0.02%): http 1, graphql 2
  first error  HTTP 500: boom
  latency      p50 0.84ms  p90 15.1ms  p99 22.0ms  max 40.1ms
  upstream     8.00 requests/query (appointments 7.00, patients 1.00)
  stacker      4.12 ms CPU/query, peak RSS 85.3 MiB, heap in use 20.0 MiB, goroutines 12 -> 12
`
	var b strings.Builder
	r.WriteText(&b)
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	r.Run, r.Upstream, r.Stacker = 0, nil, nil
	b.Reset()
	r.WriteText(&b)
	if !strings.HasPrefix(b.String(), "median of 3 runs: 10.0s, concurrency 32\n") || strings.Contains(b.String(), "upstream") {
		t.Errorf("median without stats:\n%s", b.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"localhost", true},
		{"LOCALHOST", true},
		{"0.0.0.0", false},
		{"10.0.0.1", false},
		{"192.0.2.1", false},
		{"example.com", false},
		{"localhost.example.com", false},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := isLoopback(tc.host); got != tc.want {
				t.Errorf("isLoopback(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestAllowRemote(t *testing.T) {
	// Parsing only: nothing is sent to the remote host.
	cfg, err := parseConfig([]string{"-allow-remote", "-url", "http://192.0.2.1/graphql", "-stacker-stats", "http://192.0.2.1:6060/debug/stats"}, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig with -allow-remote: %v", err)
	}
	if cfg.url != "http://192.0.2.1/graphql" {
		t.Errorf("url %q", cfg.url)
	}
}

func TestCompare(t *testing.T) {
	rep := func(rps, p50, p99 float64, st *Stacker) Report {
		return Report{RequestsPerSecond: rps, Latency: Latency{P50: p50, P99: p99}, Stacker: st}
	}
	for _, tc := range []struct {
		name           string
		gateway, floor Report
		want           Comparison
	}{
		{
			name:    "ratios of costs and rates, differences of latencies",
			gateway: rep(100, 28, 35, &Stacker{CPUMsPerQuery: 9, PeakRSSBytes: 90 << 20}),
			floor:   rep(400, 24, 26, &Stacker{CPUMsPerQuery: 2, PeakRSSBytes: 30 << 20}),
			want:    Comparison{CPUMsPerQueryRatio: 4.5, PeakRSSRatio: 3, RequestsPerSecondRatio: 0.25, P50DiffMs: 4, P99DiffMs: 9},
		},
		{
			name:    "no process stats on one side: no cost ratios",
			gateway: rep(100, 28, 35, &Stacker{CPUMsPerQuery: 9, PeakRSSBytes: 90 << 20}),
			floor:   rep(400, 24, 26, nil),
			want:    Comparison{RequestsPerSecondRatio: 0.25, P50DiffMs: 4, P99DiffMs: 9},
		},
		{
			name:    "a floor of zero gives 0, not Inf",
			gateway: rep(100, 1, 1, &Stacker{CPUMsPerQuery: 9}),
			floor:   rep(0, 1, 1, &Stacker{}),
			want:    Comparison{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compare(tc.gateway, tc.floor); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
