package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// Variables is exactly what Load asks getenv for, in development and in
// production: deployment files checked against it are checked against Load.
func TestVariables(t *testing.T) {
	read := map[string]bool{}
	for _, e := range []string{"development", "production"} {
		Load(func(k string) string {
			read[k] = true
			if k == "STACKER_ENV" {
				return e
			}
			return ""
		})
	}
	if got, want := Variables(), slices.Sorted(maps.Keys(read)); !slices.Equal(got, want) {
		t.Errorf("Variables() = %v\nLoad reads   %v", got, want)
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"vars", []string{"vars"}, nil, 0, "STACKER_PATIENTS_URL\n", ""},
		{"check, defaults", []string{"check"}, nil, 0, "configuration ok (development)", ""},
		{"check, production", []string{"check"}, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "/etc/stacker/manifest.json",
			"STACKER_AUTH_ISSUER": "https://idp.example.com/", "STACKER_AUTH_AUDIENCE": "stacker"}, 0, "configuration ok (production)", ""},
		{"check, refused", []string{"check"}, map[string]string{"STACKER_SHUTDOWN_DELAY": "soon"}, 1, "", "STACKER_SHUTDOWN_DELAY"},
		{"no subcommand", nil, nil, 2, "", "usage: stacker config"},
		{"unknown subcommand", []string{"show"}, nil, 2, "", "usage: stacker config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := Run(tc.args, env(tc.env), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stdout.String(), tc.wantStdout) || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("Run(%q) = %d\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, stdout.String(), tc.wantStdout, stderr.String(), tc.wantStderr)
			}
		})
	}
}
