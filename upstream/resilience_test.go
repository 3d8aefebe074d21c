package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

func newGuardedService(t *testing.T, f *fake, o Options, p Policy) *Service {
	t.Helper()
	hc := NewHTTPClient(o)
	t.Cleanup(hc.CloseIdleConnections)
	s, err := NewService("doctors", f.url, hc, WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBreakerOpensFailsFastAndCloses(t *testing.T) {
	f := newFake(t, step{status: 503, body: `{"error":"down"}`})
	var logs testsync.Buffer
	o := testOptions()
	o.RetryMax = 0 // no retries
	s := newGuardedService(t, f, o, Policy{BreakerFailures: 3, BreakerOpenFor: 50 * time.Millisecond, Logger: slogTo(&logs)})
	ctx := context.Background()

	for i := range 3 {
		if err := call(ctx, s, http.MethodGet); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s.BreakerState() != "open" {
		t.Fatalf("breaker %s after 3 failures, want open", s.BreakerState())
	}
	// Open: calls fail at once and the service is left alone.
	before := f.calls.Load()
	for range 10 {
		err := call(ctx, s, http.MethodGet)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) || !strings.Contains(e.Message, "circuit breaker open") {
			t.Fatalf("open breaker gave %v", err)
		}
	}
	if n := f.calls.Load() - before; n != 0 {
		t.Errorf("%d calls reached the service while the breaker was open", n)
	}
	// The service recovers; after OpenFor one probe goes through and closes it.
	f.mu.Lock()
	f.steps = []step{ok200}
	f.mu.Unlock()
	testsync.WaitFor(t, "half-open", func() bool { return s.BreakerState() == "half-open" })
	if err := call(ctx, s, http.MethodGet); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s.BreakerState() != "closed" {
		t.Errorf("breaker %s after a good probe, want closed", s.BreakerState())
	}
	for _, want := range []string{"from=closed to=open", "from=open to=half-open", "from=half-open to=closed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestBreakerIgnoresHealthyAnswersAndGoneCallers(t *testing.T) {
	f := newFake(t, step{status: 404, body: `{"error":"not found"}`})
	s := newGuardedService(t, f, testOptions(), Policy{BreakerFailures: 2, BreakerOpenFor: 5 * time.Second})
	for range 5 {
		if err := call(context.Background(), s, http.MethodGet); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		call(ctx, s, http.MethodGet)
	}
	if s.BreakerState() != "closed" {
		t.Errorf("breaker %s after 404s and cancelled callers, want closed", s.BreakerState())
	}
}

func TestBulkhead(t *testing.T) {
	f := newFake(t, step{hang: true})
	s := newGuardedService(t, f, testOptions(), Policy{MaxInFlight: 1})
	holder, release := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- call(holder, s, http.MethodGet) }()
	<-f.first // the slot is taken

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := call(ctx, s, http.MethodGet)
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("second call = %v, want ErrOverloaded", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the service, want 1", n)
	}
	release()
	<-done
	// The slot is free again.
	f.mu.Lock()
	f.steps = []step{ok200}
	f.mu.Unlock()
	if err := call(context.Background(), s, http.MethodGet); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestRetryBudget(t *testing.T) {
	f := newFake(t, step{status: 503, body: `{"error":"down"}`})
	o := testOptions()
	o.RetryMax = 3
	// A reserve of 2 retries and almost no deposit: the budget runs dry.
	s := newGuardedService(t, f, o, Policy{RetryRatio: 0.001, RetryReserve: 2})
	var calls []int32
	for range 4 {
		before := f.calls.Load()
		call(context.Background(), s, http.MethodGet)
		calls = append(calls, f.calls.Load()-before)
	}
	// 1+2 attempts while the reserve lasts, then first attempts only.
	want := []int32{3, 1, 1, 1}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("attempts per call = %v, want %v", calls, want)
		}
	}
}

func TestPerServiceAttemptTimeout(t *testing.T) {
	f := newFake(t, step{hang: true})
	o := testOptions()
	o.RetryMax = 0 // no retries
	o.AttemptTimeout = time.Hour
	s := newGuardedService(t, f, o, Policy{AttemptTimeout: 20 * time.Millisecond})
	if err := call(context.Background(), s, http.MethodGet); !errors.Is(err, ErrTimeout) {
		t.Fatalf("call = %v, want ErrTimeout from the 20ms attempt timeout", err)
	}
}

func slogTo(w *testsync.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
