package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

// step is how the fake upstream answers one request.
type step struct {
	status     int
	body       string
	retryAfter string
	drop       bool // hijack the connection and close it without answering
	hang       bool // wait until the client gives up on the request
}

// fake answers its n-th request with steps[n]; the last step repeats. It
// counts calls and keeps the last request's headers.
type fake struct {
	t       *testing.T
	steps   []step
	calls   atomic.Int32
	first   chan struct{} // closed on the first call
	once    sync.Once
	mu      sync.Mutex
	header  http.Header
	body    []byte
	newConn atomic.Int32
	release chan struct{}
	url     string
}

func newFake(t *testing.T, steps ...step) *fake {
	t.Helper()
	f := &fake{t: t, steps: steps, first: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.newConn.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.release) }) // runs before srv.Close
	f.url = srv.URL
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.calls.Add(1)) - 1
	f.once.Do(func() { close(f.first) })
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.header, f.body = r.Header.Clone(), body
	st := f.steps[min(n, len(f.steps)-1)] // under mu: tests may swap steps
	f.mu.Unlock()

	switch {
	case st.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
		return
	case st.hang:
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
		return
	}
	if st.retryAfter != "" {
		w.Header().Set("Retry-After", st.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.status)
	_, _ = io.WriteString(w, st.body)
}

func (f *fake) lastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.header
}

// testOptions are the gateway's settings (config's defaults) with fast
// retries for tests: waits in milliseconds.
func testOptions() Options {
	return Options{MaxIdleConnsPerHost: 256, AttemptTimeout: 5 * time.Second, RetryMax: 2,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, MaxRetryAfter: 2 * time.Second}
}

func newTestService(t *testing.T, f *fake, o Options) *Service {
	t.Helper()
	hc := NewHTTPClient(o)
	t.Cleanup(hc.CloseIdleConnections)
	s, err := NewService("patients", f.url, hc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var ok200 = step{status: 200, body: `{"ok":true}`}

type okBody struct {
	OK bool `json:"ok"`
}

// call sends one request with method through s and returns its error.
func call(ctx context.Context, s *Service, method string) error {
	var out okBody
	var err error
	if method == http.MethodGet {
		err = s.Get(ctx, "/things", nil, &out)
	} else {
		err = s.Send(ctx, method, "/things", map[string]int{"a": 1}, &out)
	}
	if err == nil && !out.OK {
		return errors.New("body not decoded")
	}
	return err
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		steps      []step
		wantCalls  int32
		wantErr    error // nil for success
		wantStatus int
	}{
		{"GET 503 then ok", "GET", []step{{status: 503}, ok200}, 2, nil, 0},
		{"GET 502 then ok", "GET", []step{{status: 502}, ok200}, 2, nil, 0},
		{"GET 504 then ok", "GET", []step{{status: 504}, ok200}, 2, nil, 0},
		{"GET dropped connection then ok", "GET", []step{{drop: true}, ok200}, 2, nil, 0},
		{"GET two failures then ok", "GET", []step{{status: 503}, {drop: true}, ok200}, 3, nil, 0},
		{"GET 429 without Retry-After then ok", "GET", []step{{status: 429}, ok200}, 2, nil, 0},
		{"GET 503 until retries run out", "GET", []step{{status: 503, body: `{"error":"down"}`}}, 3, ErrUnavailable, 503},
		{"GET dropped until retries run out", "GET", []step{{drop: true}}, 3, ErrUnavailable, 0},
		{"GET 429 until retries run out", "GET", []step{{status: 429}}, 3, ErrRateLimited, 429},
		{"GET 429 Retry-After beyond MaxRetryAfter", "GET", []step{{status: 429, retryAfter: "60"}, ok200}, 1, ErrRateLimited, 429},
		{"GET 400 not retried", "GET", []step{{status: 400, body: `{"error":"bad ids"}`}, ok200}, 1, ErrBadRequest, 400},
		{"GET 404 not retried", "GET", []step{{status: 404, body: `{"error":"not found"}`}, ok200}, 1, ErrNotFound, 404},
		{"GET 422 not retried", "GET", []step{{status: 422, body: `{"errors":{"q":["is too short"]}}`}, ok200}, 1, ErrBadRequest, 0},
		{"GET 500 not retried", "GET", []step{{status: 500}, ok200}, 1, ErrUnavailable, 500},
		{"POST 503 not retried", "POST", []step{{status: 503}, ok200}, 1, ErrUnavailable, 503},
		{"PATCH 503 not retried", "PATCH", []step{{status: 503}, ok200}, 1, ErrUnavailable, 503},
		{"POST 429 not retried", "POST", []step{{status: 429}, ok200}, 1, ErrRateLimited, 429},
		{"PATCH dropped connection not retried", "PATCH", []step{{drop: true}, ok200}, 1, ErrUnavailable, 0},
		{"POST ok", "POST", []step{ok200}, 1, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.steps...)
			s := newTestService(t, f, testOptions())
			err := call(context.Background(), s, tc.method)

			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.wantErr)
			}
			var e *Error
			if tc.wantStatus != 0 {
				if !errors.As(err, &e) {
					t.Fatalf("err = %T, want *Error", err)
				}
				if e.StatusCode != tc.wantStatus {
					t.Errorf("StatusCode = %d, want %d", e.StatusCode, tc.wantStatus)
				}
			}
		})
	}
}

func TestRateLimitRetryAfterAndDeadline(t *testing.T) {
	tests := []struct {
		name      string
		deadline  time.Duration
		wantCalls int32
		wantErr   error
	}{
		// Retry-After: 1 fits a 10s deadline: wait a second, then succeed.
		{"fits the deadline", 10 * time.Second, 2, nil},
		// It does not fit 300ms: fail at once rather than wait past the deadline.
		{"exceeds the deadline", 300 * time.Millisecond, 1, ErrRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, step{status: 429, retryAfter: "1", body: `{"error":"slow down"}`}, ok200)
			s := newTestService(t, f, testOptions())
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()

			err := call(ctx, s, http.MethodGet)
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			// Failed fast: the context was still live when the call returned.
			if ctx.Err() != nil {
				t.Errorf("returned after the deadline; want an immediate failure")
			}
			if errors.Is(err, ErrTimeout) {
				t.Errorf("err = %v, want a rate-limit error, not a timeout", err)
			}
		})
	}
}

func TestContextCancellationStopsRetries(t *testing.T) {
	f := newFake(t, step{status: 503})
	o := testOptions()
	// A retry would wait an hour: only cancellation can end the call.
	o.RetryWaitMin, o.RetryWaitMax = time.Hour, time.Hour
	s := newTestService(t, f, o)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-f.first
		cancel()
	}()
	err := call(ctx, s, http.MethodGet)
	if got := f.calls.Load(); got != 1 {
		t.Errorf("calls = %d, want 1", got)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want context.Canceled classified as ErrTimeout", err)
	}
}

// TestCallsBoundTo: a call made under a context that never ends still ends
// when the context it is bound to does, and keeps its deadline.
func TestCallsBoundTo(t *testing.T) {
	f := newFake(t, step{hang: true})
	s := newTestService(t, f, testOptions())
	bound, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	deadline, _ := bound.Deadline()
	ctx := WithCallsBoundTo(context.WithoutCancel(bound), bound)
	if got, _ := ctx.Deadline(); !got.IsZero() {
		t.Fatalf("the context itself has a deadline: %v", got)
	}
	inner, done := bind(ctx)
	if got, _ := inner.Deadline(); !got.Equal(deadline) {
		t.Errorf("bound call's deadline = %v, want %v", got, deadline)
	}
	done()
	go func() {
		<-f.first
		cancel()
	}()
	err := call(ctx, s, http.MethodGet)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the unbound context ended: %v", ctx.Err())
	}
}

func TestContextDoneBeforeCall(t *testing.T) {
	f := newFake(t, ok200)
	s := newTestService(t, f, testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := call(ctx, s, http.MethodGet)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if got := f.calls.Load(); got != 0 {
		t.Errorf("calls = %d, want 0", got)
	}
}

func TestAttemptTimeout(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		wantCalls int32
		wantErr   error
	}{
		{"slow attempt is retried", []step{{hang: true}, ok200}, 2, nil},
		{"every attempt slow", []step{{hang: true}}, 3, ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.steps...)
			o := testOptions()
			o.AttemptTimeout = 50 * time.Millisecond
			s := newTestService(t, f, o)
			err := call(context.Background(), s, http.MethodGet)
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestErrorDetails(t *testing.T) {
	t.Run("Error carries method, URL, status and message", func(t *testing.T) {
		f := newFake(t, step{status: 404, body: `{"error":"patient 7 not found"}`})
		s := newTestService(t, f, testOptions())
		var out okBody
		err := s.Get(context.Background(), "/patients/7", nil, &out)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want *Error", err)
		}
		want := Error{Service: "patients", Method: "GET", URL: f.url + "/patients/7", StatusCode: 404,
			Message: "patient 7 not found", Kind: ErrNotFound}
		if !reflect.DeepEqual(*e, want) {
			t.Errorf("Error = %+v, want %+v", *e, want)
		}
		for _, part := range []string{"patients", "GET", f.url + "/patients/7", "404", "patient 7 not found"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("Error() = %q, missing %q", err.Error(), part)
			}
		}
	})

	t.Run("422 is a ValidationError with fields", func(t *testing.T) {
		f := newFake(t, step{status: 422, body: `{"errors":{"status":["is not included in the list"],"priority":["is invalid","can't be blank"]}}`})
		s := newTestService(t, f, testOptions())
		err := s.Send(context.Background(), http.MethodPatch, "/cases/1", map[string]string{"status": "x"}, nil)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want *ValidationError", err)
		}
		wantFields := map[string][]string{
			"status":   {"is not included in the list"},
			"priority": {"is invalid", "can't be blank"},
		}
		if ve.Service != "patients" || !reflect.DeepEqual(ve.Fields, wantFields) {
			t.Errorf("ValidationError = %+v, want fields %v", ve, wantFields)
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("errors.Is(err, ErrBadRequest) = false")
		}
		const want = "patients: validation failed: priority is invalid, can't be blank; status is not included in the list"
		if err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	})

	t.Run("422 with a list of messages keeps them under base", func(t *testing.T) {
		f := newFake(t, step{status: 422, body: `{"errors":["slot taken"]}`})
		s := newTestService(t, f, testOptions())
		err := s.Send(context.Background(), http.MethodPost, "/appointments", struct{}{}, nil)
		var ve *ValidationError
		if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Fields, map[string][]string{"base": {"slot taken"}}) {
			t.Errorf("err = %v, want ValidationError with base", err)
		}
	})

	t.Run("non-JSON error body is kept, truncated", func(t *testing.T) {
		f := newFake(t, step{status: 500, body: "<html>" + strings.Repeat("x", 2000) + "</html>"})
		s := newTestService(t, f, testOptions())
		err := s.Get(context.Background(), "/x", nil, nil)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want *Error ErrUnavailable", err)
		}
		if !strings.HasPrefix(e.Message, "<html>") || len(e.Message) > maxMessageBytes+3 {
			t.Errorf("Message = %q (len %d)", e.Message, len(e.Message))
		}
	})

	t.Run("sentinels are distinct kinds", func(t *testing.T) {
		err := error(&Error{Kind: ErrNotFound})
		for _, other := range []error{ErrBadRequest, ErrUnavailable, ErrRateLimited, ErrTimeout} {
			if errors.Is(err, other) {
				t.Errorf("ErrNotFound error matches %v", other)
			}
		}
	})
}

func TestHeadersForwarded(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		ctx    context.Context
		method string
		want   map[string]string // "" means absent
	}{
		{"ids set on GET", WithTraceparent(WithRequestID(context.Background(), "req-1"), tp), "GET",
			map[string]string{"X-Request-Id": "req-1", "Traceparent": tp, "Accept": "application/json", "Content-Type": ""}},
		{"ids set on POST", WithTraceparent(WithRequestID(context.Background(), "req-2"), tp), "POST",
			map[string]string{"X-Request-Id": "req-2", "Traceparent": tp, "Content-Type": "application/json"}},
		{"none set", context.Background(), "GET",
			map[string]string{"X-Request-Id": "", "Traceparent": ""}},
		{"empty id is not sent", WithRequestID(context.Background(), ""), "GET",
			map[string]string{"X-Request-Id": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, ok200)
			s := newTestService(t, f, testOptions())
			if err := call(tc.ctx, s, tc.method); err != nil {
				t.Fatal(err)
			}
			h := f.lastHeader()
			for k, want := range tc.want {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestHeadersForwardedOnRetry(t *testing.T) {
	f := newFake(t, step{status: 503}, ok200)
	s := newTestService(t, f, testOptions())
	if err := call(WithRequestID(context.Background(), "req-9"), s, http.MethodGet); err != nil {
		t.Fatal(err)
	}
	if got := f.lastHeader().Get("X-Request-Id"); got != "req-9" {
		t.Errorf("retried request X-Request-Id = %q", got)
	}
}

func TestContextAccessors(t *testing.T) {
	ctx := context.Background()
	if _, ok := RequestID(ctx); ok {
		t.Error("RequestID on empty context ok = true")
	}
	if _, ok := Traceparent(ctx); ok {
		t.Error("Traceparent on empty context ok = true")
	}
	ctx = WithTraceparent(WithRequestID(ctx, "a"), "b")
	if id, ok := RequestID(ctx); !ok || id != "a" {
		t.Errorf("RequestID = %q, %v", id, ok)
	}
	if tp, ok := Traceparent(ctx); !ok || tp != "b" {
		t.Errorf("Traceparent = %q, %v", tp, ok)
	}
}

func TestBadBodies(t *testing.T) {
	big := `{"items":[` + strings.Repeat(`1,`, 100) + `1]}`
	tests := []struct {
		name    string
		body    string
		maxBody int64
		get     func(ctx context.Context, s *Service) error
		wantMsg string
	}{
		{"garbled JSON", `{"ok": tru`, 0, func(ctx context.Context, s *Service) error {
			return s.Get(ctx, "/x", nil, &okBody{})
		}, "decode response"},
		{"wrong JSON type", `{"ok": "yes"}`, 0, func(ctx context.Context, s *Service) error {
			return s.Get(ctx, "/x", nil, &okBody{})
		}, "decode response"},
		{"oversize body", big, 64, func(ctx context.Context, s *Service) error {
			return s.Get(ctx, "/x", nil, &map[string]any{})
		}, "exceeds 64 bytes"},
		{"oversize body through GetList", big, 64, func(ctx context.Context, s *Service) error {
			_, err := GetList[int](ctx, s, "/x", nil, "items")
			return err
		}, "exceeds 64 bytes"},
		{"missing envelope key", `{"other":[1]}`, 0, func(ctx context.Context, s *Service) error {
			_, err := GetList[int](ctx, s, "/x", nil, "items")
			return err
		}, "decode response"},
		{"not an object", `[1,2]`, 0, func(ctx context.Context, s *Service) error {
			_, err := GetOne[okBody](ctx, s, "/x", "thing")
			return err
		}, "decode response"},
		{"HTML instead of JSON", `<html>oops</html>`, 0, func(ctx context.Context, s *Service) error {
			_, err := GetByIDs[okBody](ctx, s, "/x", "ids", []int64{1}, "things")
			return err
		}, "decode response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, step{status: 200, body: tc.body})
			s := newTestService(t, f, testOptions())
			if tc.maxBody > 0 {
				s.maxBody = tc.maxBody
			}
			err := tc.get(context.Background(), s)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantMsg)
			}
			if got := f.calls.Load(); got != 1 {
				t.Errorf("calls = %d, want 1 (bad bodies are not retried)", got)
			}
		})
	}
}

func TestEnvelopeDecoding(t *testing.T) {
	f := newFake(t, step{status: 200, body: `{"meta":{"x":[1,{"y":2}]},"things":[{"ok":true},{"ok":false}],"extra":null}`})
	s := newTestService(t, f, testOptions())
	got, err := GetList[okBody](context.Background(), s, "/things", nil, "things")
	if err != nil {
		t.Fatal(err)
	}
	if want := []okBody{{true}, {false}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestNewService(t *testing.T) {
	hc := &http.Client{}
	tests := []struct {
		name, base string
		wantBase   string // "" means an error is expected
	}{
		{"empty", "", ""},
		{"not a url", "not a url", ""},
		{"ftp", "ftp://x", ""},
		{"no host", "http://", ""},
		{"relative", "/patients", ""},
		{"bad escape", "http://h/%zz", ""},
		{"query", "http://h?x=1", ""},
		{"user info", "http://u:p@h", ""},
		{"http with port", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"trailing slash trimmed", "https://patients.internal/api/", "https://patients.internal/api"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewService("patients", tc.base, hc)
			if tc.wantBase == "" {
				if err == nil {
					t.Fatalf("NewService(%q) = nil error", tc.base)
				}
				if !strings.Contains(err.Error(), "patients") {
					t.Errorf("error %q does not name the service", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.BaseURL() != tc.wantBase || s.Name() != "patients" {
				t.Errorf("BaseURL() = %q, Name() = %q", s.BaseURL(), s.Name())
			}
		})
	}
	if _, err := NewService("patients", "http://h", nil); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := NewService("", "http://h", hc); err == nil {
		t.Error("empty name accepted")
	}
}

func TestGetByIDsLimits(t *testing.T) {
	hundred := make([]int64, MaxIDs)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		name      string
		ids       []int64
		wantCalls int32
		wantErr   error
	}{
		{"nil ids make no call", nil, 0, nil},
		{"empty ids make no call", []int64{}, 0, nil},
		{"MaxIDs ids make one call", hundred, 1, nil},
		{"more than MaxIDs refused without a call", append(hundred, 101), 0, ErrBadRequest},
		{"MaxIDs distinct ids among repeats make one call", append(hundred, hundred...), 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, step{status: 200, body: `{"things":[{"ok":true}]}`})
			s := newTestService(t, f, testOptions())
			got, err := GetByIDs[okBody](context.Background(), s, "/things", "ids", tc.ids, "things")
			if f.calls.Load() != tc.wantCalls {
				t.Errorf("calls = %d, want %d", f.calls.Load(), tc.wantCalls)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Errorf("got %v, %v; want nil, %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantCalls == 0 && got != nil {
				t.Errorf("got %v, want nil", got)
			}
		})
	}
}

func TestJoinIDs(t *testing.T) {
	tests := []struct {
		ids  []int64
		want string
	}{
		{nil, ""},
		{[]int64{7}, "7"},
		{[]int64{1, 22, 333, -4}, "1,22,333,-4"},
		{[]int64{3, 1, 3, 3, 2, 1}, "3,1,2"},
	}
	for _, tc := range tests {
		if got := JoinIDs(tc.ids); got != tc.want {
			t.Errorf("JoinIDs(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

func TestUnique(t *testing.T) {
	many := func(n int, v string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	long := make([]string, 100) // past the short-list scan, all distinct
	for i := range long {
		long[i] = strconv.Itoa(i)
	}
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"nil", nil, ""},
		{"distinct", []string{"new", "closed"}, "new,closed"},
		{"first-seen order", []string{"closed", "new", "closed", "in_review", "new"}, "closed,new,in_review"},
		{"50,000 copies", many(50_000, "closed"), "closed"},
		{"long and distinct", long, strings.Join(long, ",")},
		{"long with a repeat at the end", append(long, "0"), strings.Join(long, ",")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := JoinValues(tc.in); got != tc.want {
				t.Errorf("JoinValues = %.80q, want %.80q", got, tc.want)
			}
		})
	}
	distinct := []int64{1, 2, 3}
	if got := Unique(distinct); &got[0] != &distinct[0] {
		t.Error("a list without repeats was copied")
	}
}

func TestConnectionsReused(t *testing.T) {
	// After successes, errors and exhausted retries the pool keeps its
	// connection: bodies are drained and retryablehttp's habit of closing
	// idle connections after a failure does not reach the shared pool.
	f := newFake(t, ok200, ok200, step{status: 503}, step{status: 503}, step{status: 503},
		step{status: 404, body: `{"error":"not found"}`}, ok200)
	s := newTestService(t, f, testOptions())
	ctx := context.Background()
	for range 7 { // the exhausted 503s count as one request of three calls
		_ = s.Get(ctx, "/things", nil, &okBody{})
	}
	if got := f.newConn.Load(); got != 1 {
		t.Errorf("connections opened = %d, want 1", got)
	}
}

func TestRetriesLogged(t *testing.T) {
	var buf testsync.Buffer
	f := newFake(t, step{status: 503}, ok200)
	o := testOptions()
	o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	s := newTestService(t, f, o)
	if err := call(WithRequestID(context.Background(), "req-5"), s, http.MethodGet); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"retrying upstream request", "status=503", "request_id=req-5"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q missing %q", out, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	p := &policy{}
	min, max := 10*time.Millisecond, 100*time.Millisecond
	for attempt := range 40 {
		for range 20 {
			d := p.backoff(min, max, attempt, nil)
			if d < min || d > max {
				t.Fatalf("backoff(attempt %d) = %v, outside [%v, %v]", attempt, d, min, max)
			}
		}
	}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3"}}}
	if d := p.backoff(min, max, 0, resp); d != 3*time.Second {
		t.Errorf("backoff with Retry-After 3 = %v", d)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	tests := []struct {
		v      string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"2", 2 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, true},
	}
	for _, tc := range tests {
		resp := &http.Response{Header: http.Header{}}
		if tc.v != "" {
			resp.Header.Set("Retry-After", tc.v)
		}
		got, ok := retryAfter(resp)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.wantOK)
		}
	}
}

// The zero Options and the zero Policy turn off what their fields enable:
// upstream has no defaults of its own, config gives the gateway's.
func TestZeroMeansOff(t *testing.T) {
	down := step{status: 503, body: `{"error":"down"}`}
	t.Run("no retries", func(t *testing.T) {
		f := newFake(t, down)
		s := newTestService(t, f, Options{})
		if err := call(context.Background(), s, http.MethodGet); !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
		if n := f.calls.Load(); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
	t.Run("empty retry budget, no breaker, no bulkhead", func(t *testing.T) {
		f := newFake(t, down)
		s := newGuardedService(t, f, testOptions(), Policy{})
		for range 10 {
			call(context.Background(), s, http.MethodGet)
		}
		if n := f.calls.Load(); n != 10 {
			t.Errorf("%d attempts for 10 calls, want 10: the zero RetryRatio allows no retry", n)
		}
		if s.BreakerState() != "closed" || s.guard.slots != nil {
			t.Errorf("breaker %s, slots %v: want neither", s.BreakerState(), s.guard.slots)
		}
	})
	t.Run("a breaker needs BreakerOpenFor", func(t *testing.T) {
		f := newFake(t, ok200)
		hc := NewHTTPClient(testOptions())
		t.Cleanup(hc.CloseIdleConnections)
		if _, err := NewService("doctors", f.url, hc, WithPolicy(Policy{BreakerFailures: 5})); err == nil || !strings.Contains(err.Error(), "BreakerOpenFor") {
			t.Errorf("err = %v, want one naming BreakerOpenFor", err)
		}
	})
}
