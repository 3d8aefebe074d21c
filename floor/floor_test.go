package floor_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/floor"
	"github.com/stacker/stacker/gateway"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/operations"
)

// env is the demo services (counting calls, with faults to inject), the
// gateway in front of them and the floor beside it.
type env struct {
	demo    *demo.Services
	inject  *demo.FaultInjector
	urls    map[string]string
	gateway string // GraphQL endpoints
	floor   string
	http    *http.Client
}

func start(t *testing.T) *env {
	t.Helper()
	e := &env{inject: demo.NewFaultInjector(nil), http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(e.http.CloseIdleConnections)
	e.demo = demo.New(demo.NewStore(), demo.Options{Middleware: e.inject.Middleware})
	var err error
	if e.urls, err = e.demo.Start(context.Background(), "127.0.0.1"); err != nil {
		t.Fatalf("starting the demo services: %v", err)
	}
	t.Cleanup(func() { e.demo.Close() })

	vars := map[string]string{"STACKER_ADDR": "127.0.0.1:0"}
	for _, s := range config.Services() {
		vars[config.EnvName(s)] = e.urls[s]
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatalf("starting the gateway: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	e.gateway = "http://" + g.Addr().String() + "/graphql"

	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	h, err := floor.New(e.urls, hc, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.floor = srv.URL + "/graphql"
	return e
}

// post sends the case board, as the load command does, and returns the
// status and the body.
func (e *env) post(t *testing.T, url string, vars map[string]any) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": operations.CaseBoard, "variables": vars})
	return e.send(t, http.MethodPost, url, body)
}

func (e *env) send(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, raw
}

// calls runs fn and returns the upstream calls it made, by service.
func (e *env) calls(fn func()) map[string]int64 {
	e.demo.ResetCounts()
	fn()
	return e.demo.Snapshot()
}

// TestSameAnswerAsGateway is what makes the floor a floor: for the case
// board it answers the gateway's bytes exactly, with the gateway's calls.
func TestSameAnswerAsGateway(t *testing.T) {
	e := start(t)
	for _, first := range []int{1, 10, 50} {
		t.Run(fmt.Sprintf("first=%d", first), func(t *testing.T) {
			vars := map[string]any{"first": first}
			var gwStatus, flStatus int
			var gw, fl []byte
			gwCalls := e.calls(func() { gwStatus, gw = e.post(t, e.gateway, vars) })
			flCalls := e.calls(func() { flStatus, fl = e.post(t, e.floor, vars) })
			if gwStatus != http.StatusOK || flStatus != http.StatusOK {
				t.Fatalf("gateway %d, floor %d; floor said %.300s", gwStatus, flStatus, fl)
			}
			if strings.Contains(string(gw), `"errors"`) {
				t.Fatalf("the gateway's answer has errors: %.500s", gw)
			}
			if !bytes.Equal(fl, gw) {
				t.Errorf("answers differ (floor %d bytes, gateway %d): %s", len(fl), len(gw), firstDiff(fl, gw))
			}
			if !maps.Equal(flCalls, gwCalls) {
				t.Errorf("floor calls %v, gateway calls %v", flCalls, gwCalls)
			}
			if first == 50 {
				var total int64
				for s, n := range flCalls {
					total += n
					if n != 1 {
						t.Errorf("%s: %d calls, want 1", s, n)
					}
				}
				if total != 8 {
					t.Errorf("%d calls in all, want 8: %v", total, flCalls)
				}
			}
		})
	}
}

// firstDiff shows where two answers part, with some context.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-60, 0)
	return fmt.Sprintf("at byte %d:\n floor   ...%s\n gateway ...%s", i, a[from:min(i+60, len(a))], b[from:min(i+60, len(b))])
}

// A failing service fails the whole board with 502 and a GraphQL-shaped
// error naming it, whichever level it sits at; a request the floor cannot
// read is the caller's error.
func TestErrors(t *testing.T) {
	e := start(t)
	caseBoard, _ := json.Marshal(map[string]any{"query": operations.CaseBoard})
	tests := []struct {
		name       string
		fail       string // service answering 503
		method     string
		body       string
		wantStatus int
		wantInMsg  string
	}{
		{name: "cases down", fail: "cases", wantStatus: http.StatusBadGateway, wantInMsg: "cases: HTTP 503"},
		{name: "patients down", fail: "patients", wantStatus: http.StatusBadGateway, wantInMsg: "patients: HTTP 503"},
		{name: "insurers down", fail: "insurers", wantStatus: http.StatusBadGateway, wantInMsg: "insurers: HTTP 503"},
		{name: "clinics down, three levels below", fail: "clinics", wantStatus: http.StatusBadGateway, wantInMsg: "clinics: HTTP 503"},
		{name: "documents down", fail: "documents", wantStatus: http.StatusBadGateway, wantInMsg: "documents: HTTP 503"},
		{name: "first 0", body: `{"query":"{x}","variables":{"first":0}}`, wantStatus: http.StatusBadRequest, wantInMsg: "first must be between 1 and 100"},
		{name: "first past one page", body: `{"variables":{"first":101}}`, wantStatus: http.StatusBadRequest, wantInMsg: "got 101"},
		{name: "not JSON", body: `query { cases { totalCount } }`, wantStatus: http.StatusBadRequest, wantInMsg: "reading the request"},
		{name: "GET", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed, wantInMsg: "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != "" {
				e.inject.Set(tc.fail, demo.Faults{Fail: 1})
				t.Cleanup(func() { e.inject.Set(tc.fail, demo.Faults{}) })
			}
			method, body := cmp.Or(tc.method, http.MethodPost), []byte(tc.body)
			if tc.body == "" {
				body = caseBoard
			}
			status, raw := e.send(t, method, e.floor, body)
			var r struct {
				Data   json.RawMessage
				Errors []struct{ Message string }
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, raw)
			}
			if status != tc.wantStatus || r.Data != nil || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, tc.wantInMsg) {
				t.Errorf("got %d %s, want %d with an error saying %q", status, raw, tc.wantStatus, tc.wantInMsg)
			}
		})
	}
	// The failures left nothing behind: the next board is whole.
	if status, raw := e.post(t, e.floor, nil); status != http.StatusOK || !strings.HasPrefix(string(raw), `{"data":{"cases":{"totalCount":`) {
		t.Errorf("after the failures: %d %.200s", status, raw)
	}
}

var bannerURL = regexp.MustCompile(`(?m)^\s+(Case board|Debug)\s+(http://\S+)$`)

// The command serves the case board and the process figures the load
// command reads, as the gateway does, and stops when its context ends.
func TestRun(t *testing.T) {
	e := start(t)
	vars := map[string]string{"STACKER_ADDR": "127.0.0.1:0", "STACKER_DEBUG_ADDR": "127.0.0.1:0"}
	for s, u := range e.urls {
		vars[config.EnvName(s)] = u
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout testsync.Buffer
	done := make(chan error, 1)
	go func() { done <- floor.Run(ctx, func(k string) string { return vars[k] }, &stdout, io.Discard) }()
	urls := map[string]string{}
	testsync.WaitFor(t, "the banner", func() bool {
		for _, m := range bannerURL.FindAllStringSubmatch(stdout.String(), -1) {
			urls[m[1]] = m[2]
		}
		return len(urls) == 2
	})

	if status, raw := e.post(t, urls["Case board"], map[string]any{"first": 2}); status != http.StatusOK || !strings.Contains(string(raw), `"nodes":[{"id":`) {
		t.Errorf("case board: %d %.200s", status, raw)
	}
	status, raw := e.send(t, http.MethodGet, urls["Debug"], nil)
	var st struct {
		CPUSeconds  *float64 `json:"cpu_seconds"`
		MaxRSSBytes int64    `json:"max_rss_bytes"`
	}
	if err := json.Unmarshal(raw, &st); status != http.StatusOK || err != nil || st.CPUSeconds == nil || st.MaxRSSBytes <= 0 {
		t.Errorf("debug stats: %d %s (%v)", status, raw, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
}

func TestRunNeedsServiceURLs(t *testing.T) {
	err := floor.Run(context.Background(), func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "STACKER_<SERVICE>_URL") {
		t.Errorf("Run without service URLs = %v, want an error naming the variables", err)
	}
}
