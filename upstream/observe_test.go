package upstream

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

// calls is an Observer that keeps what it is told.
type calls struct {
	mu  sync.Mutex
	got []Call
}

func (c *calls) ObserveCall(_ context.Context, call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, call)
}

func (c *calls) all() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.got...)
}

func TestObserverSeesEveryCall(t *testing.T) {
	batch := func(ctx context.Context, s *Service) error {
		_, err := GetByIDs[okBody](ctx, s, "/things", "ids", []int64{3, 1, 3, 2}, "things")
		return err
	}
	one := func(ctx context.Context, s *Service) error {
		_, err := GetOne[okBody](ctx, s, "/things/42/notes", "thing")
		return err
	}
	get := func(ctx context.Context, s *Service) error { return call(ctx, s, http.MethodGet) }
	post := func(ctx context.Context, s *Service) error { return call(ctx, s, http.MethodPost) }
	down := step{status: 503, body: `{"error":"down"}`}
	retrying := Policy{RetryRatio: 1, RetryReserve: 100}
	for _, tc := range []struct {
		name    string
		steps   []step
		policy  Policy
		calls   int // made before the one checked
		do      func(context.Context, *Service) error
		want    Call // Duration and Err are checked apart
		outcome string
	}{
		{
			name: "a batch counts its distinct ids", steps: []step{{status: 200, body: `{"things":[]}`}}, do: batch,
			want: Call{Method: "GET", Route: "/things?ids", Status: 200, IDs: 3}, outcome: "200",
		},
		{
			name: "ids in the path leave the route", steps: []step{{status: 404, body: `{"error":"no"}`}}, do: one,
			want: Call{Method: "GET", Route: "/things/:id/notes", Status: 404}, outcome: "404",
		},
		{
			name: "retries are counted and the last status kept", steps: []step{down, down, ok200}, do: get, policy: retrying,
			want: Call{Method: "GET", Route: "/things", Status: 200, Retries: 2}, outcome: "200",
		},
		{
			name: "a write is sent once", steps: []step{down}, do: post,
			want: Call{Method: "POST", Route: "/things", Status: 503}, outcome: "503",
		},
		{
			name: "an empty retry budget is reported", steps: []step{down}, do: get,
			policy: Policy{RetryRatio: 0.001, RetryReserve: 0},
			want:   Call{Method: "GET", Route: "/things", Status: 503, BudgetExhausted: true}, outcome: "503",
		},
		{
			name: "a dropped connection has no status", steps: []step{{drop: true}}, do: get, policy: retrying,
			want: Call{Method: "GET", Route: "/things", Retries: 2}, outcome: "unavailable",
		},
		{
			name: "an open breaker sends nothing", steps: []step{down}, do: get, calls: 2,
			policy: Policy{BreakerFailures: 2, BreakerOpenFor: time.Hour, RetryRatio: 1, RetryReserve: 100},
			want:   Call{Method: "GET", Route: "/things"}, outcome: "breaker_open",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.steps...)
			obs := &calls{}
			tc.policy.Observer = obs
			s := newGuardedService(t, f, testOptions(), tc.policy)
			for range tc.calls {
				tc.do(context.Background(), s)
			}
			err := tc.do(context.Background(), s)
			got := obs.all()
			if len(got) != tc.calls+1 {
				t.Fatalf("observed %d calls, want %d", len(got), tc.calls+1)
			}
			c := got[len(got)-1]
			if !errors.Is(c.Err, err) || (err == nil) != (c.Err == nil) {
				t.Errorf("Err = %v, the call returned %v", c.Err, err)
			}
			if c.Duration <= 0 {
				t.Errorf("Duration = %v", c.Duration)
			}
			if o := c.Outcome(); o != tc.outcome {
				t.Errorf("Outcome() = %q, want %q", o, tc.outcome)
			}
			c.Err, c.Duration = nil, 0
			tc.want.Service = "doctors"
			if c != tc.want {
				t.Errorf("observed %+v\nwant     %+v", c, tc.want)
			}
		})
	}
}

// A recorder in the context hears of the calls made with that context
// alone, beside the service's observer or without one.
func TestCallRecorderSeesItsContextsCalls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		service Observer
	}{
		{"without a service observer", nil},
		{"beside the service observer", &calls{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, ok200, ok200)
			s := newGuardedService(t, f, testOptions(), Policy{Observer: tc.service})
			mine := &calls{}
			if err := call(WithCallRecorder(context.Background(), mine), s, http.MethodGet); err != nil {
				t.Fatal(err)
			}
			if err := call(context.Background(), s, http.MethodGet); err != nil {
				t.Fatal(err)
			}
			got := mine.all()
			if len(got) != 1 || got[0].Route != "/things" || got[0].Status != 200 {
				t.Errorf("the recorder heard %+v, want the one call made with its context", got)
			}
			if all, ok := tc.service.(*calls); ok && len(all.all()) != 2 {
				t.Errorf("the service observer heard %d calls, want 2", len(all.all()))
			}
		})
	}
}

func TestRouteOf(t *testing.T) {
	for _, tc := range []struct{ path, param, want string }{
		{"/patients", "", "/patients"},
		{"/patients", "ids", "/patients?ids"},
		{"/patients/42", "", "/patients/:id"},
		{"/cases/7/notes/12", "", "/cases/:id/notes/:id"},
		{"/v2/cases", "", "/v2/cases"},
		{"/", "", "/"},
	} {
		if got := routeOf(tc.path, tc.param); got != tc.want {
			t.Errorf("routeOf(%q, %q) = %q, want %q", tc.path, tc.param, got, tc.want)
		}
	}
}

func TestGuardStatsCountsInFlightAndWaiting(t *testing.T) {
	f := newFake(t, step{hang: true})
	s := newGuardedService(t, f, testOptions(), Policy{MaxInFlight: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for range 2 {
		go func() { call(ctx, s, http.MethodGet); done <- struct{}{} }()
	}
	want := GuardStats{Breaker: "closed", InFlight: 1, Waiting: 1}
	testsync.WaitFor(t, "one call in flight and one waiting", func() bool { return s.GuardStats() == want })
	cancel()
	<-done
	<-done
	if st := s.GuardStats(); st != (GuardStats{Breaker: "closed"}) {
		t.Errorf("after both calls ended: %+v", st)
	}
}
