package demo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker/stacker/events"
)

func TestParseFaults(t *testing.T) {
	tests := []struct {
		spec    string
		want    map[string]Faults
		wantErr string
	}{
		{spec: "", want: map[string]Faults{}},
		{spec: "patients:fail=0.2,doctors:latency=300ms", want: map[string]Faults{
			"patients": {Fail: 0.2}, "doctors": {Latency: 300 * time.Millisecond}}},
		{spec: "cases:fail=0.1:latency=5ms, cases:drop=0.01", want: map[string]Faults{
			"cases": {Fail: 0.1, Latency: 5 * time.Millisecond, Drop: 0.01}}},
		{spec: "*:429=0.5:retry-after=30s,staff:slow=0.1:slow-latency=2s", want: map[string]Faults{
			"*": {RateLimit: 0.5, RetryAfter: 30 * time.Second}, "staff": {Slow: 0.1, SlowLatency: 2 * time.Second}}},
		{spec: "patients", wantErr: "service:key=value"},
		{spec: "pharmacy:fail=0.1", wantErr: "unknown service"},
		{spec: "patients:fail=2", wantErr: "rate from 0 to 1"},
		{spec: "patients:fail=NaN", wantErr: "rate from 0 to 1"},
		{spec: "patients:latency=fast", wantErr: "duration"},
		{spec: "patients:explode=1", wantErr: "unknown fault"},
		{spec: "patients:fail", wantErr: "key=value"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseFaults(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %+v, want %+v", k, got[k], v)
				}
			}
		})
	}
}

// Rates are exact and evenly spread, not random.
func TestHitIsDeterministic(t *testing.T) {
	for _, rate := range []float64{0, 0.01, 0.2, 0.5, 1} {
		var c atomic.Int64
		hits, run, maxRun := 0, 0, 0
		for range 1000 {
			if hit(rate, &c) {
				hits++
				run++
				maxRun = max(maxRun, run)
			} else {
				run = 0
			}
		}
		if want := int(rate * 1000); hits != want {
			t.Errorf("rate %v: %d hits in 1000, want %d", rate, hits, want)
		}
		if rate < 0.5 && maxRun > 1 {
			t.Errorf("rate %v: %d faults in a row", rate, maxRun)
		}
	}
}

func TestFaultMiddleware(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	fi := NewFaultInjector(map[string]Faults{"*": {Fail: 0.5}, "staff": {RateLimit: 1, RetryAfter: 1500 * time.Millisecond}})
	get := func(h http.Handler) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		return rec.Result()
	}
	cases := fi.Middleware("cases", ok)
	var codes []int
	for range 4 {
		codes = append(codes, get(cases).StatusCode)
	}
	if codes[0] != 200 || codes[1] != 503 || codes[2] != 200 || codes[3] != 503 {
		t.Errorf("fail=0.5 gave %v, want every second request to fail", codes)
	}
	if r := get(fi.Middleware("staff", ok)); r.StatusCode != 429 || r.Header.Get("Retry-After") != "2" {
		t.Errorf("429 = %d with Retry-After %q, want 429 and 2 (rounded up)", r.StatusCode, r.Header.Get("Retry-After"))
	}
	fi.Set("staff", Faults{})
	if r := get(fi.Middleware("staff", ok)); r.StatusCode != 200 {
		t.Errorf("after healing: %d", r.StatusCode)
	}

	t.Run("latency honours cancellation", func(t *testing.T) {
		fi := NewFaultInjector(map[string]Faults{"patients": {Latency: time.Hour}})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		fi.Middleware("patients", ok).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
		if rec.Body.String() == "ok" {
			t.Error("a cancelled request was answered after the latency")
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		fi := NewFaultInjector(map[string]Faults{"clinics": {Drop: 1}})
		srv := httptest.NewServer(fi.Middleware("clinics", ok))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want the connection dropped", resp.StatusCode)
		}
	})
}

// POST /documents stores an upload and publishes document.uploaded; bad
// input is a 422 and publishes nothing.
func TestCreateDocumentPublishes(t *testing.T) {
	var got []events.Event
	s := New(NewStore(), Options{Publish: func(_ context.Context, e events.Event) error { got = append(got, e); return nil }})
	h, _ := s.Handler("documents")
	post := func(body string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/documents", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(`{"document":{"case_id":5,"kind":"imaging","title":"MRI","size_bytes":10}}`); code != 201 {
		t.Fatalf("status %d", code)
	}
	if code := post(`{"document":{"case_id":999999,"kind":"x","title":"","size_bytes":-1}}`); code != 422 {
		t.Fatalf("invalid upload: status %d", code)
	}
	docs := s.store.DocumentsByCase(5)
	last := docs[len(docs)-1]
	if last.Title != "MRI" || len(got) != 1 || got[0].Type != events.TypeDocumentUploaded || got[0].DocumentID != last.ID || got[0].CaseID != 5 {
		t.Errorf("stored %+v, published %+v", last, got)
	}
}
