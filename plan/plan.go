// Package plan is the plan of one operation as a front-end developer reads
// it in extensions.plan: the upstream calls the operation made (or, in a dry
// run, would make), level by level. A level is the calls whose parents the
// level above loaded: the root field's call is level 0, the relations below
// what it returned level 1, and so on; the levels are what make a screen's
// latency (each waits for the one above), the calls of one level run side by
// side.
//
// The calls reach it through upstream.WithCallRecorder; the level and field
// of each call come from the context the planner (package resolvers) gives
// the loaders when it claims a relation (Below). Which requests may ask for
// a plan is the gateway's to decide; see docs/plan.md.
package plan

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/upstream"
)

// Header is the request header that asks for a plan.
const Header = "X-Stacker-Plan"

// Scope is the token scope that lets a caller ask for a plan in production.
const Scope = "plan:read"

// Mode is what a request asks of the plan.
type Mode int

const (
	Off     Mode = iota // no plan
	Execute             // run the operation and attach the plan of what it called
	DryRun              // plan only: call no service, answer data null
)

// ParseMode reads the header's value: "true" and "dry-run" (in any case);
// anything else asks for no plan, as an absent header does.
func ParseMode(v string) Mode {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return Execute
	case "dry-run":
		return DryRun
	}
	return Off
}

// Plan is extensions.plan.
type Plan struct {
	// DryRun says nothing was called: the calls are what the operation
	// would make, with neither ids, timings nor statuses.
	DryRun     bool    `json:"dryRun,omitempty"`
	Levels     []Level `json:"levels"`
	TotalCalls int     `json:"totalCalls"`
	// DurationMs is from the operation's start to its answer; 0 in a dry
	// run.
	DurationMs float64 `json:"durationMs,omitempty"`
}

// Level is the calls of one level, in the order they started.
type Level struct {
	Level int    `json:"level"`
	Calls []Call `json:"calls"`
}

// Call is one upstream call. In a dry run only Service and Field are set.
type Call struct {
	Service string `json:"service"`
	// Field is the path of the field the call was made for, list indexes
	// left out ("cases.nodes.patient").
	Field string `json:"field,omitempty"`
	// Route is the route called, ids taken out ("/patients?ids").
	Route string `json:"route,omitempty"`
	// IDs is how many distinct ids a batch call sent.
	IDs int `json:"ids"`
	// StartMs is when the call started, from the operation's start.
	StartMs    float64 `json:"startMs"`
	DurationMs float64 `json:"durationMs"`
	Retries    int     `json:"retries"`
	// Status is the last attempt's HTTP status; 0 when no answer came,
	// and then Outcome says why ("timeout", "breaker_open", ...).
	Status  int    `json:"status,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	// BudgetExhausted: a retry was wanted and the service's retry budget
	// refused it.
	BudgetExhausted bool `json:"budgetExhausted,omitempty"`

	level int
}

// Planned is a call a dry run expects at level, for field.
func Planned(level int, service, field string) Call {
	return Call{Service: service, Field: field, level: level}
}

// DryRunOf is the plan of calls that were planned, not made.
func DryRunOf(calls []Call) Plan {
	p := group(calls)
	p.DryRun = true
	return p
}

// Recorder collects the calls of one operation; it is the
// upstream.Observer that NewContext installs. Safe for concurrent use: a
// level's calls end on their own goroutines.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	calls []Call
}

// NewRecorder starts recording now: call times count from here.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// ObserveCall keeps c with the level and field its context names.
func (r *Recorder) ObserveCall(ctx context.Context, c upstream.Call) {
	s := stepOf(ctx)
	started := time.Since(r.start) - c.Duration
	call := Call{
		Service: c.Service, Field: s.field, Route: c.Route, IDs: c.IDs,
		StartMs: ms(started), DurationMs: ms(c.Duration), Retries: c.Retries,
		Status: c.Status, BudgetExhausted: c.BudgetExhausted, level: s.level,
	}
	if c.Status == 0 {
		call.Outcome = c.Outcome()
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
}

// Plan is what was recorded so far, the duration counted to now.
func (r *Recorder) Plan() Plan {
	r.mu.Lock()
	calls := slices.Clone(r.calls)
	r.mu.Unlock()
	p := group(calls)
	p.DurationMs = ms(time.Since(r.start))
	return p
}

// group puts calls into their levels, each in the order the calls started.
func group(calls []Call) Plan {
	slices.SortStableFunc(calls, func(a, b Call) int {
		return cmp.Or(cmp.Compare(a.level, b.level), cmp.Compare(a.StartMs, b.StartMs))
	})
	p := Plan{Levels: []Level{}, TotalCalls: len(calls)}
	for _, c := range calls {
		if n := len(p.Levels); n == 0 || p.Levels[n-1].Level != c.level {
			p.Levels = append(p.Levels, Level{Level: c.level})
		}
		l := &p.Levels[len(p.Levels)-1]
		l.Calls = append(l.Calls, c)
	}
	return p
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type recorderKey struct{}

// NewContext returns ctx whose upstream calls r records.
func NewContext(ctx context.Context, r *Recorder) context.Context {
	return upstream.WithCallRecorder(context.WithValue(ctx, recorderKey{}, r), r)
}

// recording reports whether ctx's calls are recorded.
func recording(ctx context.Context) bool {
	_, ok := ctx.Value(recorderKey{}).(*Recorder)
	return ok
}

// step is where in the operation a call is made.
type step struct {
	level int
	field string
}

type stepKey struct{}

// Below returns ctx for the calls of field, a relation claimed one level
// below ctx's; ctx itself when no plan is recorded, so an operation that
// asks for none pays one context lookup.
func Below(ctx context.Context, field string) context.Context {
	if !recording(ctx) {
		return ctx
	}
	s := stepOf(ctx)
	return context.WithValue(ctx, stepKey{}, step{level: s.level + 1, field: join(s.field, field)})
}

// Within returns ctx for what lies under field without a call of its own
// (the nodes of a connection): the same level, a longer path.
func Within(ctx context.Context, field string) context.Context {
	if !recording(ctx) {
		return ctx
	}
	s := stepOf(ctx)
	return context.WithValue(ctx, stepKey{}, step{level: s.level, field: join(s.field, field)})
}

// stepOf is ctx's step; a call the planner did not place (a root field's,
// or a resolver's own load) is at level 0, named by the field it is
// resolved for.
func stepOf(ctx context.Context) step {
	if s, ok := ctx.Value(stepKey{}).(step); ok {
		return s
	}
	return step{field: fieldPath(ctx)}
}

// fieldPath is the path of the field ctx resolves, list indexes left out.
func fieldPath(ctx context.Context) string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ""
	}
	var parts []string
	for _, e := range fc.Path() {
		if name, ok := e.(ast.PathName); ok {
			parts = append(parts, string(name))
		}
	}
	return strings.Join(parts, ".")
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
