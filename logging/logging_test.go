package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/logging"
)

// Each format writes one parseable line per record, with the fields the
// docs name: ECS's for ecs, the keys as logged for json and text.
func TestLogFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   map[string]any // field -> value; nil: present, any value
	}{
		{logging.FormatECS, map[string]any{
			"@timestamp": nil, "log.level": "info", "message": "operation", "ecs.version": logging.ECSVersion,
			"service.name": "stacker", "log.logger": "test", "http.request.id": "r1", "trace.id": "t1",
			"user.id": "alice", "event.duration": float64(1500 * time.Microsecond), "graphql.operation.name": "CaseBoard",
			"stacker.upstream.calls": float64(8), "error.code": []any{"INTERNAL"}, "http.response.status_code": float64(200),
			"http.request.method": "POST", "url.path": "/graphql",
		}},
		{logging.FormatJSON, map[string]any{
			"time": nil, "level": "INFO", "msg": "operation", "component": "test", "request_id": "r1", "trace_id": "t1",
			"subject": "alice", "duration": float64(1500 * time.Microsecond), "operation": "CaseBoard", "calls": float64(8),
			"codes": []any{"INTERNAL"}, "status": float64(200), "method": "POST", "path": "/graphql",
		}},
		{logging.FormatText, map[string]any{
			"level": "INFO", "msg": "operation", "request_id": "r1", "duration": "1.5ms", "calls": "8", "codes": "[INTERNAL]",
		}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			log := logging.New(tc.format, slog.LevelInfo, "stacker", &buf).With("component", "test")
			log.Info("operation", "request_id", "r1", "trace_id", "t1", "subject", "alice",
				"duration", 1500*time.Microsecond, "operation", "CaseBoard", "calls", 8, "codes", []string{"INTERNAL"},
				"status", 200, "method", "POST", "path", "/graphql")
			log.Debug("below the level")
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1:\n%s", len(lines), buf.String())
			}
			got := parse(t, tc.format, lines[0])
			for k, v := range tc.want {
				g, ok := got[k]
				if !ok {
					t.Errorf("no %s in %s", k, lines[0])
				} else if v != nil && jsonOf(g) != jsonOf(v) {
					t.Errorf("%s = %v, want %v", k, g, v)
				}
			}
		})
	}
}

// parse reads one line: JSON, or text's key=value pairs (values here hold
// no spaces).
func parse(t *testing.T, format, line string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if format != logging.FormatText {
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		return m
	}
	for _, kv := range strings.Fields(line) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("not key=value: %q in %s", kv, line)
		}
		m[k] = v
	}
	return m
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
