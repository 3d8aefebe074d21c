package resolvers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream"
)

func TestClassify(t *testing.T) {
	up := func(kind error, status int, msg string) error {
		return fmt.Errorf("loading: %w", &upstream.Error{Service: "doctors", Method: "GET", URL: "http://10.0.0.7:3000/doctors?ids=1", StatusCode: status, Message: msg, Kind: kind})
	}
	tests := []struct {
		name                 string
		err                  error
		code, service, inMsg string
	}{
		{"input", badInput("first must be between 0 and 1000, got 5000"), CodeBadUserInput, "", "first must be"},
		{"loader not found", up(upstream.ErrNotFound, 0, "doctor 7 not found"), CodeNotFound, "doctors", "doctor 7 not found"},
		{"upstream 404 hides the body", up(upstream.ErrNotFound, 404, "Couldn't find Doctor with 'id'=7 in db-3"), CodeNotFound, "doctors", "not found"},
		{"unavailable", up(upstream.ErrUnavailable, 503, "maintenance"), CodeUpstreamUnavailable, "doctors", "unavailable"},
		{"timeout", up(upstream.ErrTimeout, 0, ""), CodeUpstreamTimeout, "doctors", "in time"},
		{"rate limited", up(upstream.ErrRateLimited, 429, ""), CodeRateLimited, "doctors", "rate limiting"},
		{"upstream refused our request", up(upstream.ErrBadRequest, 400, "too many ids"), CodeInternal, "doctors", "refused the request"},
		{"upstream refused the client's argument", refusedArgument(up(upstream.ErrBadRequest, 400, "unknown specialty at db-3"), "specialty", "x"), CodeBadUserInput, "doctors", `refused specialty "x"`},
		{"a refused argument echoes the value clipped", refusedArgument(up(upstream.ErrBadRequest, 400, ""), "specialty", strings.Repeat("s", 1000)), CodeBadUserInput, "doctors", `"` + strings.Repeat("s", graphqlhttp.MaxEcho) + `…"`},
		{"only a 400 is the argument's fault", refusedArgument(up(upstream.ErrUnavailable, 503, "maintenance"), "specialty", "x"), CodeUpstreamUnavailable, "doctors", "unavailable"},
		{"validation outside a payload", &upstream.ValidationError{Service: "cases", Fields: map[string][]string{"status": {"is invalid"}}}, CodeBadUserInput, "cases", "status is invalid"},
		{"loader panic", &loaders.PanicError{Service: "clinics", Value: "boom"}, CodeInternal, "clinics", "internal error"},
		{"resolver panic", &panicError{value: "boom"}, CodeInternal, "", "internal error"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), CodeUpstreamTimeout, "", "ran out of time"},
		{"anything else", errors.New("db: connection string postgres://secret"), CodeInternal, "", "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, service, msg := classify(tc.err)
			if code != tc.code || service != tc.service || !strings.Contains(msg, tc.inMsg) {
				t.Errorf("classify = (%s, %s, %q), want (%s, %s, ~%q)", code, service, msg, tc.code, tc.service, tc.inMsg)
			}
			for _, leak := range []string{"10.0.0.7", "http", "db-3", "secret", "maintenance"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks %q", msg, leak)
				}
			}
		})
	}
}

func TestEchoIsClipped(t *testing.T) {
	if got := echo(strings.Repeat("9", 900_000)); len(got) > graphqlhttp.MaxEcho+8 {
		t.Errorf("echo of 900 KB is %d bytes", len(got))
	}
}

func TestComparePaths(t *testing.T) {
	p := func(elems ...any) ast.Path {
		var out ast.Path
		for _, e := range elems {
			switch v := e.(type) {
			case int:
				out = append(out, ast.PathIndex(v))
			case string:
				out = append(out, ast.PathName(v))
			}
		}
		return out
	}
	ordered := []ast.Path{
		nil,
		p("cases"),
		p("cases", "nodes", 2, "patient"),
		p("cases", "nodes", 10, "assignee"),
		p("cases", "nodes", 10, "patient"),
		p("cases", "nodes", 10, "patient", "insurer"),
	}
	for i := 1; i < len(ordered); i++ {
		if comparePaths(ordered[i-1], ordered[i]) >= 0 || comparePaths(ordered[i], ordered[i-1]) <= 0 {
			t.Errorf("%v should sort before %v", ordered[i-1], ordered[i])
		}
	}
}

func TestUserErrors(t *testing.T) {
	ve := fmt.Errorf("cases: update: %w", &upstream.ValidationError{Service: "cases", Fields: map[string][]string{
		"assignee_id": {"does not exist"},
		"base":        {"case is locked"},
		"status":      {"is invalid", "cannot go back to new"},
	}})
	got, ok := userErrors(ve)
	if !ok {
		t.Fatal("not recognised as a validation error")
	}
	var lines []string
	for _, u := range got {
		lines = append(lines, strings.Join(u.Field, ".")+": "+u.Message)
	}
	want := "input.assigneeId: does not exist|: case is locked|input.status: is invalid|input.status: cannot go back to new"
	if strings.Join(lines, "|") != want {
		t.Errorf("user errors = %q, want %q", strings.Join(lines, "|"), want)
	}
	if _, ok := userErrors(errors.New("other")); ok {
		t.Error("a plain error became user errors")
	}
}
