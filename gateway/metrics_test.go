package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/internal/testsync"
)

// startMetered starts a gateway with its metrics listener on a free port,
// and returns it with that listener's address.
func startMetered(t *testing.T, extraEnv map[string]string) (*testEnv, string) {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{"STACKER_METRICS_ADDR": addr}
	for k, v := range extraEnv {
		env[k] = v
	}
	return startStacker(t, env), addr
}

// scrape is one scrape of the metrics listener at addr: the exposition as
// served, and parsed.
type scrape struct {
	raw  []byte
	fams map[string]*dto.MetricFamily
}

func scrapeAt(t *testing.T, addr string) scrape {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, raw)
	}
	return scrape{raw: raw, fams: fams}
}

// sum adds up the series of name whose labels include match: counters'
// and gauges' values, histograms' counts of observations (or, for
// name_sum, their sums).
func (s scrape) sum(name string, match map[string]string) float64 {
	base, ofSums := strings.CutSuffix(name, "_sum")
	if _, ok := s.fams[name]; ok {
		base, ofSums = name, false
	}
	total := 0.0
	for _, m := range s.fams[base].GetMetric() {
		if !labelsInclude(m, match) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil && ofSums:
			total += m.Histogram.GetSampleSum()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// values are the distinct values of label across the series of name.
func (s scrape) values(name, label string) map[string]bool {
	out := map[string]bool{}
	for _, m := range s.fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] = true
			}
		}
	}
	return out
}

func labelsInclude(m *dto.Metric, match map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := match[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(match)
}

type metricWant struct {
	name  string
	match map[string]string
	value float64
}

func (s scrape) check(t *testing.T, wants []metricWant) {
	t.Helper()
	for _, w := range wants {
		if got := s.sum(w.name, w.match); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.match, got, w.value)
		}
	}
}

// The case board's metrics agree with what the demo services counted:
// eight upstream calls, one per service, each a 200; one operation timed,
// which made those eight calls; the batches' ids; the parsed-query cache;
// and every breaker closed. promtool passes the scrape.
func TestMetricsCaseBoard(t *testing.T) {
	e, addr := startMetered(t, nil)
	e.Demo.ResetCounts()
	e.mustDo(t, caseBoardQuery(t), nil, nil)
	e.mustDo(t, caseBoardQuery(t), nil, nil)
	calls := e.Demo.Snapshot()
	s := scrapeAt(t, addr)

	var wants []metricWant
	for _, svc := range config.Services() {
		if calls[svc] != 2 {
			t.Errorf("%s: %d calls for two case boards, want 2", svc, calls[svc])
		}
		wants = append(wants,
			metricWant{"stacker_upstream_requests_total", map[string]string{"service": svc, "status": "200"}, float64(calls[svc])},
			metricWant{"stacker_upstream_request_duration_seconds", map[string]string{"service": svc}, float64(calls[svc])},
			metricWant{"stacker_upstream_breaker_state", map[string]string{"service": svc, "state": "closed"}, 1},
			metricWant{"stacker_upstream_breaker_state", map[string]string{"service": svc, "state": "open"}, 0},
			metricWant{"stacker_upstream_in_flight", map[string]string{"service": svc}, 0},
			metricWant{"stacker_upstream_retries_total", map[string]string{"service": svc}, 0},
		)
	}
	board := map[string]string{"operation": "CaseBoard", "type": "query"}
	wants = append(wants,
		metricWant{"stacker_upstream_requests_total", nil, 16},
		metricWant{"stacker_operation_duration_seconds", board, 2},
		metricWant{"stacker_operation_upstream_calls", map[string]string{"operation": "CaseBoard"}, 2},
		metricWant{"stacker_operation_upstream_calls_sum", map[string]string{"operation": "CaseBoard"}, 16},
		metricWant{"stacker_operation_errors_total", nil, 0},
		// The board's patients come in one batch per board.
		metricWant{"stacker_upstream_batch_ids", map[string]string{"service": "patients", "route": "/patients?ids"}, 2},
		metricWant{"stacker_cache_requests_total", map[string]string{"cache": "parsed_query", "result": "miss"}, 1},
		metricWant{"stacker_cache_requests_total", map[string]string{"cache": "parsed_query", "result": "hit"}, 1},
		metricWant{"stacker_live_subscriptions", nil, 0},
		metricWant{"stacker_events_malformed_total", nil, 0},
	)
	s.check(t, wants)
	if n := s.sum("stacker_upstream_batch_ids_sum", map[string]string{"service": "patients"}); n < 2 || n > 100 {
		t.Errorf("the patients batches carried %v ids in all, want 2 to 100", n)
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := requireTool(t, "promtool")
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(s.raw)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// A failing service shows in its requests' status, the operations' error
// codes, retries and the breaker; a request refused before it ran counts
// its error code too.
func TestMetricsFailures(t *testing.T) {
	e, addr := startMetered(t, map[string]string{"STACKER_BREAKER_FAILURES": "2", "STACKER_BREAKER_OPEN_FOR": "1h"})
	e.Faults.set("patients", http.StatusServiceUnavailable)
	for range 3 {
		if errs := e.do(t, caseBoardQuery(t), nil, nil); len(errs) == 0 {
			t.Fatal("the case board without its patients service had no errors")
		}
	}
	e.do(t, "{ cases(", nil, nil)
	s := scrapeAt(t, addr)
	patients := map[string]string{"service": "patients"}
	s.check(t, []metricWant{
		// Two calls failed with 503 (after their retries), which opened the
		// breaker; the third was refused without being sent.
		{"stacker_upstream_requests_total", map[string]string{"service": "patients", "status": "503"}, 2},
		{"stacker_upstream_requests_total", map[string]string{"service": "patients", "status": "breaker_open"}, 1},
		{"stacker_upstream_breaker_state", map[string]string{"service": "patients", "state": "open"}, 1},
		{"stacker_upstream_breaker_state", map[string]string{"service": "cases", "state": "closed"}, 1},
		{"stacker_upstream_retries_total", patients, 4},
		{"stacker_operation_duration_seconds", map[string]string{"operation": "CaseBoard"}, 3},
		{"stacker_operation_errors_total", map[string]string{"operation": "unknown", "type": "unknown", "code": "GRAPHQL_PARSE_FAILED"}, 1},
	})
	if n := s.sum("stacker_operation_errors_total", map[string]string{"operation": "CaseBoard", "code": "UPSTREAM_UNAVAILABLE"}); n < 3 {
		t.Errorf("%v UPSTREAM_UNAVAILABLE errors counted for three failed boards", n)
	}
}

// 10,000 made-up operation names make STACKER_METRICS_OPERATIONS series of
// their own and one "other": counted in the scrape, not assumed.
func TestMetricsBoundOperationNames(t *testing.T) {
	const names, batch = 10_000, 100
	e, addr := startMetered(t, map[string]string{"STACKER_BATCH_MAX": strconv.Itoa(batch)})
	for b := 0; b < names; b += batch {
		var ops []map[string]string
		for i := b; i < b+batch; i++ {
			ops = append(ops, map[string]string{"query": fmt.Sprintf("query MadeUp%d { __typename }", i)})
		}
		body, _ := json.Marshal(ops)
		resp, err := e.HTTP.Post(e.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("batch %d: status %d", b/batch, resp.StatusCode)
		}
	}
	s := scrapeAt(t, addr)
	defaults, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	maxOps := defaults.MetricsOperations
	ops := s.values("stacker_operation_duration_seconds", "operation")
	if len(ops) != maxOps+1 || !ops["other"] {
		t.Errorf("%d operation names in the scrape, want %d and other", len(ops), maxOps)
	}
	s.check(t, []metricWant{
		{"stacker_operation_duration_seconds", nil, names},
		{"stacker_operation_duration_seconds", map[string]string{"operation": "other"}, names - float64(maxOps)},
	})
	if n := bytes.Count(s.raw, []byte("MadeUp")); n > maxOps*40 {
		t.Errorf("the scrape names made-up operations %d times", n)
	}
}

// A real Prometheus scrapes a running Stacker and answers a PromQL query
// about it through its HTTP API.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	prometheus := requireTool(t, "prometheus")
	e, addr := startMetered(t, nil)
	e.mustDo(t, caseBoardQuery(t), nil, nil)

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: stacker
    static_configs:
      - targets: [%q]
`, addr)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	web := freeAddr(t)
	var logs testsync.Buffer
	cmd := exec.Command(prometheus, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Stopped by its own PID: SIGTERM, then SIGKILL if it lingers.
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})

	api := "http://" + web + "/api/v1/"
	query := func(q string) (float64, bool) {
		var r struct {
			Status string
			Data   struct {
				Result []struct{ Value [2]any }
			}
		}
		if !getJSON(api+"query?query="+url.QueryEscape(q), &r) || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	waitFor(t, &logs, "the target to be up", func() bool {
		v, ok := query(`up{job="stacker"}`)
		return ok && v == 1
	})
	waitFor(t, &logs, "sum(stacker_upstream_requests_total) to be 8", func() bool {
		v, ok := query("sum(stacker_upstream_requests_total)")
		return ok && v == 8
	})
	if v, ok := query(`stacker_operation_duration_seconds_count{operation="CaseBoard",type="query"}`); !ok || v != 1 {
		t.Errorf("the case board's duration count is %v (%v), want 1", v, ok)
	}
}

// requireTool is the path of a Prometheus tool; without it the test is
// skipped, except in CI, where test.sh installs it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; test.sh installs it (Debian's prometheus package)", name)
	}
	t.Skipf("%s is not installed (apt-get install prometheus, or run test.sh)", name)
	return ""
}

func getJSON(u string, out any) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(out) == nil
}

// waitFor polls cond for up to 30 s, Prometheus's start and a few scrapes.
func waitFor(t *testing.T, logs *testsync.Buffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; prometheus logged:\n%s", what, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
