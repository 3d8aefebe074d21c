// Package upstreamtest is a recording fake upstream for the tests of the
// typed clients in upstream/<service>: it answers every request with one
// canned status and JSON body and records what it was sent. It is imported
// by tests only.
package upstreamtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
)

// Request is what the fake upstream received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Query    url.Values
	Header   http.Header
	Body     []byte
}

// Server answers every request with Status and Body, and records requests.
type Server struct {
	URL string

	status int
	body   string

	mu   sync.Mutex
	reqs []Request
}

// New starts a fake upstream that answers status with body (as JSON); it is
// closed when the test ends.
func New(t testing.TB, status int, body string) *Server {
	t.Helper()
	s := &Server{status: status, body: body}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Query:    r.URL.Query(),
		Header:   r.Header.Clone(),
		Body:     body,
	})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	_, _ = io.WriteString(w, s.body)
}

// Calls returns how many requests the server has received.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Only returns the single request received, failing the test if there was
// not exactly one.
func (s *Server) Only(t testing.TB) Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// Client returns a shared upstream client as the gateway configures it
// (config's defaults) but with millisecond retry waits; its idle
// connections are closed when the test ends.
func Client(t testing.TB) *http.Client {
	t.Helper()
	hc := upstream.NewHTTPClient(upstream.Options{
		MaxIdleConnsPerHost: 256,
		AttemptTimeout:      5 * time.Second,
		RetryMax:            2,
		RetryWaitMin:        time.Millisecond,
		RetryWaitMax:        5 * time.Millisecond,
		MaxRetryAfter:       2 * time.Second,
	})
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// Case is one call of a typed client C against a fake upstream answering
// Status (default 200) with Body, and what the call must send and return.
type Case[C any] struct {
	Name   string
	Status int
	Body   string
	Call   func(ctx context.Context, c C) (any, error)

	// NoCall means the client must answer without calling the upstream;
	// the request fields below are then ignored.
	NoCall  bool
	Method  string
	Path    string
	Query   url.Values // the decoded query sent; nil means none
	ReqBody string     // the JSON body sent, compared as JSON; "" means none

	Want    any   // the result, compared with reflect.DeepEqual, when WantErr is nil
	WantErr error // matched with errors.Is
	// WantErrPrefix, if set, must start the error's text (the client's
	// "<service>: <method>: " wrapping).
	WantErrPrefix string
}

// Run runs each case as a subtest against its own fake upstream, with a
// client built by newClient. It also checks that newClient refuses a base
// URL that is not http(s).
func Run[C any](t *testing.T, newClient func(baseURL string, hc *http.Client, opts ...upstream.Option) (C, error), cases []Case[C]) {
	t.Helper()
	if _, err := newClient("ftp://x", http.DefaultClient); err == nil {
		t.Errorf("New(%q) = nil error, want a URL error", "ftp://x")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			status := tc.Status
			if status == 0 {
				status = http.StatusOK
			}
			srv := New(t, status, tc.Body)
			c, err := newClient(srv.URL, Client(t))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.Call(context.Background(), c)

			if tc.NoCall {
				if n := srv.Calls(); n != 0 {
					t.Errorf("upstream received %d requests, want none", n)
				}
			} else {
				checkRequest(t, srv.Only(t), tc.Method, tc.Path, tc.Query, tc.ReqBody)
			}

			if tc.WantErr != nil {
				if !errors.Is(err, tc.WantErr) {
					t.Fatalf("err = %v, want %v", err, tc.WantErr)
				}
				if !strings.HasPrefix(err.Error(), tc.WantErrPrefix) {
					t.Errorf("err = %q, want prefix %q", err, tc.WantErrPrefix)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.Want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.Want)
			}
		})
	}
}

func checkRequest(t *testing.T, r Request, method, path string, query url.Values, body string) {
	t.Helper()
	if r.Method != method || r.Path != path {
		t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, method, path)
	}
	if len(query) == 0 && len(r.Query) == 0 {
		// neither has a query
	} else if !reflect.DeepEqual(r.Query, query) {
		t.Errorf("query = %v, want %v", r.Query, query)
	}
	if body == "" {
		if len(r.Body) != 0 {
			t.Errorf("body = %s, want none", r.Body)
		}
		return
	}
	var got, want any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("request body %q: %v", r.Body, err)
	}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("want body %q: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %s, want %s", r.Body, body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// DistinctIDs returns the ids 1..n: a list longer than upstream.MaxIDs must
// be n distinct ids, since repeats are sent (and counted) once.
func DistinctIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids
}
