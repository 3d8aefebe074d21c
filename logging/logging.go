// Package logging is the process's logs: the logger in the configured format
// (text for people, json for log shippers, ecs for ELK under Elastic Common
// Schema names), and one access line per GraphQL operation.
//
// The rest of Stacker logs with slog under short keys ("request_id",
// "error"); the ecs format renames them at the handler (ecsNames), so a key
// is chosen once where it is logged and mapped once here.
//
// What a line may hold: names and codes Stacker chose, ids, counts and
// durations. Never an operation's variables, a response's values or a
// client's free text (see docs/logging.md).
package logging

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// The formats STACKER_LOG_FORMAT accepts.
const (
	FormatText = "text"
	FormatJSON = "json"
	FormatECS  = "ecs"
)

// ECSVersion is the Elastic Common Schema version the ecs format follows.
const ECSVersion = "8.11.0"

// New is a logger writing to w in format at level and above. service
// names the process in the ecs format's service.name.
func New(format string, level slog.Level, service string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts))
	case FormatECS:
		opts.ReplaceAttr = ecsAttr
		return slog.New(slog.NewJSONHandler(w, opts)).With(
			slog.String("ecs.version", ECSVersion),
			slog.String("service.name", service),
		)
	default:
		return slog.New(slog.NewTextHandler(w, opts))
	}
}

// ecsNames maps Stacker's log keys to Elastic Common Schema fields; a key
// missing here keeps its name. Stacker's own fields with no ECS
// counterpart go under graphql.* (OpenTelemetry's names) and stacker.*,
// which ECS leaves to users.
var ecsNames = map[string]string{
	slog.TimeKey:    "@timestamp",
	slog.LevelKey:   "log.level",
	slog.MessageKey: "message",
	"component":     "log.logger",
	"error":         "error.message",
	"stack":         "error.stack_trace",
	"code":          "error.code",
	"codes":         "error.code",
	"request_id":    "http.request.id",
	"trace_id":      "trace.id",
	"subject":       "user.id",
	"method":        "http.request.method",
	"path":          "url.path",
	"status":        "http.response.status_code",
	"duration":      "event.duration",
	"operation":     "graphql.operation.name",
	"type":          "graphql.operation.type",
	"hash":          "graphql.document.hash",
	"calls":         "stacker.upstream.calls",
	"service":       "stacker.upstream.service",
}

// ecsAttr renames a top-level attribute to its ECS field and writes the
// values ECS types differently: log.level in lower case, event.duration
// in nanoseconds.
func ecsAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	name, ok := ecsNames[a.Key]
	if !ok {
		return a
	}
	a.Key = name
	switch {
	case name == "log.level":
		a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
	case a.Value.Kind() == slog.KindDuration:
		a.Value = slog.Int64Value(int64(a.Value.Duration()))
	case a.Value.Kind() == slog.KindTime:
		a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
	}
	return a
}
