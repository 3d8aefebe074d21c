package schemacheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunInputErrors: every bad input exits 2 with a clear message on stderr
// (with a position where there is one), and nothing on stdout.
func TestRunInputErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.graphqls", "type Query { a: Int }")
	syntax := writeFile(t, dir, "syntax.graphqls", "type Query {\n  a: Int\n  b(: Int\n}")
	invalid := writeFile(t, dir, "invalid.graphqls", "type Query {\n  a: Nope\n}")
	empty := writeFile(t, dir, "empty.graphqls", "")
	op := writeFile(t, dir, "ok.graphql", "{ a }")
	current := mustSchema(t, "type Query { a: Int }")

	cases := []struct {
		name    string
		args    []string
		current bool // pass a running schema
		want    string
	}{
		{"no command", nil, true, "usage: stacker schema"},
		{"unknown command", []string{"frobnicate"}, true, `unknown command "frobnicate"`},
		{"unknown flag", []string{"diff", "--base", good, "--bogus"}, true, "flag provided but not defined: -bogus"},
		{"bad format", []string{"diff", "--base", good, "--format", "xml"}, true, `invalid value "xml" for flag -format: want text or json`},
		{"diff without --base", []string{"diff"}, true, "--base is required"},
		{"unexpected argument", []string{"print", "extra"}, true, `unexpected argument "extra"`},
		{"check with a positional argument", []string{"check", "ops/*.graphql"}, true, "operations go in --operations"},
		{"missing file", []string{"diff", "--base", filepath.Join(dir, "nope.graphqls")}, true, "nope.graphqls: no such file"},
		{"schema syntax error", []string{"diff", "--base", syntax}, true, "syntax.graphqls:3:5: Expected Name, found :"},
		{"schema validation error", []string{"print", "--schema", invalid}, true, "invalid.graphqls:2:6: Undefined type Nope."},
		{"bad git spec", []string{"diff", "--base", "git:HEAD"}, true, "want git:REF:path"},
		{"git ref starting with a dash", []string{"diff", "--base", "git:--output=x:schema.graphqls"}, true, "cannot start with '-'"},
		{"no running schema", []string{"print"}, false, "no running schema"},
		{"validate without files", []string{"validate"}, true, "no operation files given"},
		{"validate a missing file", []string{"validate", filepath.Join(dir, "missing.graphql")}, true, "missing.graphql: no such file"},
		{"validate a pattern matching nothing", []string{"validate", filepath.Join(dir, "**", "*.gql")}, true, "no files match"},
		{"check with a missing baseline", []string{"check", "--baseline", filepath.Join(dir, "nope.graphqls"), "--operations", op}, true, "nope.graphqls: no such file"},
		{"check with a bad schema", []string{"check", "--baseline", good, "--schema", syntax, "--operations", op}, true, "syntax.graphqls:3:5"},
		{"check with a bad baseline", []string{"check", "--baseline", syntax, "--operations", op}, true, "syntax.graphqls:3:5"},
		{"empty schema file", []string{"check", "--baseline", empty, "--operations", op}, true, "empty.graphqls: the schema has no query type (is the file empty?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cur := current
			if !tc.current {
				cur = nil
			}
			code, stdout, stderr := runCLI(t, cur, tc.args...)
			if code != ExitBadArgs {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout should be empty, got:\n%s", stdout)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"print", "-h"}, {"diff", "-h"}, {"validate", "--help"}, {"check", "-h"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != ExitOK || !strings.HasPrefix(stdout, "usage: stacker schema") || stderr != "" {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
}

func TestRunCommands(t *testing.T) {
	dir := t.TempDir()
	base := writeFile(t, dir, "base.graphqls", "type Query { a: Int b: String }")
	safe := writeFile(t, dir, "safe.graphqls", "type Query { a: Int b: String c: Int }")
	op := writeFile(t, dir, "ops/q.graphql", "query Q { a b }")
	bad := writeFile(t, dir, "bad/q.graphql", "query Bad { a zz }")
	current := mustSchema(t, "type Query { a: Int }")

	t.Run("print the running schema", func(t *testing.T) {
		code, stdout, _ := runCLI(t, current, "print")
		if code != ExitOK || stdout != "schema {\n  query: Query\n}\n\ntype Query {\n  a: Int\n}\n" {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("diff against the running schema by default", func(t *testing.T) {
		code, stdout, _ := runCLI(t, current, "diff", "--base", base)
		if code != ExitFailed || !strings.Contains(stdout, "FIELD_REMOVED  Query.b") || !strings.Contains(stdout, "-> running schema") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("diff with only safe changes exits 0", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "diff", "--base", base, "--new", safe)
		if code != ExitOK || !strings.Contains(stdout, "1 change: 0 breaking, 0 dangerous, 1 safe") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("no changes", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "diff", "--format", "json", "--base", base, "--new", base)
		var r struct {
			Changes []Change `json:"changes"`
		}
		if code != ExitOK || json.Unmarshal([]byte(stdout), &r) != nil || r.Changes == nil || len(r.Changes) != 0 {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("flags after operands", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "validate", op, "--schema", base)
		if code != ExitOK {
			t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
		}
	})
	t.Run("invalid operation exits 1", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "validate", "--schema", base, bad)
		if code != ExitFailed || !strings.Contains(stdout, "q.graphql:1:15: error: Cannot query field \"zz\"") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("check without operations", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "check", "--baseline", base, "--schema", safe, "--operations", "")
		if code != ExitOK || !strings.Contains(stdout, "not validated") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
	t.Run("check json", func(t *testing.T) {
		code, stdout, _ := runCLI(t, nil, "check", "--format", "json", "--baseline", base, "--schema", safe,
			"--operations", filepath.Join(dir, "ops", "*.graphql"), "--operations", bad)
		var r checkReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		if code != ExitFailed || r.OK || r.Validation == nil || r.Validation.Summary.Files != 2 || r.Validation.Summary.Errors != 1 {
			t.Errorf("exit %d: %+v", code, r)
		}
	})
	t.Run("allow breaking", func(t *testing.T) {
		code, stdout, _ := runCLI(t, current, "check", "--baseline", base, "--operations", "", "--allow-breaking")
		if code != ExitOK || !strings.Contains(stdout, "schema check passed: 1 breaking, 0 dangerous, 0 safe changes (breaking allowed)") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
}

// TestGitSpec reads the base schema from a commit of a scratch repository.
func TestGitSpec(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com",
			"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	writeFile(t, dir, "api/schema.graphqls", "type Query { a: Int b: Int }")
	git("add", ".")
	git("commit", "-q", "-m", "v1")
	writeFile(t, dir, "api/schema.graphqls", "type Query { a: Int }")
	t.Chdir(dir)

	code, stdout, stderr := runCLI(t, nil, "diff", "--base", "git:HEAD:api/schema.graphqls", "--new", "api/schema.graphqls")
	if code != ExitFailed || !strings.Contains(stdout, "Schema diff: git:HEAD:api/schema.graphqls -> api/schema.graphqls") ||
		!strings.Contains(stdout, "FIELD_REMOVED  Query.b") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}

	for _, tc := range []struct{ spec, want string }{
		{"git:no-such-ref:api/schema.graphqls", "git:no-such-ref:api/schema.graphqls: git show no-such-ref:api/schema.graphqls: fatal:"},
		{"git:HEAD:api/missing.graphqls", "git:HEAD:api/missing.graphqls: git show HEAD:api/missing.graphqls: fatal:"},
	} {
		code, stdout, stderr := runCLI(t, nil, "diff", "--base", tc.spec, "--new", "api/schema.graphqls")
		if code != ExitBadArgs || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.spec, code, stdout, stderr)
		}
	}

	// A parse error in a schema read from git names the spec and the position.
	writeFile(t, dir, "api/schema.graphqls", "type Query {")
	git("commit", "-q", "-am", "broken")
	code, _, stderr = runCLI(t, nil, "diff", "--base", "git:HEAD:api/schema.graphqls", "--new", "api/schema.graphqls")
	if code != ExitBadArgs || !strings.Contains(stderr, "git:HEAD:api/schema.graphqls:1:13: Expected Name, found <EOF>") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
