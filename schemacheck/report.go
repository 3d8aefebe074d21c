package schemacheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// diffReport is the output of `schema diff` and the diff part of `check`.
type diffReport struct {
	Base    string   `json:"base"`
	New     string   `json:"new"`
	Summary Summary  `json:"summary"`
	Changes []Change `json:"changes"`
}

func newDiffReport(base, next string, changes []Change) diffReport {
	if changes == nil {
		changes = []Change{}
	}
	return diffReport{Base: base, New: next, Summary: Summarize(changes), Changes: changes}
}

// problemSummary counts the documents validated and their problems.
type problemSummary struct {
	Files    int `json:"files"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// validateReport is the output of `schema validate` and the validation part
// of `check`.
type validateReport struct {
	Schema   string         `json:"schema"`
	Patterns []string       `json:"patterns"`
	Files    []string       `json:"files"`
	Summary  problemSummary `json:"summary"`
	Problems []Problem      `json:"problems"`
}

func newValidateReport(schema string, patterns, files []string, problems []Problem) *validateReport {
	if problems == nil {
		problems = []Problem{}
	}
	r := &validateReport{Schema: schema, Patterns: patterns, Files: files, Problems: problems}
	r.Summary.Files = len(files)
	for _, p := range problems {
		if p.Severity == ProblemError {
			r.Summary.Errors++
		} else {
			r.Summary.Warnings++
		}
	}
	return r
}

// checkReport is the output of `schema check`. Validation is null when
// an empty --operations turned validation off.
type checkReport struct {
	OK         bool            `json:"ok"`
	Diff       diffReport      `json:"diff"`
	Validation *validateReport `json:"validation"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// writeChanges writes one aligned line per change, each prefixed by indent.
func writeChanges(w io.Writer, indent string, changes []Change) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range changes {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", indent, c.Severity, c.Type, c.Coordinate, oneLine(c.Message))
	}
	return tw.Flush()
}

// oneLine keeps a message (which can quote a description or a default
// value) on one line, so each change stays one line of output.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
}

func (r diffReport) summaryLine() string {
	s := r.Summary
	return fmt.Sprintf("%s: %d breaking, %d dangerous, %d safe",
		plural(len(r.Changes), "change", "changes"), s.Breaking, s.Dangerous, s.Safe)
}

func (r diffReport) writeText(w io.Writer, indent string, allowBreaking bool) error {
	fmt.Fprintf(w, "%sSchema diff: %s -> %s\n", indent, r.Base, r.New)
	if len(r.Changes) == 0 {
		_, err := fmt.Fprintf(w, "%s  no changes\n", indent)
		return err
	}
	if err := writeChanges(w, indent+"  ", r.Changes); err != nil {
		return err
	}
	line := r.summaryLine()
	if r.Summary.Breaking > 0 {
		if allowBreaking {
			line += " (breaking changes allowed by --allow-breaking)"
		} else {
			line += " (failing; --allow-breaking reports them without failing)"
		}
	}
	_, err := fmt.Fprintf(w, "%s%s\n", indent, line)
	return err
}

func (r *validateReport) summaryLine() string {
	return fmt.Sprintf("%s validated against %s: %s, %s",
		plural(r.Summary.Files, "document", "documents"), r.Schema,
		plural(r.Summary.Errors, "error", "errors"), plural(r.Summary.Warnings, "warning", "warnings"))
}

func (r *validateReport) writeText(w io.Writer, indent string) error {
	for _, p := range r.Problems {
		fmt.Fprintf(w, "%s%s\n", indent, oneLine(p.String()))
	}
	_, err := fmt.Fprintf(w, "%s%s\n", indent, r.summaryLine())
	return err
}

func (r *checkReport) writeText(w io.Writer, allowBreaking bool) error {
	if err := r.Diff.writeText(w, "", allowBreaking); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Validation == nil {
		fmt.Fprintln(w, "Operations: not validated (--operations '')")
	} else {
		fmt.Fprintf(w, "Operations: %s\n", strings.Join(r.Validation.Patterns, " "))
		if err := r.Validation.writeText(w, "  "); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)

	var failures []string
	if n := r.Diff.Summary.Breaking; n > 0 && !allowBreaking {
		failures = append(failures, plural(n, "breaking change", "breaking changes"))
	}
	if r.Validation != nil && r.Validation.Summary.Errors > 0 {
		failures = append(failures, plural(r.Validation.Summary.Errors, "operation error", "operation errors"))
	}
	if len(failures) > 0 {
		_, err := fmt.Fprintf(w, "schema check FAILED: %s\n", strings.Join(failures, ", "))
		return err
	}
	s := r.Diff.Summary
	line := fmt.Sprintf("schema check passed: %d breaking, %d dangerous, %d safe changes", s.Breaking, s.Dangerous, s.Safe)
	if s.Breaking > 0 {
		line += " (breaking allowed)"
	}
	if v := r.Validation; v != nil {
		line += fmt.Sprintf("; %s valid, %s", plural(v.Summary.Files, "document", "documents"),
			plural(v.Summary.Warnings, "warning", "warnings"))
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
