package gateway

import (
	"encoding/json"
	"io"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/events/eventstest"
	"github.com/stacker/stacker/health"
)

// readyz probes e's /readyz.
func readyz(t testing.TB, e *testEnv) (int, health.Report) {
	t.Helper()
	resp, err := e.HTTP.Get(e.Base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var rep health.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decoding /readyz: %v", err)
	}
	return resp.StatusCode, rep
}

// waitReady polls /readyz until its status is want (eventstest.Wait at
// most: a bus reconnects with backoff).
func waitReady(t testing.TB, e *testEnv, want string) health.Report {
	t.Helper()
	deadline := time.Now().Add(eventstest.Wait)
	for {
		_, rep := readyz(t, e)
		if rep.Status == want {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %+v after %v, want %s", rep, eventstest.Wait, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// /readyz names each dependency the gateway was configured with and its
// state; a replica whose Redis or identity provider keys are missing asks
// for no traffic, while /healthz, which checks only the process, stays 200.
func TestReadiness(t *testing.T) {
	idp := authtest.NewProvider(t, authtest.RSAKey(t, "k1"))
	idpDown := authtest.NewProvider(t, authtest.RSAKey(t, "k1"))
	idpDown.SetDown(true)
	tests := []struct {
		name       string
		needs      string // a server that must answer at this address
		env        map[string]string
		wantCode   int
		wantChecks map[string]string
	}{
		{name: "in-process bus", env: nil, wantCode: 200,
			wantChecks: map[string]string{"config": "ok", "events": "ok"}},
		{name: "nats", needs: "127.0.0.1:4222", env: map[string]string{"STACKER_EVENTS_URL": "nats://127.0.0.1:4222"}, wantCode: 200,
			wantChecks: map[string]string{"config": "ok", "events": "ok"}},
		{name: "redis up", needs: "127.0.0.1:6379", env: map[string]string{"STACKER_REDIS_URL": "redis://127.0.0.1:6379/0"}, wantCode: 200,
			wantChecks: map[string]string{"config": "ok", "events": "ok", "redis": "ok"}},
		{name: "redis down", env: map[string]string{"STACKER_REDIS_URL": "redis" + strings.TrimPrefix(closedURL(t), "http") + "/0"}, wantCode: 503,
			wantChecks: map[string]string{"config": "ok", "events": "ok", "redis": "failing"}},
		{name: "identity provider keys loaded", env: authEnv(idp, map[string]string{"STACKER_AUTH_JWKS_MIN_REFRESH": "0s"}), wantCode: 200,
			wantChecks: map[string]string{"config": "ok", "events": "ok", "auth_keys": "ok"}},
		{name: "identity provider down since start", env: authEnv(idpDown, map[string]string{"STACKER_AUTH_JWKS_MIN_REFRESH": "0s"}), wantCode: 503,
			wantChecks: map[string]string{"config": "ok", "events": "ok", "auth_keys": "failing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != "" {
				eventstest.RequireServer(t, tc.name, tc.needs)
			}
			e := startStacker(t, tc.env)
			code, rep := readyz(t, e)
			if code != tc.wantCode || !maps.Equal(rep.Checks, tc.wantChecks) {
				t.Errorf("/readyz = %d %+v, want %d %v", code, rep, tc.wantCode, tc.wantChecks)
			}
			resp, err := e.HTTP.Get(e.Base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("/healthz = %d, want 200 whatever the dependencies", resp.StatusCode)
			}
		})
	}
}

// Readiness follows the dependencies while the gateway runs: its NATS
// going away and coming back, its identity provider answering after the
// gateway started without keys. The answer never carries an address.
func TestReadinessFollowsDependencies(t *testing.T) {
	t.Run("nats", func(t *testing.T) {
		port := eventstest.FreePort(t)
		srv := eventstest.StartProcess(t, port, eventstest.Binary(t, "nats-server"), "-a", "127.0.0.1", "-p", strconv.Itoa(port))
		e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": "nats://" + srv.Addr()})
		waitReady(t, e, health.StatusReady)
		srv.Kill()
		if rep := waitReady(t, e, health.StatusNotReady); rep.Checks["events"] != health.CheckFailing {
			t.Errorf("with NATS gone: %+v, want events failing", rep)
		}
		srv.Start()
		waitReady(t, e, health.StatusReady)
	})
	t.Run("identity provider", func(t *testing.T) {
		p := authtest.NewProvider(t, authtest.RSAKey(t, "k1"))
		p.SetDown(true)
		e := startStacker(t, authEnv(p, map[string]string{"STACKER_AUTH_JWKS_MIN_REFRESH": "0s"}))
		resp, err := e.HTTP.Get(e.Base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("/readyz with the provider down = %d %s, want 503 naming no address", resp.StatusCode, body)
		}
		p.SetDown(false)
		waitReady(t, e, health.StatusReady)
		// Once loaded, the keys keep verifying tokens whatever the
		// provider does: still ready.
		p.SetDown(true)
		if _, rep := readyz(t, e); !rep.Ready() {
			t.Errorf("provider down after the keys loaded: %+v, want ready", rep)
		}
	})
}

// On the stop signal, /readyz turns 503 at once while queries are still
// answered for STACKER_SHUTDOWN_DELAY (each answer closing its connection,
// so clients reconnect elsewhere); then the listener closes, the request
// in flight gets its answer, and run returns nil. Only generous bounds on
// time are checked.
func TestShutdownSequence(t *testing.T) {
	const delay = 3 * time.Second
	e := startStacker(t, map[string]string{"STACKER_SHUTDOWN_DELAY": delay.String()})
	if code, rep := readyz(t, e); code != 200 || !rep.Ready() {
		t.Fatalf("/readyz before the stop = %d %+v", code, rep)
	}

	// A request still in flight when the delay ends.
	answered := caseInFlight(t, e, delay+time.Second)

	stopAt := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop() }()

	if rep := waitReady(t, e, health.StatusDraining); rep.Ready() {
		t.Fatalf("/readyz while draining = %+v", rep)
	}
	resp, err := e.HTTP.Post(e.URL, "application/json", strings.NewReader(`{"query":"{ patient(id: 1) { id } }"}`))
	if err != nil {
		t.Fatalf("query during the delay: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"data":{"patient":{"id":"1"}}}` {
		t.Errorf("query during the delay = %d %s, want its answer", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("answer during the delay lacks Connection: close")
	}
	if time.Since(stopAt) >= delay {
		t.Logf("the checks above took longer than the delay (%v): this machine is slow, and the test proves less", time.Since(stopAt))
	}

	if got := <-answered; got != `{"data":{"case":{"id":"1"}}}` {
		t.Errorf("in-flight request got %s, want its answer", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
	if elapsed := time.Since(stopAt); elapsed < delay {
		t.Errorf("run returned %v after the stop, before the %v delay was over", elapsed, delay)
	}
	if _, err := e.HTTP.Get(e.Base + "/healthz"); err == nil {
		t.Error("the listener still answers after run returned")
	}
}
