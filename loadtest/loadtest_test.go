package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeGateway is a GraphQL endpoint that numbers its requests from 1 and
// answers each as respond decides, recording the distinct bodies it got.
type fakeGateway struct {
	srv     *httptest.Server
	count   atomic.Int64
	respond func(i int64, w http.ResponseWriter, r *http.Request)

	mu     sync.Mutex
	bodies map[string]int
}

func newFakeGateway(t *testing.T, respond func(i int64, w http.ResponseWriter, r *http.Request)) *fakeGateway {
	t.Helper()
	g := &fakeGateway{respond: respond, bodies: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := g.count.Add(1)
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.bodies[buf.String()]++
		g.mu.Unlock()
		g.respond(i, w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// onlyBody returns the one body every request carried, failing if they differ.
func (g *fakeGateway) onlyBody(t *testing.T) graphQLRequest {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.bodies) != 1 {
		t.Fatalf("got %d distinct request bodies, want 1", len(g.bodies))
	}
	var req graphQLRequest
	for b := range g.bodies {
		if err := json.Unmarshal([]byte(b), &req); err != nil {
			t.Fatalf("request body %q: %v", b, err)
		}
	}
	return req
}

func answerOK(_ int64, w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"data":{"cases":{"totalCount":0,"nodes":[]}}}`))
}

// answerMixed fails by request number: every 5th with a 500, every other 7th
// with GraphQL errors, every remaining 11th with a body that is not JSON.
func answerMixed(i int64, w http.ResponseWriter, r *http.Request) {
	switch {
	case i%5 == 0:
		http.Error(w, "boom", http.StatusInternalServerError)
	case i%7 == 0:
		w.Write([]byte(`{"errors":[{"message":"nope"}],"data":null}`))
	case i%11 == 0:
		w.Write([]byte(`<html>proxy error</html>`))
	default:
		answerOK(i, w, r)
	}
}

// runJSON calls Run with -json and the given flags and decodes its output.
func runJSON(t *testing.T, args ...string) runsJSON {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), append([]string{"-json"}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("Run(%q): %v\nstderr:\n%s", args, err, stderr.String())
	}
	var out runsJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decoding output %q: %v", stdout.String(), err)
	}
	return out
}

func TestRunCountsAndClassifiesErrors(t *testing.T) {
	g := newFakeGateway(t, answerMixed)
	out := runJSON(t, "-url", g.srv.URL, "-c", "8", "-n", "70", "-d", "1m", "-warmup", "0")

	if len(out.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(out.Runs))
	}
	r := out.Runs[0]
	// Of requests 1..70: multiples of 5 are 14; multiples of 7 that are not
	// of 5 are 8; multiples of 11 that are neither are 5 (55 is taken).
	want := ErrorCounts{HTTP: 14, GraphQL: 8, Decode: 5}
	if r.Requests != 70 || r.ErrorsByKind != want || r.Errors != 27 {
		t.Errorf("requests %d, errors %d %+v; want 70, 27 %+v", r.Requests, r.Errors, r.ErrorsByKind, want)
	}
	if got, want := r.ErrorRate, 27.0/70; math.Abs(got-want) > 1e-12 {
		t.Errorf("error rate %v, want %v", got, want)
	}
	if r.FirstError == "" {
		t.Error("no first error reported")
	}
	if r.Upstream != nil || r.Stacker != nil {
		t.Errorf("stats figures without stats flags: %+v %+v", r.Upstream, r.Stacker)
	}
	if got := g.count.Load(); got != 70 {
		t.Errorf("gateway got %d requests, want 70", got)
	}
}

func TestRunTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now: every dial is refused

	out := runJSON(t, "-url", url, "-c", "2", "-n", "5", "-warmup", "0")
	r := out.Runs[0]
	if want := (ErrorCounts{Transport: 5}); r.Requests != 5 || r.ErrorsByKind != want {
		t.Errorf("requests %d, errors %+v; want 5, %+v", r.Requests, r.ErrorsByKind, want)
	}
	if r.Latency != (Latency{}) {
		t.Errorf("latency %+v from failed requests only, want zero", r.Latency)
	}
}

func TestRunRespectsRequestBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		c, n string
		want int64
	}{
		{"one worker one request", "1", "1", 1},
		{"more requests than workers", "4", "50", 50},
		{"more workers than requests", "16", "10", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t, answerOK)
			out := runJSON(t, "-url", g.srv.URL, "-c", tc.c, "-n", tc.n, "-d", "1h", "-warmup", "0")
			if got := g.count.Load(); got != tc.want {
				t.Errorf("gateway got %d requests, want %d", got, tc.want)
			}
			if got := out.Runs[0].Requests; int64(got) != tc.want {
				t.Errorf("report counts %d requests, want %d", got, tc.want)
			}
		})
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	g := newFakeGateway(t, answerOK)
	// No -n: only -d can end this run.
	out := runJSON(t, "-url", g.srv.URL, "-c", "4", "-d", "20ms", "-warmup", "0")
	r := out.Runs[0]
	if int64(r.Requests) != g.count.Load() {
		t.Errorf("report counts %d requests, gateway got %d", r.Requests, g.count.Load())
	}
	if r.Errors != 0 {
		t.Errorf("errors %d (%s), want 0: in-flight requests must finish, not fail", r.Errors, r.FirstError)
	}
}

func TestRunSendsConfiguredRequest(t *testing.T) {
	queryFile := filepath.Join(t.TempDir(), "q.graphql")
	const query = "query One { patient(id: 1) { id } }\nquery Two { staff { id } }"
	if err := os.WriteFile(queryFile, []byte(query), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want graphQLRequest
	}{
		{
			name: "defaults",
			want: graphQLRequest{Query: defaultQuery, Variables: json.RawMessage(`{}`)},
		},
		{
			name: "query file, variables and operation",
			args: []string{"-query", queryFile, "-vars", `{"first": 5}`, "-operation", "Two"},
			want: graphQLRequest{Query: query, Variables: json.RawMessage(`{"first":5}`), OperationName: "Two"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t, answerOK)
			runJSON(t, append([]string{"-url", g.srv.URL, "-c", "3", "-n", "6", "-warmup", "0"}, tc.args...)...)
			got := g.onlyBody(t)
			if got.Query != tc.want.Query || string(got.Variables) != string(tc.want.Variables) || got.OperationName != tc.want.OperationName {
				t.Errorf("request %+v, want %+v", got, tc.want)
			}
		})
	}
}

// statsServers starts fake stats endpoints whose counters follow the
// gateway's request count, as the real ones would: Stacker spends 4ms of CPU
// per query and the demo services see 8 requests per query.
func statsServers(t *testing.T, g *fakeGateway) (stackerURL, demoURL string) {
	t.Helper()
	return processStats(t, g, 4, 80<<20, nil), demoStatsServer(t, g)
}

// processStats starts a fake /debug/stats for the process behind g: msPerQuery
// of CPU per request g got, a peak RSS of rss plus that count, and one more
// goroutine at every read. read, when set, is called at every read.
func processStats(t *testing.T, g *fakeGateway, msPerQuery float64, rss int64, read func()) string {
	t.Helper()
	var reads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if read != nil {
			read()
		}
		n := g.count.Load()
		json.NewEncoder(w).Encode(stackerStats{
			CPUSeconds:     1.5 + float64(n)*msPerQuery/1000,
			MaxRSSBytes:    rss + n,
			HeapInuseBytes: 10 << 20,
			Goroutines:     10 + int(reads.Add(1)),
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// demoStatsServer starts fake demo stats that see 8 upstream requests for
// every request any of gs got.
func demoStatsServer(t *testing.T, gs ...*fakeGateway) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int64
		for _, g := range gs {
			n += g.count.Load()
		}
		json.NewEncoder(w).Encode(demoStats{Requests: map[string]int64{
			"cases":     100 + n,
			"patients":  n * 2,
			"documents": n * 5,
		}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunReadsStats(t *testing.T) {
	g := newFakeGateway(t, answerOK)
	stackerURL, demoURL := statsServers(t, g)
	// A warmup runs first: its requests must show in neither the request
	// count nor the per-query figures.
	out := runJSON(t, "-url", g.srv.URL, "-c", "4", "-n", "40", "-warmup", "10ms",
		"-stacker-stats", stackerURL, "-demo-stats", demoURL)
	r := out.Runs[0]
	if r.Requests != 40 {
		t.Fatalf("requests %d, want 40", r.Requests)
	}
	if r.Upstream == nil || r.Stacker == nil {
		t.Fatalf("missing stats figures: upstream %v, stacker %v", r.Upstream, r.Stacker)
	}
	if r.Upstream.Requests != 320 || r.Upstream.PerQuery != 8 {
		t.Errorf("upstream %d requests, %v per query; want 320, 8", r.Upstream.Requests, r.Upstream.PerQuery)
	}
	wantBy := map[string]float64{"cases": 1, "patients": 2, "documents": 5}
	if !mapsEqual(r.Upstream.ByService, wantBy) {
		t.Errorf("upstream by service %v, want %v", r.Upstream.ByService, wantBy)
	}
	if math.Abs(r.Stacker.CPUMsPerQuery-4) > 1e-6 {
		t.Errorf("CPU %v ms/query, want 4", r.Stacker.CPUMsPerQuery)
	}
	if r.Stacker.PeakRSSBytes != 80<<20+g.count.Load() {
		t.Errorf("peak RSS %d, want the after-run value %d", r.Stacker.PeakRSSBytes, 80<<20+g.count.Load())
	}
	if r.Stacker.GoroutinesStart != 11 || r.Stacker.GoroutinesEnd != 12 {
		t.Errorf("goroutines %d -> %d, want 11 -> 12", r.Stacker.GoroutinesStart, r.Stacker.GoroutinesEnd)
	}
}

func TestRunFailsOnBadStatsEndpoint(t *testing.T) {
	g := newFakeGateway(t, answerOK)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no stats here", http.StatusNotFound)
	}))
	t.Cleanup(broken.Close)
	for _, flag := range []string{"-stacker-stats", "-demo-stats"} {
		t.Run(flag, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), []string{"-url", g.srv.URL, "-n", "3", "-warmup", "0", flag, broken.URL}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "404") {
				t.Errorf("Run: %v, want an error naming the 404", err)
			}
		})
	}
}

func TestRunRepeatsAndPrintsMedian(t *testing.T) {
	g := newFakeGateway(t, answerOK)
	stackerURL, demoURL := statsServers(t, g)
	args := []string{"-url", g.srv.URL, "-c", "2", "-n", "10", "-warmup", "0", "-runs", "3",
		"-stacker-stats", stackerURL, "-demo-stats", demoURL}

	t.Run("json", func(t *testing.T) {
		out := runJSON(t, args...)
		if len(out.Runs) != 3 {
			t.Fatalf("got %d runs, want 3", len(out.Runs))
		}
		for i, r := range out.Runs {
			if r.Run != i+1 || r.Runs != 3 || r.Requests != 10 {
				t.Errorf("run %d: run %d/%d with %d requests, want %d/3 with 10", i, r.Run, r.Runs, r.Requests, i+1)
			}
		}
		m := out.Median
		if m.Run != 0 || m.Runs != 3 || m.Requests != 10 || m.Upstream == nil || m.Upstream.PerQuery != 8 {
			t.Errorf("median %+v, want 3 runs of 10 requests at 8 upstream requests each", m)
		}
	})
	t.Run("text", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("Run: %v\n%s", err, stderr.String())
		}
		text := stdout.String()
		for _, want := range []string{
			"run 1/3: ", "run 2/3: ", "run 3/3: ", "median of 3 runs: ",
			"requests     10 (", "errors 0 (0.00%)",
			"upstream     8.00 requests/query (cases 1.00, documents 5.00, patients 2.00)",
			"stacker      4.00 ms CPU/query",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("output lacks %q:\n%s", want, text)
			}
		}
	})
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		warmup string
		// handle answers request i; cancel ends the run's context.
		handle func(i int64, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request)
	}{
		{
			name:   "during the run",
			warmup: "0",
			handle: func(i int64, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request) {
				if i == 10 {
					cancel()
				}
				answerOK(i, w, r)
			},
		},
		{
			name:   "during warmup",
			warmup: "1h",
			handle: func(i int64, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request) {
				if i == 10 {
					cancel()
				}
				answerOK(i, w, r)
			},
		},
		{
			// Requests in flight must be abandoned, not awaited.
			name:   "with a target that never answers",
			warmup: "0",
			handle: func(i int64, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request) {
				cancel()
				<-r.Context().Done()
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := newFakeGateway(t, func(i int64, w http.ResponseWriter, r *http.Request) {
				tc.handle(i, cancel, w, r)
			})
			var stdout, stderr bytes.Buffer
			// Neither -d nor -n would end this within the test's lifetime.
			err := Run(ctx, []string{"-url", g.srv.URL, "-c", "4", "-d", "1h", "-warmup", tc.warmup}, &stdout, &stderr)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v, want context.Canceled", err)
			}
		})
	}

	t.Run("already cancelled", func(t *testing.T) {
		g := newFakeGateway(t, answerOK)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stdout, stderr bytes.Buffer
		err := Run(ctx, []string{"-url", g.srv.URL, "-d", "1h", "-warmup", "0"}, &stdout, &stderr)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
		if n := g.count.Load(); n != 0 {
			t.Errorf("gateway got %d requests, want 0", n)
		}
	})
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"unknown flag", []string{"-bogus"}, "-bogus"},
		{"non-numeric concurrency", []string{"-c", "many"}, "-c"},
		{"zero concurrency", []string{"-c", "0"}, "-c 0"},
		{"negative duration", []string{"-d", "-1s"}, "-d"},
		{"bad duration", []string{"-d", "ten"}, "-d"},
		{"negative request bound", []string{"-n", "-1"}, "-n"},
		{"unbounded", []string{"-d", "0", "-n", "0"}, "never stop"},
		{"negative warmup", []string{"-warmup", "-1s"}, "-warmup"},
		{"zero timeout", []string{"-timeout", "0"}, "-timeout"},
		{"zero runs", []string{"-runs", "0"}, "-runs"},
		{"vars not JSON", []string{"-vars", "{first: 1}"}, "-vars"},
		{"vars not an object", []string{"-vars", "[1]"}, "-vars"},
		{"missing query file", []string{"-query", filepath.Join(t.TempDir(), "none.graphql")}, "-query"},
		{"non-HTTP URL", []string{"-url", "ftp://127.0.0.1/graphql"}, "scheme"},
		{"URL without host", []string{"-url", "/graphql"}, "-url"},
		{"stray argument", []string{"extra"}, "unexpected"},
		{"header without a colon", []string{"-header", "Authorization Bearer secret-token-value"}, "-header"},
		{"header with a newline", []string{"-header", "X-A: b\r\nX-B: c"}, "-header"},
		{"floor stats without a floor", []string{"-floor-stats", "http://127.0.0.1:1/debug/stats"}, "-floor-url"},
		{"a name in a comparison", []string{"-name", "x", "-floor-url", "http://127.0.0.1:1/graphql"}, "-name"},
		{"non-HTTP floor", []string{"-floor-url", "ftp://127.0.0.1/graphql"}, "-floor-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run(%q): %v, want an error containing %q", tc.args, err, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("wrote a report despite bad flags: %q", stdout.String())
			}
		})
	}
}

// -header sends extra headers with every request, such as a bearer token
// for a gateway with authentication on.
func TestRunSendsHeaders(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	g := newFakeGateway(t, func(i int64, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")+"|"+strings.Join(r.Header.Values("X-Tenant"), ",")]++
		mu.Unlock()
		answerOK(i, w, r)
	})
	runJSON(t, "-url", g.srv.URL, "-c", "2", "-n", "4", "-warmup", "0",
		"-header", "Authorization: Bearer abc", "-header", "X-Tenant: a", "-header", "X-Tenant: b")
	if len(seen) != 1 || seen["Bearer abc|a,b"] != 4 {
		t.Errorf("headers seen: %v", seen)
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"-h"}, &stdout, &stderr); err != nil {
		t.Errorf("Run(-h): %v, want nil", err)
	}
	if !strings.Contains(stderr.String(), "-allow-remote") {
		t.Errorf("usage lacks -allow-remote:\n%s", stderr.String())
	}
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		// TEST-NET-1 and example.com: nothing must be sent, so any host works.
		{"remote IP", []string{"-url", "http://192.0.2.1/graphql"}},
		{"remote name", []string{"-url", "http://example.com/graphql"}},
		{"private network", []string{"-url", "http://10.0.0.1:8080/graphql"}},
		{"remote stacker stats", []string{"-stacker-stats", "http://192.0.2.1:6060/debug/stats"}},
		{"remote demo stats", []string{"-demo-stats", "http://192.0.2.1:7070/stats"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), append(tc.args, "-n", "1", "-warmup", "0"), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("Run(%q): %v, want a refusal naming loopback", tc.args, err)
			}
		})
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || math.Abs(v-w) > 1e-9 {
			return false
		}
	}
	return true
}

// compareOutput is the shape Run prints with -json and -floor-url.
type compareOutput struct {
	runsJSON
	Floor      runsJSON   `json:"floor"`
	Comparison Comparison `json:"comparison"`
}

// With -floor-url the floor and the gateway are measured in turn, floor
// first, each with its own process stats and the demo services' counters
// of its own runs, and the gateway's figures are set over the floor's.
func TestRunComparesWithFloor(t *testing.T) {
	floor, gw := newFakeGateway(t, answerOK), newFakeGateway(t, answerOK)
	var mu sync.Mutex
	var reads []string
	record := func(name string) func() {
		return func() { mu.Lock(); reads = append(reads, name); mu.Unlock() }
	}
	args := []string{"-url", gw.srv.URL, "-floor-url", floor.srv.URL,
		"-stacker-stats", processStats(t, gw, 4, 80<<20, record("gateway")),
		"-floor-stats", processStats(t, floor, 1, 20<<20, record("floor")),
		"-demo-stats", demoStatsServer(t, floor, gw),
		"-c", "2", "-n", "10", "-warmup", "5ms", "-runs", "3"}

	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), append([]string{"-json"}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	var out compareOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	// Stats are read before and after each run, and only then.
	want := strings.Repeat("floor floor gateway gateway ", 3)
	if got := strings.Join(reads, " ") + " "; got != want {
		t.Errorf("stats reads %q, want %q: runs must alternate, floor first", got, want)
	}
	for _, side := range []struct {
		name  string
		out   runsJSON
		cpuMs float64
	}{{"floor", out.Floor, 1}, {"gateway", out.runsJSON, 4}} {
		if len(side.out.Runs) != 3 {
			t.Fatalf("%s: %d runs, want 3", side.name, len(side.out.Runs))
		}
		for _, r := range append(side.out.Runs, side.out.Median) {
			if r.Target != side.name || r.Requests != 10 || r.Upstream == nil || r.Upstream.PerQuery != 8 ||
				r.Stacker == nil || math.Abs(r.Stacker.CPUMsPerQuery-side.cpuMs) > 1e-6 {
				t.Errorf("%s run %d: %+v, want 10 requests at 8 upstream calls and %v ms CPU each", side.name, r.Run, r, side.cpuMs)
			}
		}
	}
	c := out.Comparison
	if math.Abs(c.CPUMsPerQueryRatio-4) > 1e-6 || math.Abs(c.PeakRSSRatio-4) > 1e-3 || c.RequestsPerSecondRatio <= 0 {
		t.Errorf("comparison %+v, want CPU and RSS 4x the floor's", c)
	}

	stdout.Reset()
	if err := Run(context.Background(), append([]string{"-runs", "2"}, args[:len(args)-2]...), &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"floor run 1/2: ", "gateway run 1/2: ", "floor run 2/2: ", "gateway run 2/2: ",
		"floor median of 2 runs: ", "gateway median of 2 runs: ",
		"  floor        1.00 ms CPU/query", "  gateway      4.00 ms CPU/query",
		"gateway / floor, medians of 2 runs each:\n  CPU/query    4.00 / 1.00 ms = 4.00x\n  peak RSS     80.0 / 20.0 MiB = 4.00x\n",
		"  upstream     8.00 / 8.00 requests/query\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}
