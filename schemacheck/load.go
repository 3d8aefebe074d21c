package schemacheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// runningSchema is the name the running schema goes by in output.
const runningSchema = "running schema"

// inputError is a problem with what the command was given (a missing file, a
// schema that does not parse, a bad git ref, a bad flag): exit code 2.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return inputError{fmt.Sprintf(format, args...)}
}

// readSpec reads the text a schema or operation spec names: a file path, or
// git:REF:path, read with `git show REF:path` in the current directory (the
// path is relative to the repository's root, as git show takes it).
func readSpec(ctx context.Context, spec string) (string, error) {
	rest, ok := strings.CutPrefix(spec, "git:")
	if !ok {
		b, err := os.ReadFile(spec)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", inputErrorf("%s: no such file", spec)
			}
			return "", inputErrorf("%s: %v", spec, err)
		}
		return string(b), nil
	}
	// Ref names cannot contain ':' (git check-ref-format), so the first one
	// ends the ref; the path may contain more.
	ref, path, ok := strings.Cut(rest, ":")
	if !ok || ref == "" || path == "" {
		return "", inputErrorf("%s: want git:REF:path, for example git:origin/main:schema.baseline.graphqls", spec)
	}
	if strings.HasPrefix(ref, "-") {
		return "", inputErrorf("%s: a git ref cannot start with '-'", spec)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "show", ref+":"+path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", inputErrorf("%s: git show %s:%s: %s", spec, ref, path, msg)
	}
	return stdout.String(), nil
}

// loadSchema reads and parses the schema spec names; an empty spec is the
// running schema. The name it returns is how output refers to the schema.
func loadSchema(ctx context.Context, spec string, current *ast.Schema) (*ast.Schema, string, error) {
	if spec == "" {
		if current == nil {
			return nil, "", inputErrorf("no running schema: give a schema file")
		}
		return current, runningSchema, nil
	}
	text, err := readSpec(ctx, spec)
	if err != nil {
		return nil, "", err
	}
	s, err := parseSchema(spec, text)
	if err != nil {
		return nil, "", err
	}
	// Every schema has a query type (GraphQL specification, "Root Operation
	// Types"). Without one the file is most likely empty or truncated, and a
	// baseline like that would make every change look safe.
	if s.Query == nil {
		return nil, "", inputErrorf("%s: the schema has no query type (is the file empty?)", spec)
	}
	return s, spec, nil
}

// parseSchema parses and validates SDL, turning any failure, a panic inside
// the parser included, into an input error that carries name:line:column.
func parseSchema(name, text string) (s *ast.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, inputErrorf("%s: the schema could not be parsed: %v", name, r)
		}
	}()
	s, err = gqlparser.LoadSchema(&ast.Source{Name: name, Input: text})
	if err != nil {
		return nil, inputError{positioned(name, err)}
	}
	return s, nil
}

// positioned formats a gqlparser error as file:line:column: message.
func positioned(name string, err error) string {
	var list gqlerror.List
	if errors.As(err, &list) && len(list) > 0 {
		msgs := make([]string, len(list))
		for i, e := range list {
			msgs[i] = positionedOne(name, e)
		}
		return strings.Join(msgs, "\n")
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge != nil {
		return positionedOne(name, ge)
	}
	return name + ": " + err.Error()
}

func positionedOne(name string, e *gqlerror.Error) string {
	file := name
	if f, ok := e.Extensions["file"].(string); ok && f != "" {
		file = f
	}
	if len(e.Locations) > 0 && e.Locations[0].Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", file, e.Locations[0].Line, e.Locations[0].Column, e.Message)
	}
	return file + ": " + e.Message
}
