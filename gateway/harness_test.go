package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventsurl"
	"github.com/stacker/stacker/internal/testsync"
)

// testEnv is a whole Stacker started by Run on :0, in front of the demo
// services started by the test itself (so the test can count their calls and
// inject faults), as an operator would point Stacker at real services.
type testEnv struct {
	URL    string            // the GraphQL endpoint
	URLs   map[string]string // the demo services' base URLs
	Base   string            // the gateway's base URL
	Demo   *demo.Services
	Store  *demo.Store
	Faults *faults             // whole-service status overrides (500, 503, 429)
	Inject *demo.FaultInjector // rates, latency, dropped connections
	Logs   *testsync.Buffer
	HTTP   *http.Client
	// Stop ends run's context and returns what run returned (it is also
	// called at cleanup; calling it twice is fine).
	Stop func() error
}

// faults injects failures per service through demo.Options.Middleware.
type faults struct {
	mu     sync.Mutex
	status map[string]int // service -> status to answer every request with
}

func (f *faults) set(service string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == 0 {
		delete(f.status, service)
		return
	}
	f.status[service] = status
}

func (f *faults) middleware(service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		code := f.status[service]
		f.mu.Unlock()
		if code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, `{"error":"injected failure at http://internal.example:3000/secret"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var graphqlURL = regexp.MustCompile(`GraphQL\s+(http://\S+)/graphql`)

// startStacker starts the demo services and a gateway in front of them.
// extraEnv overrides environment variables (a service URL set to "" is left
// pointing at the demo service).
func startStacker(t testing.TB, extraEnv map[string]string) *testEnv {
	t.Helper()
	return startGateway(t, extraEnv, nil)
}

// startReplica starts a second gateway in front of the demo services of
// base, as another replica of the same deployment.
func startReplica(t testing.TB, base *testEnv, extraEnv map[string]string) *testEnv {
	t.Helper()
	return startGateway(t, extraEnv, base)
}

func startGateway(t testing.TB, extraEnv map[string]string, shared *testEnv) *testEnv {
	t.Helper()
	var (
		f      *faults
		inject *demo.FaultInjector
		store  *demo.Store
		svcs   *demo.Services
		urls   map[string]string
	)
	if shared != nil {
		f, inject, store, svcs, urls = shared.Faults, shared.Inject, shared.Store, shared.Demo, shared.URLs
	} else {
		f = &faults{status: map[string]int{}}
		inject = demo.NewFaultInjector(nil)
		store = demo.NewStore()
		opts := demo.Options{Middleware: func(service string, next http.Handler) http.Handler {
			return f.middleware(service, inject.Middleware(service, next))
		}}
		// With a shared bus the demo services publish their events on it,
		// as the real services do.
		if u := extraEnv["STACKER_EVENTS_URL"]; u != "" {
			bus, err := eventsurl.Open(context.Background(), u, slog.New(slog.DiscardHandler), events.Options{})
			if err != nil {
				t.Fatalf("opening the demo services' bus: %v", err)
			}
			t.Cleanup(func() { bus.Close() })
			opts.Publish = bus.Publish
		}
		svcs = demo.New(store, opts)
		// The demo services outlive the gateway, so a test can see the
		// gateway finish in-flight requests while it shuts down.
		var err error
		urls, err = svcs.Start(context.Background(), "127.0.0.1")
		if err != nil {
			t.Fatalf("starting demo services: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"STACKER_ADDR": "127.0.0.1:0", "STACKER_LOG_LEVEL": "debug"}
	for _, s := range config.Services() {
		env[config.EnvName(s)] = urls[s]
	}
	// Production refuses to start without authentication unless told; the
	// production tests that are not about authentication say so, as an
	// operator would.
	if extraEnv["STACKER_ENV"] == "production" && extraEnv["STACKER_AUTH_ISSUER"] == "" {
		env["STACKER_AUTH"] = "off"
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	stdout, stderr := &testsync.Buffer{}, &testsync.Buffer{}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, func(k string) string { return env[k] }, stdout, stderr) }()
	var stopOnce sync.Once
	var stopErr error
	stop := func() error {
		stopOnce.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = errors.New("run did not return after its context ended")
			}
			if shared == nil {
				svcs.Close()
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run returned %v", err)
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := graphqlURL.FindStringSubmatch(stdout.String()); m != nil {
			e := &testEnv{
				URL: m[1] + "/graphql", URLs: urls, Base: m[1], Demo: svcs, Store: store, Faults: f, Inject: inject, Logs: stderr, Stop: stop,
				HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second},
			}
			t.Cleanup(e.HTTP.CloseIdleConnections)
			return e
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before it was ready: %v\nstderr:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after 10s; stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string                       `json:"message"`
	Path       []any                        `json:"path"`
	Locations  []struct{ Line, Column int } `json:"locations"`
	Extensions map[string]any               `json:"extensions"`
}

func (e gqlError) pathString() string {
	var b strings.Builder
	for i, p := range e.Path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.Trim(strings.TrimSpace(jsonString(p)), `"`))
	}
	return b.String()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// do posts a GraphQL operation and decodes data into out (when non-nil).
func (e *testEnv) do(t testing.TB, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	return e.doWith(t, nil, query, vars, out)
}

// doWith is do with extra request headers, such as a bearer token.
func (e *testEnv) doWith(t testing.TB, header http.Header, query string, vars map[string]any, out any) []gqlError {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(body))
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	// null decodes to nothing in a struct or map, and to "null" in a
	// json.RawMessage, which is what a test of the raw data wants.
	if out != nil && len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decoding data %s: %v", r.Data, err)
		}
	}
	return r.Errors
}

// doAt posts a GraphQL query to any endpoint.
func doAt(t testing.TB, url, query string, out any) []gqlError {
	t.Helper()
	e := &testEnv{URL: url, HTTP: http.DefaultClient}
	return e.do(t, query, nil, out)
}

// mustDo is do for operations that must not fail.
func (e *testEnv) mustDo(t testing.TB, query string, vars map[string]any, out any) {
	t.Helper()
	if errs := e.do(t, query, vars, out); len(errs) > 0 {
		t.Fatalf("unexpected errors: %s", jsonString(errs))
	}
}

// closedURL is a base URL nothing listens on: a service that is gone.
//
// The port stays bound, without listening, until the test ends: a port
// merely closed again can be taken by a server of a test running beside
// it (go test runs packages at once), which would then answer in the
// dead service's place.
func closedURL(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// concurrently sends query n times at once, each from its own goroutine,
// and checks each answer: the per-operation loaders must keep every
// operation to its own calls, which the caller counts afterwards.
func concurrently[T any](t *testing.T, e *testEnv, n int, query string, vars map[string]any, check func(T)) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var got T
			if errs := e.do(t, query, vars, &got); len(errs) > 0 {
				t.Errorf("errors: %s", jsonString(errs))
				return
			}
			check(got)
		})
	}
	wg.Wait()
}
