// Package sentryreport tells Sentry of the errors that are Stacker's own
// fault: panics and INTERNAL errors (resolvers.ErrorReporter), with the
// request id, the trace id and the operation's name.
//
// It is the one package that imports sentry-go, and it uses a Client and
// Hub of its own, never sentry-go's global hub, so two gateways in one
// process (the tests run many) report apart.
//
// What an event holds is chosen field by field (see Report), and nothing
// else is let through (scrub): no error text, since a panic's value or a
// service's message may hold what a client sent; no variables or response
// values; no request data, headers, cookies, user or breadcrumbs.
package sentryreport

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/upstream"
)

// Options configure the reporter.
type Options struct {
	DSN         string // where events go; required
	Environment string // "development" or "production"
	Release     string // the build, when known
}

// Reporter sends reports to Sentry. Safe for concurrent use.
type Reporter struct {
	hub *sentry.Hub
}

var _ resolvers.ErrorReporter = (*Reporter)(nil)

// New is a reporter sending to opts.DSN. Events are sent in the
// background; Close sends what is left.
func New(opts Options) (*Reporter, error) {
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         opts.DSN,
		Environment: opts.Environment,
		// Set, so sentry-go does not go looking for one in the
		// environment or by running git.
		Release:        opts.Release,
		SendDefaultPII: false,
		MaxBreadcrumbs: -1, // none: a breadcrumb is free text
		BeforeSend:     scrub,
		// Without ContextifyFrames: it reads the lines around every
		// frame from the source files on the host into the event, which
		// makes events large and ships source; the frames' file and line
		// say where.
		Integrations: func(in []sentry.Integration) []sentry.Integration {
			return slices.DeleteFunc(in, func(i sentry.Integration) bool { return i.Name() == "ContextifyFrames" })
		},
	})
	if err != nil {
		return nil, err
	}
	return &Reporter{hub: sentry.NewHub(c, sentry.NewScope())}, nil
}

// Report sends one event: the code, service, operation and field as tags
// and in the exception's title, the ids as tags, and for a panic the stack's
// functions, files and lines (not its argument words).
func (r *Reporter) Report(ctx context.Context, rep resolvers.Report) {
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelError
	ev.Transaction = rep.Operation
	ev.Tags["code"] = rep.Code
	ev.Tags["operation"] = rep.Operation
	ev.Tags["path"] = rep.Path
	if rep.Service != "" {
		ev.Tags["service"] = rep.Service
	}
	if id, ok := upstream.RequestID(ctx); ok {
		ev.Tags["request_id"] = id
	}
	if id, ok := upstream.TraceID(ctx); ok {
		ev.Tags["trace_id"] = id
	}
	ex := sentry.Exception{Type: rep.Code, Value: "at " + rep.Path}
	if rep.Panic {
		ex.Type = "panic"
		ex.Mechanism = &sentry.Mechanism{Type: "recover", Handled: boolPtr(true)}
		ex.Stacktrace = stacktrace(rep.Stack)
	}
	if rep.Operation != "" {
		ex.Value += " in " + rep.Operation
	}
	ev.Exception = []sentry.Exception{ex}
	r.hub.CaptureEvent(ev)
}

// Close sends the events not sent yet, waiting at most timeout.
func (r *Reporter) Close(timeout time.Duration) {
	r.hub.Flush(timeout)
	r.hub.Client().Close()
}

// scrub drops whatever sentry-go or an integration added that could be
// personal: the event leaves with only what Report put in, plus the
// SDK's, runtime's and host's descriptions.
func scrub(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	ev.Request = nil
	ev.User = sentry.User{}
	ev.Breadcrumbs = nil
	return ev
}

// stacktrace reads runtime/debug.Stack's text into Sentry frames, oldest
// call first as Sentry wants. The text pairs a function line, with its
// argument words, and a file:line line; the words (which may be a
// string's bytes' address and length, or an id) are dropped.
func stacktrace(stack []byte) *sentry.Stacktrace {
	lines := strings.Split(string(bytes.TrimSpace(stack)), "\n")
	var frames []sentry.Frame
	for i := 1; i+1 < len(lines); i += 2 { // lines[0] is "goroutine N [running]:"
		fn := strings.TrimPrefix(lines[i], "created by ")
		if j := strings.Index(fn, " in goroutine "); j >= 0 {
			fn = fn[:j]
		}
		if j := strings.LastIndexByte(fn, '('); j > 0 && strings.HasSuffix(fn, ")") {
			fn = fn[:j]
		}
		loc := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(loc, " +0x"); j >= 0 {
			loc = loc[:j]
		}
		j := strings.LastIndexByte(loc, ':')
		if j < 0 {
			continue
		}
		n, err := strconv.Atoi(loc[j+1:])
		if err != nil {
			continue
		}
		frames = append(frames, sentry.NewFrame(runtime.Frame{Function: fn, File: loc[:j], Line: n}))
	}
	for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
		frames[i], frames[j] = frames[j], frames[i]
	}
	return &sentry.Stacktrace{Frames: frames}
}

func boolPtr(b bool) *bool { return &b }
