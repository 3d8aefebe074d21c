package schemacheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMatchSegments(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"**/*.graphql", "a.graphql", true},
		{"**/*.graphql", "x/y/a.graphql", true},
		{"**/*.graphql", "x/y/a.gql", false},
		{"*.graphql", "x/a.graphql", false},
		{"x/**/a.graphql", "x/a.graphql", true},
		{"x/**/a.graphql", "x/1/2/3/a.graphql", true},
		{"x/**/a.graphql", "y/a.graphql", false},
		{"**", "anything/at/all", true},
		{"**/**/b", "b", true},
		{"a/**", "a", true},
		{"[ab]/*.graphql", "b/q.graphql", true},
	}
	for _, tc := range cases {
		got := matchSegments(strings.Split(tc.pattern, "/"), strings.Split(tc.path, "/"))
		if got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestExpandPatterns(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"ops/A.graphql", "ops/b/B.graphql", "ops/b/c/C.graphql", "ops/notes.txt",
		"ops/node_modules/x/X.graphql", "ops/.git/G.graphql",
	} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{ a }"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(files []string) []string {
		var out []string
		for _, f := range files {
			r, err := filepath.Rel(dir, f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, filepath.ToSlash(r))
		}
		return out
	}
	ok := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"ops/**/*.graphql"}, []string{"ops/A.graphql", "ops/b/B.graphql", "ops/b/c/C.graphql"}},
		{[]string{"ops/*.graphql"}, []string{"ops/A.graphql"}},
		{[]string{"ops/b/**/*.graphql", "ops/**/B.graphql"}, []string{"ops/b/B.graphql", "ops/b/c/C.graphql"}},
		{[]string{"ops/A.graphql"}, []string{"ops/A.graphql"}},
		{[]string{"ops/node_modules/x/*.graphql"}, []string{"ops/node_modules/x/X.graphql"}},
	}
	for _, tc := range ok {
		var abs []string
		for _, p := range tc.patterns {
			abs = append(abs, filepath.ToSlash(filepath.Join(dir, p)))
		}
		got, err := expandPatterns(abs)
		if err != nil {
			t.Errorf("%v: %v", tc.patterns, err)
			continue
		}
		if !slices.Equal(rel(got), tc.want) {
			t.Errorf("%v: got %v, want %v", tc.patterns, rel(got), tc.want)
		}
	}

	bad := []struct{ pattern, want string }{
		{"ops/missing.graphql", "no such file"},
		{"ops/**/*.gql", "no files match"},
		{"nodir/**/*.graphql", "is not a directory"},
		{"ops/[.graphql", "bad pattern"},
		{"ops", "is a directory"},
	}
	for _, tc := range bad {
		_, err := expandPatterns([]string{filepath.Join(dir, tc.pattern)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.pattern, err, tc.want)
		}
	}
}
