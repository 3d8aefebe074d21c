package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

// observed records the calls an Observer sees.
type observed struct {
	mu    sync.Mutex
	calls []Call
}

func (o *observed) ObserveCall(_ context.Context, c Call) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, c)
}

// TestSendStream: a streamed body goes out chunked, as it is read, once
// (a 503 is not retried), with the headers and observers of any call; a
// body that fails to read aborts the request with the read's error.
func TestSendStream(t *testing.T) {
	t.Run("sent once, chunked, observed", func(t *testing.T) {
		f := newFake(t, step{status: 503, body: `{"error":"down"}`})
		var o observed
		s := newTestService(t, f, testOptions())
		ctx := WithCallRecorder(WithRequestID(context.Background(), "req-7"), &o)
		err := s.SendStream(ctx, http.MethodPost, "/things", "text/plain", io.MultiReader(strings.NewReader("a"), strings.NewReader("b")), nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if n := f.calls.Load(); n != 1 {
			t.Errorf("sent %d times, want 1", n)
		}
		h := f.lastHeader()
		if h.Get("X-Request-Id") != "req-7" || h.Get("Content-Type") != "text/plain" {
			t.Errorf("headers %v", h)
		}
		if string(f.body) != "ab" {
			t.Errorf("body %q", f.body)
		}
		if len(o.calls) != 1 || o.calls[0].Method != "POST" || o.calls[0].Status != 503 || o.calls[0].Retries != 0 {
			t.Errorf("observed %+v", o.calls)
		}
	})
	t.Run("a body that fails aborts the request", func(t *testing.T) {
		got := make(chan error, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			got <- err
		}))
		t.Cleanup(srv.Close)
		hc := NewHTTPClient(testOptions())
		t.Cleanup(hc.CloseIdleConnections)
		s, _ := NewService("documents", srv.URL, hc)
		broken := errors.New("the client went away")
		body := io.MultiReader(strings.NewReader(strings.Repeat("x", 64<<10)), &failing{err: broken})
		err := s.SendStream(context.Background(), http.MethodPost, "/documents", "application/pdf", body, nil)
		if !errors.Is(err, broken) {
			t.Errorf("err = %v, want it to wrap the body's", err)
		}
		if serr := <-got; serr == nil {
			t.Error("the service read a whole body")
		}
	})
	t.Run("GET is refused", func(t *testing.T) {
		f := newFake(t, ok200)
		s := newTestService(t, f, testOptions())
		if err := s.SendStream(context.Background(), http.MethodGet, "/things", "text/plain", strings.NewReader("a"), nil); err == nil || f.calls.Load() != 0 {
			t.Errorf("err = %v, calls %d", err, f.calls.Load())
		}
	})
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// TestSendStreamAttemptTimeout: a streamed body may take longer to arrive
// than an attempt may last (a large file from a slow client); the attempt
// timeout runs from when the body has been sent, and still ends a service
// that does not answer after that.
func TestSendStreamAttemptTimeout(t *testing.T) {
	const chunks, gap = 6, 50 * time.Millisecond
	o := testOptions()
	o.AttemptTimeout = 2 * gap
	tests := []struct {
		name    string
		answer  bool // the service answers once it has read the body
		wantErr error
	}{
		{name: "a body slower than the attempt timeout", answer: true},
		{name: "a service that never answers", answer: false, wantErr: ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			read := make(chan int, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				read <- len(b)
				if !tc.answer {
					<-r.Context().Done()
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			hc := NewHTTPClient(o)
			t.Cleanup(hc.CloseIdleConnections)
			s, _ := NewService("documents", srv.URL, hc)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.SendStream(ctx, http.MethodPost, "/documents", "application/pdf", &slowReader{chunks: chunks, gap: gap}, nil)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n := <-read; n != chunks*1024 {
				t.Errorf("the service read %d bytes, want %d", n, chunks*1024)
			}
		})
	}
}

// slowReader yields chunks of 1 KiB, gap apart.
type slowReader struct {
	chunks int
	gap    time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.chunks == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.gap)
	r.chunks--
	return copy(p, make([]byte, min(len(p), 1024))), nil
}

// TestSendStreamSparesTheGuard: a streamed call whose body fails (its
// client's fault) does not count against the breaker, and a streamed call
// in flight holds no bulkhead slot.
func TestSendStreamSparesTheGuard(t *testing.T) {
	t.Run("body failures do not trip the breaker", func(t *testing.T) {
		f := newFake(t, step{status: 201, body: `{}`})
		s := newGuardedService(t, f, testOptions(), Policy{BreakerFailures: 1, BreakerOpenFor: time.Minute})
		for range 3 {
			body := io.MultiReader(strings.NewReader("x"), &failing{err: errors.New("over the limit")})
			if err := s.SendStream(context.Background(), http.MethodPost, "/documents", "application/pdf", body, nil); err == nil {
				t.Fatal("a failing body was sent whole")
			}
		}
		if st := s.BreakerState(); st != "closed" {
			t.Fatalf("breaker %s after failing bodies", st)
		}
	})
	t.Run("a stream holds no bulkhead slot", func(t *testing.T) {
		f := newFake(t, step{status: 201, body: `{}`})
		s := newGuardedService(t, f, testOptions(), Policy{MaxInFlight: 1})
		gate := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.SendStream(context.Background(), http.MethodPost, "/documents", "application/pdf", &gatedReader{gate: gate}, nil)
		}()
		testsync.WaitFor(t, "the stream to be in flight", func() bool { return s.GuardStats().InFlight == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Get(ctx, "/doctors", nil, nil); err != nil {
			t.Errorf("a read beside the stream: %v", err)
		}
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("the stream: %v", err)
		}
	})
}

// gatedReader yields one byte, then waits for gate before its end.
type gatedReader struct {
	gate chan struct{}
	sent bool
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		p[0] = 'x'
		return 1, nil
	}
	<-r.gate
	return 0, io.EOF
}
