package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/internal/testsync"
)

// TestServiceDown: a service that is gone nulls only the fields that need
// it; each error names the service at the field's path, and nothing of the
// upstream's address or body reaches the client.

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"one service missing", map[string]string{"STACKER_PATIENTS_URL": "http://127.0.0.1:1"}, "STACKER_INSURERS_URL"},
		{"malformed url", allURLs(map[string]string{"STACKER_CASES_URL": "cases.internal"}), "STACKER_CASES_URL"},
		{"bad latency", map[string]string{"STACKER_DEMO_LATENCY": "fast"}, "STACKER_DEMO_LATENCY"},
		{"bad address", map[string]string{"STACKER_ADDR": "nowhere:-1"}, "STACKER_ADDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr testsync.Buffer
			err := Run(context.Background(), func(k string) string { return tc.env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func allURLs(over map[string]string) map[string]string {
	m := map[string]string{}
	for _, s := range config.Services() {
		m[config.EnvName(s)] = "http://127.0.0.1:1"
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}
