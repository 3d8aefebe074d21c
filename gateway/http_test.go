package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

func TestRequestID(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"client's id is kept", "front-end-42", true},
		{"none sent", "", false},
		{"control characters refused", "bad\tid", false},
		{"too long refused", strings.Repeat("x", 200), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.URL, strings.NewReader(`{"query":"{ case(id: 1) { id } }"}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.sent != "" {
				req.Header.Set("X-Request-ID", tc.sent)
			}
			resp, err := e.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-ID")
			if tc.echoed && got != tc.sent {
				t.Errorf("X-Request-ID = %q, want %q", got, tc.sent)
			}
			if !tc.echoed && (got == "" || got == tc.sent || len(got) != 16) {
				t.Errorf("X-Request-ID = %q, want a fresh id", got)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", 200, `"ok"`},
		{"/", 200, "graphiql"},
		{"/graphiql", 200, "graphiql"},
		{"/nope", 404, ""},
		{"/graphql?query=%7Bcases(first:1)%7BtotalCount%7D%7D", 200, "totalCount"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := e.HTTP.Get(e.Base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(tc.wantBody)) {
				t.Errorf("GET %s = %d %.80q, want %d containing %q", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// TestGracefulShutdown: when run's context ends, a request in flight still
// gets its answer and run returns nil.
func TestGracefulShutdown(t *testing.T) {
	e := startStacker(t, nil)
	answered := caseInFlight(t, e, time.Second)
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop() }()
	if got := <-answered; got != `{"data":{"case":{"id":"1"}}}` {
		t.Errorf("in-flight request got %s, want its answer", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run = %v", err)
	}
}

// caseInFlight posts a query for case 1, which the cases service holds for
// latency, and returns once the query is waiting there; the channel gets
// the answer's body, or the error.
func caseInFlight(t *testing.T, e *testEnv, latency time.Duration) <-chan string {
	t.Helper()
	e.Demo.SetLatency("cases", latency)
	answered := make(chan string, 1)
	go func() {
		resp, err := e.HTTP.Post(e.URL, "application/json", strings.NewReader(`{"query":"{ case(id: 1) { id } }"}`))
		if err != nil {
			answered <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- string(body)
	}()
	testsync.WaitFor(t, "the request to reach the cases service", func() bool { return e.Demo.InFlight("cases") > 0 })
	return answered
}
