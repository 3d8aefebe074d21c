package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestStartServesEveryService(t *testing.T) {
	svcs := newServices(t, Options{})
	urls, err := svcs.Start(context.Background(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svcs.Close(); err != nil {
			t.Error(err)
		}
	})
	if len(urls) != len(ServiceNames()) {
		t.Fatalf("urls %v, want one per service", urls)
	}
	singular := map[string]string{
		"patients": "patient", "insurers": "insurer", "cases": "case", "staff": "staff_member",
		"doctors": "doctor", "clinics": "clinic", "appointments": "appointment", "documents": "document",
	}
	for _, name := range ServiceNames() {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, urls[name]+"/"+name+"/1", "X-Request-ID", "over-the-wire")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			checkJSON(t, resp.Header, body)
			var env map[string]struct{ ID int64 }
			if err := json.Unmarshal(body, &env); err != nil || env[singular[name]].ID != 1 {
				t.Errorf("body %s, want %s 1 (%v)", body, singular[name], err)
			}
			if got := resp.Header.Get("X-Request-ID"); got != "over-the-wire" {
				t.Errorf("X-Request-ID %q", got)
			}
		})
	}
	if got := svcs.Requests("cases"); got != 1 {
		t.Errorf("Requests(cases) = %d, want 1", got)
	}
	if _, err := svcs.Start(context.Background(), "127.0.0.1"); err == nil {
		t.Error("a second Start did not fail")
	}
}

// TestCloseCutsLatencyShort checks Close does not wait out injected latency:
// the waiting request is answered 503 and Close returns.
func TestCloseCutsLatencyShort(t *testing.T) {
	svcs := newServices(t, Options{})
	urls, err := svcs.Start(context.Background(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	svcs.SetLatency("cases", time.Hour)
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(urls["cases"] + "/cases/1")
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	testsync.WaitFor(t, "the request to be in flight", func() bool { return svcs.InFlight("cases") == 1 })
	if err := svcs.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-status:
		if got != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request still waiting after Close")
	}
	if _, err := http.Get(urls["cases"] + "/cases/1"); err == nil {
		t.Error("service still answering after Close")
	}
	if _, err := svcs.Start(context.Background(), "127.0.0.1"); err == nil {
		t.Error("Start after Close did not fail")
	}
	if err := svcs.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartStopsWhenContextEnds(t *testing.T) {
	svcs := newServices(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	urls, err := svcs.Start(ctx, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svcs.Close() })
	if resp, _ := get(t, urls["staff"]+"/staff/1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d before cancel", resp.StatusCode)
	}
	cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	testsync.WaitFor(t, "the servers to stop", func() bool {
		resp, err := client.Get(urls["staff"] + "/staff/1")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
}
