package schemacheck

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Fixtures: two versions of a small schema with a change of nearly every
// type between them, and operation documents written against the first.
const (
	fixtureBase = "testdata/diff/base.graphqls"
	fixtureNew  = "testdata/diff/new.graphqls"
	fixtureOps  = "testdata/operations/**/*.graphql"
)

// golden compares got with testdata/golden/name, or rewrites the file with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./schemacheck/ -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (if the change is intended, rerun with -update):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantCode int
		stderr   bool // the golden file holds stderr instead of stdout
	}{
		{"diff.txt", []string{"diff", "--base", fixtureBase, "--new", fixtureNew}, ExitFailed, false},
		{"diff.json", []string{"diff", "--base", fixtureBase, "--new", fixtureNew, "--format", "json"}, ExitFailed, false},
		{"diff-reverse.txt", []string{"diff", "--base", fixtureNew, "--new", fixtureBase, "--allow-breaking"}, ExitOK, false},
		{"validate.txt", []string{"validate", "--schema", fixtureNew, fixtureOps}, ExitFailed, false},
		{"validate.json", []string{"validate", "--schema", fixtureNew, "--format", "json", fixtureOps}, ExitFailed, false},
		{"validate-base.txt", []string{"validate", "--schema", fixtureBase, fixtureOps}, ExitFailed, false},
		{"check.txt", []string{"check", "--baseline", fixtureBase, "--schema", fixtureNew, "--operations", fixtureOps}, ExitFailed, false},
		{"check.json", []string{"check", "--baseline", fixtureBase, "--schema", fixtureNew, "--operations", fixtureOps, "--format", "json"}, ExitFailed, false},
		{"print.graphqls", []string{"print", "--schema", fixtureNew}, ExitOK, false},
		{"usage.txt", []string{"-h"}, ExitOK, false},
		{"check-usage.txt", []string{"check", "-h"}, ExitOK, false},
		{"bad-schema.txt", []string{"diff", "--base", "testdata/bad/syntax.graphqls", "--new", fixtureNew}, ExitBadArgs, true},
		{"bad-schema-type.txt", []string{"diff", "--base", fixtureBase, "--new", "testdata/bad/unknown-type.graphqls"}, ExitBadArgs, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			got := stdout
			if tc.stderr {
				got = stderr
				if stdout != "" {
					t.Errorf("unexpected stdout: %s", stdout)
				}
			}
			golden(t, tc.name, got)
		})
	}
}
