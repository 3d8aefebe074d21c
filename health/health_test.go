package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func ok(context.Context) error   { return nil }
func down(context.Context) error { return errors.New("dial tcp 10.0.0.7:6379: connection refused") }
func hung(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func probe(t *testing.T, h http.Handler) (int, Report) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	var rep Report
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %q: %v", w.Body, err)
	}
	return w.Code, rep
}

func TestReadiness(t *testing.T) {
	tests := []struct {
		name       string
		checks     []Check
		drain      bool
		wantCode   int
		wantStatus string
		wantChecks map[string]string
	}{
		{"all pass", []Check{{"events", ok}, {"redis", ok}}, false, 200, StatusReady,
			map[string]string{"events": CheckOK, "redis": CheckOK}},
		{"one fails", []Check{{"events", ok}, {"redis", down}}, false, 503, StatusNotReady,
			map[string]string{"events": CheckOK, "redis": CheckFailing}},
		{"one hangs past the timeout", []Check{{"events", hung}, {"redis", ok}}, false, 503, StatusNotReady,
			map[string]string{"events": CheckFailing, "redis": CheckOK}},
		{"draining, all pass", []Check{{"events", ok}}, true, 503, StatusDraining,
			map[string]string{"events": CheckOK}},
		{"no checks", nil, false, 200, StatusReady, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReadiness(slog.New(slog.DiscardHandler), 50*time.Millisecond, tc.checks...)
			if tc.drain {
				r.Drain()
			}
			code, rep := probe(t, r)
			if code != tc.wantCode || rep.Status != tc.wantStatus || !maps.Equal(rep.Checks, tc.wantChecks) {
				t.Errorf("probe = %d %+v, want %d %s %v", code, rep, tc.wantCode, tc.wantStatus, tc.wantChecks)
			}
		})
	}
}

// The reason a check fails goes to the log, once per change of state, and
// never into the answer (it may name a host).
func TestReadinessLogsChangesOnly(t *testing.T) {
	var mu sync.Mutex
	state := down
	var logs bytes.Buffer
	r := NewReadiness(slog.New(slog.NewTextHandler(&logs, nil)), time.Second, Check{"redis", func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return state(ctx)
	}})
	set := func(f func(context.Context) error) { mu.Lock(); state = f; mu.Unlock() }

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if strings.Contains(w.Body.String(), "10.0.0.7") {
		t.Errorf("answer %q carries the check's error", w.Body)
	}
	probe(t, r)
	set(ok)
	probe(t, r)
	probe(t, r)
	if got := strings.Count(logs.String(), "check failing"); got != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", got, logs.String())
	}
	if got := strings.Count(logs.String(), "passing again"); got != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", got, logs.String())
	}
}

func TestCloseWhenDraining(t *testing.T) {
	r := NewReadiness(slog.New(slog.DiscardHandler), time.Second)
	h := r.CloseWhenDraining(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tests := []struct {
		name      string
		drain     bool
		upgrade   bool
		wantClose bool
	}{
		{"serving", false, false, false},
		{"draining", true, false, true},
		{"draining, websocket upgrade", true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drain {
				r.Drain()
			}
			req := httptest.NewRequest("GET", "/graphql", nil)
			if tc.upgrade {
				req.Header.Set("Upgrade", "websocket")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if got := w.Header().Get("Connection") == "close"; got != tc.wantClose {
				t.Errorf("Connection: close = %v, want %v", got, tc.wantClose)
			}
		})
	}
}

func TestLive(t *testing.T) {
	w := httptest.NewRecorder()
	Live(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Errorf("GET /healthz = %d %q", w.Code, w.Body)
	}
}
