// Package schemacheck is the `stacker schema` command: the offline schema
// checks a CI job runs. It prints the canonical SDL of a schema, classifies
// the changes between two schemas as BREAKING, DANGEROUS or SAFE (with the
// judgement graphql-inspector makes), and validates front-end operation
// documents against a schema with gqlparser's validator. Everything works on
// gqlparser's *ast.Schema; nothing here knows about the gateway.
package schemacheck

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Exit codes of Run.
const (
	ExitOK      = 0 // nothing breaking, every operation valid
	ExitFailed  = 1 // a breaking change (without --allow-breaking) or an invalid operation
	ExitBadArgs = 2 // a usage or input error: bad flag, missing file, unparsable schema, bad git ref
)

// Defaults of `schema check`, relative to the directory it runs in.
const (
	DefaultBaseline   = "schema.baseline.graphqls"
	DefaultOperations = "operations/**/*.graphql"
)

const usage = `usage: stacker schema <command> [flags]

commands:
  print     print the schema as canonical SDL (sorted, formatted)
  diff      classify every change between two schemas as BREAKING, DANGEROUS or SAFE
  validate  validate front-end operation documents against the schema
  check     diff against the committed baseline and validate the operations (for CI)

A SCHEMA is a file, or git:REF:path to read one with 'git show REF:path'
(path relative to the repository root). Commands use the running schema
unless told otherwise. 'stacker schema <command> -h' lists a command's flags.

exit codes: 0 ok; 1 breaking change or invalid operation; 2 usage or input error
`

// Run runs `schema` with args (what follows "schema" on the command line)
// and returns the process's exit code. current is the schema the gateway
// serves; commands use it unless given a schema file. Reports go to stdout,
// errors to stderr. Run never panics on bad input: unparsable schemas and
// documents, missing files and bad git refs are errors with positions.
func Run(ctx context.Context, args []string, current *ast.Schema, stdout, stderr io.Writer) (exitCode int) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitBadArgs
	}
	cmd, rest := args[0], args[1:]
	var (
		code int
		err  error
	)
	switch cmd {
	case "print":
		code, err = runPrint(ctx, rest, current, stdout)
	case "diff":
		code, err = runDiff(ctx, rest, current, stdout)
	case "validate":
		code, err = runValidate(ctx, rest, current, stdout)
	case "check":
		code, err = runCheck(ctx, rest, current, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "stacker schema: unknown command %q\n\n%s", cmd, usage)
		return ExitBadArgs
	}
	if errors.Is(err, errHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stacker schema %s: %v\n", cmd, err)
		return ExitBadArgs
	}
	return code
}

// errHelp means -h was given and the usage printed.
var errHelp = errors.New("help requested")

// formatFlag is --format: text or json.
type formatFlag string

func (f *formatFlag) String() string { return string(*f) }
func (f *formatFlag) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("want text or json")
	}
	*f = formatFlag(s)
	return nil
}

// listFlag is a flag that may be repeated; its default applies only when it
// is never given.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }
func (l *listFlag) Set(s string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	if s != "" {
		l.values = append(l.values, s)
	}
	return nil
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones. -h prints the usage to stdout
// and returns errHelp.
func parse(fs *flag.FlagSet, usage string, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				return nil, errHelp
			}
			return nil, inputErrorf("%v\n\n%s", err, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

const printUsage = `usage: stacker schema print [--schema SCHEMA]

Prints the canonical SDL of the running schema (or of SCHEMA): the schema
definition, then directives and types sorted by name; fields, arguments and
enum values in declaration order. Commit it as the baseline:

  go run . schema print > schema.baseline.graphqls

flags:
  --schema SCHEMA   print this schema file (or git:REF:path) instead
`

func runPrint(ctx context.Context, args []string, current *ast.Schema, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	schemaSpec := fs.String("schema", "", "")
	pos, err := parse(fs, printUsage, args, stdout)
	if err != nil {
		return 0, err
	}
	if len(pos) > 0 {
		return 0, inputErrorf("unexpected argument %q\n\n%s", pos[0], printUsage)
	}
	s, _, err := loadSchema(ctx, *schemaSpec, current)
	if err != nil {
		return 0, err
	}
	_, err = io.WriteString(stdout, Print(s))
	return ExitOK, err
}

const diffUsage = `usage: stacker schema diff --base SCHEMA [--new SCHEMA] [--format text|json] [--allow-breaking]

Compares two schemas and classifies every change as BREAKING, DANGEROUS or
SAFE, with a change type and the schema coordinate (Type.field(arg:)).
Exits 1 when a change is BREAKING.

flags:
  --base SCHEMA       the old schema: a file or git:REF:path (required)
  --new SCHEMA        the new schema (default: the running schema)
  --format FORMAT     text (default) or json
  --allow-breaking    report breaking changes but exit 0
`

func runDiff(ctx context.Context, args []string, current *ast.Schema, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	baseSpec := fs.String("base", "", "")
	newSpec := fs.String("new", "", "")
	format := formatFlag("text")
	fs.Var(&format, "format", "")
	allowBreaking := fs.Bool("allow-breaking", false, "")
	pos, err := parse(fs, diffUsage, args, stdout)
	if err != nil {
		return 0, err
	}
	if len(pos) > 0 {
		return 0, inputErrorf("unexpected argument %q\n\n%s", pos[0], diffUsage)
	}
	if *baseSpec == "" {
		return 0, inputErrorf("--base is required\n\n%s", diffUsage)
	}
	base, baseName, err := loadSchema(ctx, *baseSpec, nil)
	if err != nil {
		return 0, err
	}
	next, nextName, err := loadSchema(ctx, *newSpec, current)
	if err != nil {
		return 0, err
	}
	r := newDiffReport(baseName, nextName, Diff(base, next))
	if format == "json" {
		err = writeJSON(stdout, r)
	} else {
		err = r.writeText(stdout, "", *allowBreaking)
	}
	if err != nil {
		return 0, err
	}
	if r.Summary.Breaking > 0 && !*allowBreaking {
		return ExitFailed, nil
	}
	return ExitOK, nil
}

const validateUsage = `usage: stacker schema validate [--schema SCHEMA] [--format text|json] OPERATIONS...

Validates front-end documents (.graphql files or glob patterns; ** matches
any number of directories) against the running schema (or SCHEMA) with
gqlparser's validator. Fragments may be defined in one file and used in
another. Uses of deprecated fields, arguments and enum values are warnings.
Exits 1 on any error.

flags:
  --schema SCHEMA   validate against this schema file (or git:REF:path)
  --format FORMAT   text (default) or json
`

func runValidate(ctx context.Context, args []string, current *ast.Schema, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	schemaSpec := fs.String("schema", "", "")
	format := formatFlag("text")
	fs.Var(&format, "format", "")
	patterns, err := parse(fs, validateUsage, args, stdout)
	if err != nil {
		return 0, err
	}
	if len(patterns) == 0 {
		return 0, inputErrorf("no operation files given\n\n%s", validateUsage)
	}
	s, name, err := loadSchema(ctx, *schemaSpec, current)
	if err != nil {
		return 0, err
	}
	r, err := validateFiles(s, name, patterns)
	if err != nil {
		return 0, err
	}
	if format == "json" {
		err = writeJSON(stdout, r)
	} else {
		err = r.writeText(stdout, "")
	}
	if err != nil {
		return 0, err
	}
	if r.Summary.Errors > 0 {
		return ExitFailed, nil
	}
	return ExitOK, nil
}

// validateFiles expands patterns, reads the files and validates them.
func validateFiles(s *ast.Schema, schemaName string, patterns []string) (*validateReport, error) {
	files, err := expandPatterns(patterns)
	if err != nil {
		return nil, err
	}
	sources := make([]*ast.Source, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, inputErrorf("%s: %v", f, err)
		}
		sources = append(sources, &ast.Source{Name: f, Input: string(b)})
	}
	return newValidateReport(schemaName, patterns, files, ValidateOperations(s, sources)), nil
}

const checkUsage = `usage: stacker schema check [--baseline SCHEMA] [--operations PATTERN]... [--schema SCHEMA]
                           [--format text|json] [--allow-breaking]

The one command a CI job runs: diffs the running schema (or SCHEMA) against
the committed baseline and validates the front-end operations against it.
Exits 1 when a change is BREAKING or an operation is invalid.

flags:
  --baseline SCHEMA     the baseline: a file or git:REF:path (default ` + DefaultBaseline + `)
  --operations PATTERN  operation files or glob patterns, repeatable
                        (default '` + DefaultOperations + `'; '' skips validation)
  --schema SCHEMA       check this schema file instead of the running schema
  --format FORMAT       text (default) or json
  --allow-breaking      report breaking changes but do not fail on them
`

func runCheck(ctx context.Context, args []string, current *ast.Schema, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	baselineSpec := fs.String("baseline", DefaultBaseline, "")
	schemaSpec := fs.String("schema", "", "")
	ops := &listFlag{values: []string{DefaultOperations}}
	fs.Var(ops, "operations", "")
	format := formatFlag("text")
	fs.Var(&format, "format", "")
	allowBreaking := fs.Bool("allow-breaking", false, "")
	pos, err := parse(fs, checkUsage, args, stdout)
	if err != nil {
		return 0, err
	}
	if len(pos) > 0 {
		return 0, inputErrorf("unexpected argument %q (operations go in --operations)\n\n%s", pos[0], checkUsage)
	}
	base, baseName, err := loadSchema(ctx, *baselineSpec, nil)
	if err != nil {
		return 0, err
	}
	next, nextName, err := loadSchema(ctx, *schemaSpec, current)
	if err != nil {
		return 0, err
	}
	r := &checkReport{Diff: newDiffReport(baseName, nextName, Diff(base, next))}
	if len(ops.values) > 0 {
		r.Validation, err = validateFiles(next, nextName, ops.values)
		if err != nil {
			return 0, err
		}
	}
	r.OK = (r.Diff.Summary.Breaking == 0 || *allowBreaking) &&
		(r.Validation == nil || r.Validation.Summary.Errors == 0)
	if format == "json" {
		err = writeJSON(stdout, r)
	} else {
		err = r.writeText(stdout, *allowBreaking)
	}
	if err != nil {
		return 0, err
	}
	if !r.OK {
		return ExitFailed, nil
	}
	return ExitOK, nil
}
