package upstream

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// The kinds of upstream failure. Every error this package and the typed
// clients return for a failed call matches exactly one of them with
// errors.Is (a *ValidationError matches ErrBadRequest), so the error
// presenter can classify a failure without looking at its text.
var (
	// ErrNotFound: the service answered 404.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the service answered 400 (or 422), or the call was
	// refused before it was sent because its arguments break the contract
	// (more than MaxIDs ids).
	ErrBadRequest = errors.New("bad request")
	// ErrUnavailable: the connection failed, the service answered 5xx or a
	// status outside the contract, or its body was not the JSON promised.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrRateLimited: the service answered 429 and waiting for it was not
	// possible within the request's deadline (or retries ran out).
	ErrRateLimited = errors.New("rate limited")
	// ErrTimeout: the request's context ended (deadline or cancellation) or
	// every attempt hit the per-attempt timeout. The cause (for example
	// context.Canceled) stays reachable through errors.Is.
	ErrTimeout = errors.New("upstream timeout")
	// ErrOverloaded: the call was never sent because the service already
	// had its maximum of calls in flight (Policy.MaxInFlight) until the
	// request's context ended.
	ErrOverloaded = errors.New("upstream overloaded")
)

// Error is a failed upstream call. It carries the detail operators need in
// logs (method, URL, status, the upstream's own message); none of it is meant
// for end users, so present it only through its Kind.
//
// Kind is always one of the package's sentinel errors; Err, the underlying
// cause (a network or decoding error), may be nil.
type Error struct {
	Service    string // the service's name, e.g. "patients"
	Method     string
	URL        string
	StatusCode int    // 0 when no response was received
	Message    string // the upstream's {"error": "..."} text or what went wrong locally
	Kind       error
	Err        error
}

// Error reads like "upstream patients: GET http://host/patients/7: 404 not found: no such patient".
// The URL's query values are left out, here and in the cause's text (a
// *url.Error repeats the URL): a search's q is what the client typed, a
// patient's name or email, and this text is logged.
func (e *Error) Error() string {
	s := e.text()
	if i := strings.IndexByte(e.URL, '?'); i >= 0 {
		s = strings.ReplaceAll(s, e.URL[i:], queryNames(e.URL[i+1:]))
	}
	return s
}

// withoutQueryValues is a URL for a log line: its query's values elided.
func withoutQueryValues(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + queryNames(u[i+1:])
	}
	return u
}

// queryNames is a raw query with its values elided: "?q=...&limit=...".
func queryNames(raw string) string {
	var b strings.Builder
	for i, kv := range strings.Split(raw, "&") {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		k, _, _ := strings.Cut(kv, "=")
		b.WriteString(k)
		b.WriteString("=...")
	}
	return b.String()
}

func (e *Error) text() string {
	var b strings.Builder
	b.WriteString("upstream ")
	b.WriteString(e.Service)
	b.WriteString(": ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteByte(' ')
	}
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("error")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the error's Kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the cause, so errors.Is(err, context.Canceled) and the like work.
func (e *Error) Unwrap() error { return e.Err }

// ValidationError is a 422 answer to a write: per-field messages in the
// service's words (Rails' {"errors": {"field": ["message", ...]}}), meant to
// be shown to the user. Model-wide messages sit under the "base" field.
// It matches ErrBadRequest with errors.Is.
type ValidationError struct {
	Service string
	Fields  map[string][]string
}

// Error reads like "cases: validation failed: priority is invalid; status can't be blank".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Service)
	b.WriteString(": validation failed")
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteByte(' ')
		b.WriteString(strings.Join(e.Fields[k], ", "))
	}
	return b.String()
}

// Is makes a validation failure classify as ErrBadRequest: the user's input
// was refused.
func (e *ValidationError) Is(target error) bool { return target == ErrBadRequest }
