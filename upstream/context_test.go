package upstream_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/stacker/stacker/upstream"
)

// A trace id is logged under that name only when the traceparent holds a
// well-formed one: a client's free text never passes for one.
func TestTraceID(t *testing.T) {
	for _, tc := range []struct {
		name, traceparent, want string
	}{
		{"w3c", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", "", ""},
		{"all zeros is invalid", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"upper case is invalid", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"free text", "jane.doe@example.com", ""},
		{"short", "00-4bf92f35-00f067aa0ba902b7-01", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.traceparent != "" {
				ctx = upstream.WithTraceparent(ctx, tc.traceparent)
			}
			got, ok := upstream.TraceID(ctx)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("TraceID = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

// Two middlewares asking for the count share one.
func TestCountCallsShares(t *testing.T) {
	ctx, a := upstream.CountCalls(context.Background())
	_, b := upstream.CountCalls(ctx)
	if a != b {
		t.Error("a second CountCalls made a second count")
	}
}

// An upstream error's text, which is logged, names a URL's query
// parameters but not their values, there or in the cause's text.
func TestErrorLeavesOutQueryValues(t *testing.T) {
	u := "http://patients:3000/patients?q=jane.doe%40example.com&limit=10"
	e := &upstream.Error{Service: "patients", Method: "GET", URL: u, Kind: upstream.ErrUnavailable,
		Err: &url.Error{Op: "Get", URL: u, Err: errors.New("connection refused")}}
	got := e.Error()
	if strings.Contains(got, "jane") || !strings.Contains(got, "/patients?q=...&limit=...") {
		t.Errorf("Error() = %q", got)
	}
}
