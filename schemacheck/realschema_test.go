package schemacheck

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker/stacker/graph"
	"github.com/vektah/gqlparser/v2/ast"
)

// The repository's files, seen from this package's directory.
const (
	repoBaseline   = "../schema.baseline.graphqls"
	repoSchemaSDL  = "../schema.graphqls"
	repoOperations = "../operations/**/*.graphql"
)

// runningSchemaForTest is the schema the gateway serves.
func runningSchemaForTest(t testing.TB) *ast.Schema {
	t.Helper()
	return graph.NewExecutableSchema(graph.Config{}).Schema()
}

// runCLI runs Run and returns its exit code, stdout and stderr.
func runCLI(t testing.TB, current *ast.Schema, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, current, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunningSchemaMatchesSchemaFile(t *testing.T) {
	sdl, err := os.ReadFile(repoSchemaSDL)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := mustSchema(t, string(sdl))
	if changes := Diff(fromFile, runningSchemaForTest(t)); len(changes) != 0 {
		t.Errorf("the running schema differs from %s (run go generate ./...): %v", repoSchemaSDL, changes)
	}
}

// The committed baseline must be what `schema print` prints, so diffs of it
// stay readable.
func TestBaselineIsCanonical(t *testing.T) {
	b, err := os.ReadFile(repoBaseline)
	if err != nil {
		t.Fatal(err)
	}
	if got := Print(mustSchema(t, string(b))); got != string(b) {
		t.Errorf("%s is not in canonical form; regenerate it with: go run . schema print > schema.baseline.graphqls", repoBaseline)
	}
}

func TestCheckRepoAsIsPasses(t *testing.T) {
	t.Chdir("..") // the defaults are relative to the repository root
	code, stdout, stderr := runCLI(t, runningSchemaForTest(t), "check")
	if code != ExitOK {
		t.Fatalf("schema check exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, s := range []string{"Schema diff: " + DefaultBaseline + " -> running schema", "schema check passed"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("output lacks %q:\n%s", s, stdout)
		}
	}
}

// TestBreakOnPurpose removes Case.summary, which the case board (and the
// case detail screen) ask for, and expects both halves of the check to fail.
func TestBreakOnPurpose(t *testing.T) {
	printed := Print(runningSchemaForTest(t))
	const field = "  \"A short description of the question the patient asks.\"\n  summary: String!\n"
	if !strings.Contains(printed, field) {
		t.Fatalf("the printed schema has no Case.summary as expected:\n%s", printed)
	}
	broken := filepath.Join(t.TempDir(), "broken.graphqls")
	if err := os.WriteFile(broken, []byte(strings.Replace(printed, field, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("diff", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "diff", "--base", repoBaseline, "--new", broken)
		if code != ExitFailed {
			t.Fatalf("diff exited %d, want 1\n%s%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "BREAKING  FIELD_REMOVED  Case.summary") {
			t.Errorf("diff does not report Case.summary as removed:\n%s", stdout)
		}
	})
	t.Run("diff --allow-breaking", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "diff", "--base", repoBaseline, "--new", broken, "--allow-breaking")
		if code != ExitOK || !strings.Contains(stdout, "FIELD_REMOVED") {
			t.Fatalf("diff --allow-breaking exited %d\n%s", code, stdout)
		}
	})
	t.Run("validate", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "validate", "--schema", broken, repoOperations)
		if code != ExitFailed {
			t.Fatalf("validate exited %d, want 1\n%s%s", code, stdout, stderr)
		}
		want := `../operations/CaseBoard.graphql:6:26: error: Cannot query field "summary" on type "Case".`
		if !strings.Contains(stdout, want) {
			t.Errorf("validate output lacks\n%s\ngot:\n%s", want, stdout)
		}
	})
	t.Run("check", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, runningSchemaForTest(t), "check",
			"--schema", broken, "--baseline", repoBaseline, "--operations", repoOperations)
		if code != ExitFailed {
			t.Fatalf("check exited %d, want 1\n%s%s", code, stdout, stderr)
		}
		for _, s := range []string{"FIELD_REMOVED  Case.summary", "CaseBoard.graphql:6:26: error", "schema check FAILED: 1 breaking change, "} {
			if !strings.Contains(stdout, s) {
				t.Errorf("check output lacks %q:\n%s", s, stdout)
			}
		}
	})
}
