package resolvers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream"
)

// The codes in extensions.code. Clients switch on these, so they are part of
// the API: add, never rename.
const (
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeNotFound            = "NOT_FOUND"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeRateLimited         = "RATE_LIMITED"
	CodeUpstreamOverloaded  = "UPSTREAM_OVERLOADED"
	CodeTooManySubs         = "TOO_MANY_SUBSCRIPTIONS"
	CodeNoSubscriptions     = "SUBSCRIPTIONS_UNAVAILABLE"
	CodeInternal            = "INTERNAL"
)

// inputError is a problem with the client's arguments; its message is
// written for the client.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// panicError is a panic recovered in a resolver.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Recover turns a panic in a resolver into an error for that field alone; the
// stack goes to the log through ErrorPresenter.
func (r *Resolver) Recover(_ context.Context, v any) error {
	return &panicError{value: v, stack: debug.Stack()}
}

// ErrorPresenter is the one place Go errors become GraphQL errors. It keeps
// the path and locations gqlgen found, replaces the message with one that is
// safe to show (no upstream hosts, paths or bodies), sets extensions.code and,
// for upstream failures, extensions.service, and logs the full error with the
// request id.
func (r *Resolver) ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	cause := gerr.Err
	if cause == nil {
		// Parse and validation errors from gqlgen itself: already safe and coded.
		return gerr
	}
	code, service, msg := classify(cause)
	if _, fromGqlgen := err.(*gqlerror.Error); fromGqlgen && code == CodeInternal && !isPanic(cause) {
		// gqlgen reports an argument it could not coerce (an ID that is not a
		// number, a malformed DateTime) as a *gqlerror.Error; resolvers here
		// never return one. The mistake is the client's.
		code, msg = CodeBadUserInput, coercionMessage(gerr.Path, cause)
	}
	gerr.Message = msg
	if gerr.Extensions == nil {
		gerr.Extensions = map[string]any{}
	}
	gerr.Extensions["code"] = code
	if service != "" {
		gerr.Extensions["service"] = service
	}
	r.logError(ctx, code, gerr, cause)
	return gerr
}

func classify(err error) (code, service, msg string) {
	var (
		in   *inputError
		up   *upstream.Error
		val  *upstream.ValidationError
		lp   *loaders.PanicError
		rp   *panicError
		gerr *gqlerror.Error
	)
	switch {
	case errors.Is(err, ErrTooManyOnConn), errors.Is(err, ErrTooManyOnReplica):
		return CodeTooManySubs, "", err.Error()
	case errors.Is(err, ErrNoEvents):
		return CodeNoSubscriptions, "", err.Error()
	case errors.As(err, &in):
		return CodeBadUserInput, "", in.msg
	case errors.As(err, &lp):
		return CodeInternal, lp.Service, "internal error"
	case errors.As(err, &rp):
		return CodeInternal, "", "internal error"
	case errors.As(err, &val):
		// A 422 outside a mutation payload: the input was refused.
		return CodeBadUserInput, val.Service, val.Error()
	case errors.As(err, &up):
		switch {
		case errors.Is(up, upstream.ErrNotFound):
			if up.StatusCode == 0 && up.Message != "" {
				return CodeNotFound, up.Service, up.Message // written by the loaders
			}
			return CodeNotFound, up.Service, "not found"
		case errors.Is(up, upstream.ErrTimeout):
			return CodeUpstreamTimeout, up.Service, "the " + up.Service + " service did not answer in time"
		case errors.Is(up, upstream.ErrOverloaded):
			return CodeUpstreamOverloaded, up.Service, "too many requests to the " + up.Service + " service are in flight; try again shortly"
		case errors.Is(up, upstream.ErrRateLimited):
			return CodeRateLimited, up.Service, "the " + up.Service + " service is rate limiting requests; try again shortly"
		case errors.Is(up, upstream.ErrBadRequest):
			return CodeInternal, up.Service, "the " + up.Service + " service refused the request"
		default:
			return CodeUpstreamUnavailable, up.Service, "the " + up.Service + " service is unavailable"
		}
	case errors.As(err, &gerr):
		// Errors gqlgen made from bad arguments (coercion) are about the input.
		return CodeBadUserInput, "", gerr.Message
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeUpstreamTimeout, "", "the request ran out of time"
	default:
		return CodeInternal, "", "internal error"
	}
}

func isPanic(err error) bool {
	var rp *panicError
	var lp *loaders.PanicError
	return errors.As(err, &rp) || errors.As(err, &lp)
}

func coercionMessage(path ast.Path, err error) string {
	arg := "argument"
	if len(path) > 0 {
		if name, ok := path[len(path)-1].(ast.PathName); ok {
			arg = string(name)
		}
	}
	var num *strconv.NumError
	if errors.As(err, &num) {
		return fmt.Sprintf("invalid value for %s: %q is not a whole number in range", arg, num.Num)
	}
	return fmt.Sprintf("invalid value for %s: %v", arg, err)
}

func (r *Resolver) logError(ctx context.Context, code string, gerr *gqlerror.Error, cause error) {
	level := slog.LevelError
	if code == CodeBadUserInput || code == CodeNotFound {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("code", code),
		slog.String("path", gerr.Path.String()),
		slog.String("error", cause.Error()),
	}
	if id, ok := upstream.RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	var rp *panicError
	var lp *loaders.PanicError
	switch {
	case errors.As(cause, &rp):
		attrs = append(attrs, slog.String("stack", string(rp.stack)))
	case errors.As(cause, &lp):
		attrs = append(attrs, slog.String("stack", string(lp.Stack)))
	}
	r.log.LogAttrs(ctx, level, "graphql error", attrs...)
}

// SortErrors orders a response's errors by path. Fields resolve concurrently,
// so errors are found in no particular order; sorted, the same failure gives
// the same response every time, which clients' snapshot tests and people
// reading logs both rely on.
func SortErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 1 {
		slices.SortStableFunc(resp.Errors, func(a, b *gqlerror.Error) int { return comparePaths(a.Path, b.Path) })
	}
	return resp
}

func comparePaths(a, b ast.Path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aIdx := a[i].(ast.PathIndex)
		bi, bIdx := b[i].(ast.PathIndex)
		switch {
		case aIdx && bIdx:
			if c := cmp.Compare(ai, bi); c != 0 {
				return c
			}
		case aIdx != bIdx:
			if aIdx {
				return -1
			}
			return 1
		default:
			if c := cmp.Compare(a[i].(ast.PathName), b[i].(ast.PathName)); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}
