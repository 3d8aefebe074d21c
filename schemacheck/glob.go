package schemacheck

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// expandPatterns turns file names and glob patterns into a sorted list of
// files, each once. A pattern is a path.Match pattern per path segment, and
// a segment `**` matches any number of directories (none included). A plain
// name must exist; a pattern must match at least one file, so a mistyped
// pattern in CI fails loudly instead of validating nothing.
func expandPatterns(patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	for _, p := range patterns {
		matches, err := expandPattern(p)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
	}
	return files, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func expandPattern(pattern string) ([]string, error) {
	slashed := filepath.ToSlash(pattern)
	if !hasMeta(slashed) {
		info, err := os.Stat(pattern)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, inputErrorf("%s: no such file", pattern)
		case err != nil:
			return nil, inputErrorf("%s: %v", pattern, err)
		case info.IsDir():
			return nil, inputErrorf("%s: is a directory (use %s/**/*.graphql)", pattern, strings.TrimSuffix(pattern, "/"))
		}
		return []string{pattern}, nil
	}

	// The root is the longest leading run of segments without meta
	// characters; only it is walked.
	segs := strings.Split(slashed, "/")
	var rootSegs []string
	for len(segs) > 1 && !hasMeta(segs[0]) {
		rootSegs = append(rootSegs, segs[0])
		segs = segs[1:]
	}
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, inputErrorf("%s: bad pattern: %v", pattern, err)
		}
	}
	root := strings.Join(rootSegs, "/")
	switch {
	case root == "" && len(rootSegs) > 0: // the pattern started with "/"
		root = "/"
	case root == "":
		root = "."
	}
	info, err := os.Stat(filepath.FromSlash(root))
	if err != nil || !info.IsDir() {
		return nil, inputErrorf("%s: no files match (%s is not a directory)", pattern, root)
	}

	var files []string
	err = filepath.WalkDir(filepath.FromSlash(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Walking into version control or dependencies is never wanted.
			if p != filepath.FromSlash(root) && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(filepath.FromSlash(root), p)
		if err != nil {
			return err
		}
		if matchSegments(segs, strings.Split(filepath.ToSlash(rel), "/")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, inputErrorf("%s: %v", pattern, err)
	}
	if len(files) == 0 {
		return nil, inputErrorf("%s: no files match", pattern)
	}
	return files, nil
}

// matchSegments matches path segments against pattern segments, `**`
// standing for zero or more segments.
func matchSegments(pattern, parts []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == "**" {
			// Collapse repeated ** and try every split.
			for len(pattern) > 0 && pattern[0] == "**" {
				pattern = pattern[1:]
			}
			for i := 0; i <= len(parts); i++ {
				if matchSegments(pattern, parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(pattern[0], parts[0]); !ok {
			return false
		}
		pattern, parts = pattern[1:], parts[1:]
	}
	return len(parts) == 0
}
