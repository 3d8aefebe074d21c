package demo

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stacker/stacker/internal/testsync"
)

// TestMiddlewareInjectsFaults shows the fault-injection hook: faults answered
// by Options.Middleware are still counted, per service and per endpoint.
func TestMiddlewareInjectsFaults(t *testing.T) {
	svcs := newServices(t, Options{
		Middleware: func(service string, next http.Handler) http.Handler {
			if service != "patients" {
				return next
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":"slow down"}`))
			})
		},
	})
	wantError(t, do(t, svcs, "patients", "GET", "/patients?ids=1", ""), http.StatusTooManyRequests, "slow down")
	wantStatus(t, do(t, svcs, "insurers", "GET", "/insurers?ids=1", ""), http.StatusOK)
	want := map[string]int64{"patients GET /patients?ids": 1, "insurers GET /insurers?ids": 1}
	if got := svcs.EndpointSnapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("EndpointSnapshot %v, want %v", got, want)
	}
}

// TestRequestLogAndDroppedConnection runs with debug logging, which wraps the
// ResponseWriter, and checks a middleware can still drop the connection
// through http.ResponseController, and that the request log carries the
// request id and traceparent.
func TestRequestLogAndDroppedConnection(t *testing.T) {
	var logs testsync.Buffer
	svcs := newServices(t, Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Middleware: func(service string, next http.Handler) http.Handler {
			if service != "clinics" {
				return next
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				_ = conn.Close()
			})
		},
	})
	urls, err := svcs.Start(context.Background(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svcs.Close() })

	if resp, err := http.Get(urls["clinics"] + "/clinics/1"); err == nil {
		resp.Body.Close()
		t.Errorf("got status %d, want the connection dropped", resp.StatusCode)
	}
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp, _ := get(t, urls["doctors"]+"/doctors/2", "X-Request-ID", "log-me", "traceparent", traceparent)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := svcs.Close(); err != nil { // flushes: handlers have returned
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "request_id=log-me") {
			line = l
		}
	}
	for _, want := range []string{`endpoint="doctors GET /doctors/:id"`, "status=200", "traceparent=" + traceparent} {
		if !strings.Contains(line, want) {
			t.Errorf("request log %q lacks %s", line, want)
		}
	}
}
