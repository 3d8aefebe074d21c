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
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/graphqlhttp"
	"github.com/stacker/stacker/live"
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
	// CodeUnauthorizedFieldOrType is a field the caller may not see (the
	// schema's @authenticated and @requiresScopes), as Apollo Router names it.
	CodeUnauthorizedFieldOrType = "UNAUTHORIZED_FIELD_OR_TYPE"
)

// inputError is a problem with the client's arguments; its message is
// written for the client.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// maxGqlgenMessage caps a parse or validation message of gqlgen's, which
// quotes the client's names and values whole.
const maxGqlgenMessage = 256

// maxLoggedError caps the error text of one log line. The text is Stacker's
// own wrapping plus the upstream's URL and message, which may carry values a
// client sent (a search text, a specialty) that no helper clipped on the way.
const maxLoggedError = 2048

// echo formats a client's value for a message: strings quoted, everything
// clipped to graphqlhttp.MaxEcho bytes.
func echo(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(graphqlhttp.Clip(s, graphqlhttp.MaxEcho))
	}
	return graphqlhttp.Clip(fmt.Sprint(v), graphqlhttp.MaxEcho)
}

// refusedArgument marks an upstream 400 (upstream.ErrBadRequest) as the
// refusal of one argument the client chose and only the service can judge
// (a specialty it does not know). Stacker checks everything else it sends,
// so any other 400 is Stacker's own fault and stays INTERNAL. Other errors
// pass through unchanged.
func refusedArgument(err error, arg string, value any) error {
	var ve *upstream.ValidationError
	if !errors.Is(err, upstream.ErrBadRequest) || errors.As(err, &ve) {
		return err
	}
	return &argRefusal{arg: arg, value: value, err: err}
}

type argRefusal struct {
	arg   string
	value any
	err   error
}

func (e *argRefusal) Error() string { return e.err.Error() }
func (e *argRefusal) Unwrap() error { return e.err }

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
//
// An argument gqlgen could not coerce (an ID that is not a number, a
// malformed DateTime) arrives with a path that runs past the field into the
// argument (["case", "id"]); the spec wants a field error's path to end at the
// response field, so the path is cut back to the field and the error points
// at the argument with its location instead.
func (r *Resolver) ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	gerr.Path = eventPath(ctx, gerr.Path)
	cause := gerr.Err
	if cause == nil {
		// Parse and validation errors from gqlgen itself: safe and coded, but
		// they quote the document and variables ("NOPE… is not a valid
		// CaseStatus"), so they are clipped like any echoed value, with room
		// for gqlgen's own words.
		gerr.Message = graphqlhttp.Clip(gerr.Message, maxGqlgenMessage)
		return gerr
	}
	var code, service, msg string
	logged := cause.Error()
	if arg, ok := argumentError(ctx, gerr); ok {
		code, msg = CodeBadUserInput, arg.message(cause)
		gerr.Path = arg.field
		if arg.pos != nil {
			gerr.Locations = []gqlerror.Location{{Line: arg.pos.Line, Column: arg.pos.Column}}
		}
		// The cause and the message repeat the client's value (an email
		// sent as an id): the client sees it, the log names only the
		// argument.
		logged = "invalid value for " + arg.arg
	} else {
		code, service, msg = classify(cause)
	}
	gerr.Message = msg
	if gerr.Extensions == nil {
		gerr.Extensions = map[string]any{}
	}
	gerr.Extensions["code"] = code
	if service != "" {
		gerr.Extensions["service"] = service
	}
	r.logError(ctx, code, gerr, cause, logged)
	return gerr
}

// eventPath puts a subscription's root field back at the head of the path
// of an error raised while resolving one of its events: gqlgen resolves an
// event's fields in a context that lacks the root field's
// (99designs/gqlgen#1212), so their paths start one level down
// (["case", "patient", "email"] for ["caseUpdated", "case", ...]). A
// subscription has exactly one root field, so the head is known.
func eventPath(ctx context.Context, path ast.Path) ast.Path {
	fc := graphql.GetFieldContext(ctx)
	if len(path) == 0 || fc == nil || !graphql.HasOperationContext(ctx) {
		return path
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return path
	}
	for fc.Parent != nil {
		fc = fc.Parent
	}
	if fc.Object == "Subscription" {
		return path
	}
	roots := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"})
	if len(roots) != 1 {
		return path
	}
	return append(ast.Path{ast.PathName(roots[0].Alias)}, path...)
}

func classify(err error) (code, service, msg string) {
	var (
		in  *inputError
		up  *upstream.Error
		val *upstream.ValidationError
		lp  *loaders.PanicError
		rp  *panicError
		ref *argRefusal
		den *authz.Error
		upl *graphqlhttp.UploadError
	)
	switch {
	case errors.As(err, &upl):
		// Before the upstream cases: a file that failed to read aborts
		// the upstream request, and the file's error is the cause.
		return upl.Code, "", upl.Msg
	case errors.As(err, &den):
		return CodeUnauthorizedFieldOrType, "", den.Error()
	case errors.Is(err, audit.ErrUnavailable):
		return CodeAuditUnavailable, "", errAuditWithheld.Error()
	case errors.Is(err, live.ErrTooManyOnConn):
		return CodeTooManySubs, "", live.ErrTooManyOnConn.Error()
	case errors.Is(err, live.ErrTooManyOnReplica):
		return CodeTooManySubs, "", live.ErrTooManyOnReplica.Error()
	case errors.Is(err, live.ErrNoEvents):
		return CodeNoSubscriptions, "", live.ErrNoEvents.Error()
	case errors.Is(err, errNoAuthor):
		return CodeForbidden, "", errNoAuthor.Error()
	case errors.As(err, &in):
		return CodeBadUserInput, "", in.msg
	case errors.As(err, &lp):
		return CodeInternal, lp.Service, "internal error"
	case errors.As(err, &rp):
		return CodeInternal, "", "internal error"
	case errors.As(err, &val):
		// A 422 outside a mutation payload: the input was refused, in words
		// the service writes for users.
		return CodeBadUserInput, val.Service, val.Error()
	case errors.As(err, &ref) && errors.As(err, &up):
		return CodeBadUserInput, up.Service, "the " + up.Service + " service refused " + ref.arg + " " + echo(ref.value)
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
			// Stacker checks what it sends against the contract: a 400 no
			// resolver attributed to a client's argument is Stacker's bug.
			// The service's own text (which may echo the request) stays in
			// the log.
			return CodeInternal, up.Service, "the " + up.Service + " service refused the request"
		default:
			return CodeUpstreamUnavailable, up.Service, "the " + up.Service + " service is unavailable"
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return CodeUpstreamTimeout, "", "the request ran out of time"
	default:
		return CodeInternal, "", "internal error"
	}
}

// argError is an error gqlgen made while coercing one of a field's arguments.
type argError struct {
	field ast.Path      // the response field's path
	arg   string        // where in the arguments: "id", "input.startsAt", "status[2]"
	pos   *ast.Position // the deepest part of the argument the document shows
	typ   string        // the expected type's name, when known
	value any           // the value as the client sent it, when known
}

// argumentError reports whether gerr is about an argument of the field in
// ctx: gqlgen builds its path by appending the argument's path to the
// field's, so such a path runs past the field's own.
func argumentError(ctx context.Context, gerr *gqlerror.Error) (argError, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return argError{}, false
	}
	field := fc.Path()
	if len(gerr.Path) <= len(field) || comparePaths(gerr.Path[:len(field)], field) != 0 {
		return argError{}, false
	}
	rel := gerr.Path[len(field):]
	name, ok := rel[0].(ast.PathName)
	if !ok {
		return argError{}, false
	}
	a := argError{field: field, pos: fc.Field.Position}
	var b strings.Builder
	for i, el := range rel {
		switch el := el.(type) {
		case ast.PathName:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(el))
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(el))
		}
	}
	a.arg = b.String()

	arg := fc.Field.Arguments.ForName(string(name))
	if arg == nil {
		return a, true // a default value: the field is the best location
	}
	a.pos = arg.Position
	v := arg.Value
	var vars any
	inVars := false
	for _, el := range rel[1:] {
		if inVars {
			vars = walkValue(vars, el)
			continue
		}
		if v == nil {
			break
		}
		if v.Kind == ast.Variable {
			inVars, vars = true, walkValue(variable(ctx, v.Raw), el)
			v = nil
			continue
		}
		var child *ast.ChildValue
		switch el := el.(type) {
		case ast.PathName:
			for _, c := range v.Children {
				if c.Name == string(el) {
					child = c
				}
			}
		case ast.PathIndex:
			if int(el) >= 0 && int(el) < len(v.Children) {
				child = v.Children[el]
			}
		}
		if child == nil {
			v = nil
			break
		}
		v = child.Value
		if child.Position != nil {
			a.pos = child.Position
		} else if v != nil && v.Position != nil {
			a.pos = v.Position
		}
	}
	switch {
	case inVars:
		a.value = vars
	case v != nil && v.Kind == ast.Variable:
		a.value = variable(ctx, v.Raw)
		if v.ExpectedType != nil {
			a.typ = v.ExpectedType.Name()
		}
	case v != nil:
		a.value = v.Raw
		if v.ExpectedType != nil {
			a.typ = v.ExpectedType.Name()
		}
	}
	return a, true
}

func variable(ctx context.Context, name string) any {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	return graphql.GetOperationContext(ctx).Variables[name]
}

// walkValue steps into a variable's decoded JSON value.
func walkValue(v any, el ast.PathElement) any {
	switch el := el.(type) {
	case ast.PathName:
		if m, ok := v.(map[string]any); ok {
			return m[string(el)]
		}
	case ast.PathIndex:
		if l, ok := v.([]any); ok && int(el) >= 0 && int(el) < len(l) {
			return l[el]
		}
	}
	return nil
}

// message says what is wrong with the argument, echoing (clipped) what the
// client sent; the cause's own text, which repeats the value whole, is not
// shown.
func (a argError) message(cause error) string {
	var num *strconv.NumError
	if errors.As(cause, &num) {
		if errors.Is(num.Err, strconv.ErrRange) {
			return fmt.Sprintf("invalid value for %s: %s is out of range", a.arg, echo(num.Num))
		}
		return fmt.Sprintf("invalid value for %s: %s is not a whole number", a.arg, echo(num.Num))
	}
	if a.value == nil {
		return fmt.Sprintf("invalid value for %s", a.arg)
	}
	if a.typ == "" {
		return fmt.Sprintf("invalid value for %s: %s is not valid here", a.arg, echo(a.value))
	}
	return fmt.Sprintf("invalid value for %s: %s is not a valid %s", a.arg, echo(a.value), a.typ)
}

// ErrorReporter hears of the errors that are Stacker's fault (panics and
// INTERNAL errors) as they are presented, so operators are told at once
// rather than finding them in the log. The gateway implements it with
// Sentry; this package knows nothing of Sentry.
//
// A Report carries no error text: a panic's value or a service's message
// may hold what a client sent. The request and trace ids are in ctx
// (upstream.RequestID, upstream.TraceID). Report is called on the
// resolving goroutine and must not block.
type ErrorReporter interface {
	Report(ctx context.Context, r Report)
}

// Report is one error for an ErrorReporter: names, codes and code
// locations only.
type Report struct {
	Code      string // always CodeInternal today
	Service   string // the upstream service involved, "" when none
	Operation string // the operation's name, "" when anonymous
	Path      string // the response field, as "cases.nodes.1.patient"
	// Panic says the error is a recovered panic, whose goroutine's stack
	// (runtime/debug.Stack's text) is Stack.
	Panic bool
	Stack []byte
}

// report tells the reporter of an INTERNAL error, when there is one.
func (r *Resolver) report(ctx context.Context, code, service string, gerr *gqlerror.Error, stack []byte) {
	if r.reporter == nil || code != CodeInternal {
		return
	}
	rep := Report{Code: code, Service: service, Path: gerr.Path.String(), Panic: stack != nil, Stack: stack}
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
			rep.Operation = oc.Operation.Name
		}
	}
	r.reporter.Report(ctx, rep)
}

// logError logs an error the presenter made: the full (but clipped) text in
// logged, and the stack of a panic; and reports it when it is INTERNAL.
func (r *Resolver) logError(ctx context.Context, code string, gerr *gqlerror.Error, cause error, logged string) {
	level := slog.LevelError
	switch code {
	case CodeBadUserInput, CodeNotFound, CodeUnauthorizedFieldOrType, CodeForbidden:
		level = slog.LevelInfo
	case CodeAuditUnavailable:
		// The trail logged its failure as an error; a response can withhold
		// hundreds of fields while it lasts.
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("code", code),
		slog.String("path", gerr.Path.String()),
		slog.String("error", graphqlhttp.Clip(logged, maxLoggedError)),
	}
	if id, ok := upstream.RequestID(ctx); ok {
		attrs = append(attrs, slog.String("request_id", id))
	}
	var rp *panicError
	var lp *loaders.PanicError
	var stack []byte
	switch {
	case errors.As(cause, &rp):
		stack = rp.stack
	case errors.As(cause, &lp):
		stack = lp.Stack
	}
	if stack != nil {
		attrs = append(attrs, slog.String("stack", string(stack)))
	}
	r.log.LogAttrs(ctx, level, "graphql error", attrs...)
	service, _ := gerr.Extensions["service"].(string)
	r.report(ctx, code, service, gerr, stack)
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

// Transient reports a response a retry may answer differently because a
// service surely did not act: it was unreachable, refused the call (rate
// limit, bulkhead, breaker) or Stacker failed. An idempotency key does not
// keep such a response, so the retry runs. A timeout is not transient: the
// service may have acted, and running the write again could do it twice.
func Transient(resp *graphql.Response) bool {
	for _, e := range resp.Errors {
		switch e.Extensions["code"] {
		case CodeUpstreamUnavailable, CodeRateLimited, CodeUpstreamOverloaded, CodeInternal,
			// The client's upload broke off: it will send the file again.
			graphqlhttp.CodeUploadIncomplete:
			return true
		}
	}
	return false
}
