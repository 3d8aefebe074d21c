package schemacheck

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Problem severities.
const (
	ProblemError   = "error"
	ProblemWarning = "warning"
)

// Problem is one finding in an operation document: an error (the document
// does not parse or does not validate against the schema) or a warning (it
// uses something deprecated, or defines a fragment no operation uses). Line
// and Column are 1-based; they are 0 when gqlparser gave no position.
type Problem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	// Rule is the validation rule that failed, when there is one.
	Rule string `json:"rule,omitempty"`
}

func (p Problem) String() string {
	pos := p.File
	if p.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	return pos + ": " + p.Severity + ": " + p.Message
}

// ValidateOperations validates front-end documents against schema with
// gqlparser's validator (the GraphQL specification's rules) and reports
// every problem, sorted by file and position.
//
// The documents are validated as one project: a fragment defined in one
// file may be used in another (each file is validated together with the
// fragments it reaches), fragment and operation names must be unique across
// all files, and a fragment no operation uses is a warning rather than an
// error. Uses of deprecated fields, arguments, input fields and enum values
// are warnings. The schema is not modified.
func ValidateOperations(schema *ast.Schema, sources []*ast.Source) []Problem {
	v := &validation{seen: map[Problem]bool{}}
	type parsed struct {
		src *ast.Source
		doc *ast.QueryDocument
	}
	var docs []parsed
	fragments := map[string]*ast.FragmentDefinition{}
	operations := map[string]*ast.OperationDefinition{}
	for _, src := range sources {
		doc, err := parseQuery(src)
		if err != nil {
			v.gqlError(src.Name, err)
			continue
		}
		docs = append(docs, parsed{src, doc})
		for _, f := range doc.Fragments {
			if prev, ok := fragments[f.Name]; ok {
				if srcOf(prev.Position) != srcOf(f.Position) {
					v.add(posProblem(f.Position, ProblemError,
						fmt.Sprintf(`There can be only one fragment named "%s"; it is also defined at %s.`, f.Name, where(prev.Position)),
						"UniqueFragmentNames"))
				}
				continue
			}
			fragments[f.Name] = f
		}
		for _, op := range doc.Operations {
			if op.Name == "" {
				continue
			}
			if prev, ok := operations[op.Name]; ok {
				if srcOf(prev.Position) != srcOf(op.Position) {
					v.add(posProblem(op.Position, ProblemError,
						fmt.Sprintf(`There can be only one operation named "%s"; it is also defined at %s.`, op.Name, where(prev.Position)),
						"UniqueOperationNames"))
				}
				continue
			}
			operations[op.Name] = op
		}
	}

	// Unused fragments are judged over the whole project, so the per-file
	// validation leaves that rule out.
	rs := rules.NewDefaultRules()
	rs.RemoveRule(rules.NoUnusedFragmentsRule.Name)
	used := map[string]bool{}
	for _, p := range docs {
		doc := withReachableFragments(p.doc, fragments)
		for _, op := range p.doc.Operations {
			markUsed(op.SelectionSet, fragments, used)
		}
		v.validate(p.src.Name, schema, doc, rs)
	}
	for _, p := range docs {
		for _, f := range p.doc.Fragments {
			if !used[f.Name] && fragments[f.Name] == f {
				v.add(posProblem(f.Position, ProblemWarning,
					fmt.Sprintf(`Fragment "%s" is never used in any operation.`, f.Name), "NoUnusedFragments"))
			}
		}
	}

	sort.Slice(v.problems, func(i, j int) bool {
		a, b := v.problems[i], v.problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		return a.Message < b.Message
	})
	return v.problems
}

// validate validates one file's document (with the fragments it reaches)
// and looks for deprecated uses. A panic inside gqlparser's validator is
// reported as an error of that file rather than ending the run.
func (v *validation) validate(file string, schema *ast.Schema, doc *ast.QueryDocument, rs *rules.Rules) {
	defer func() {
		if r := recover(); r != nil {
			v.add(Problem{File: file, Severity: ProblemError, Message: fmt.Sprintf("the validator failed on this document: %v", r)})
		}
	}()
	for _, e := range validator.ValidateWithRulesWithSources(schema, doc, rs) {
		v.sourceError(file, e)
	}
	v.deprecations(schema, doc)
}

// parseQuery parses an operation document, turning a panic inside the parser
// into an error.
func parseQuery(src *ast.Source) (doc *ast.QueryDocument, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("the document could not be parsed: %v", r)
		}
	}()
	return parser.ParseQuery(src)
}

// withReachableFragments returns doc plus the fragments defined in other
// files that its selections reach, directly or through other fragments.
func withReachableFragments(doc *ast.QueryDocument, all map[string]*ast.FragmentDefinition) *ast.QueryDocument {
	own := map[string]bool{}
	for _, f := range doc.Fragments {
		own[f.Name] = true
	}
	out := &ast.QueryDocument{
		Operations: doc.Operations,
		Fragments:  append(ast.FragmentDefinitionList{}, doc.Fragments...),
		Position:   doc.Position,
		Comment:    doc.Comment,
	}
	var queue []ast.SelectionSet
	for _, op := range doc.Operations {
		queue = append(queue, op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		queue = append(queue, f.SelectionSet)
	}
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		for _, name := range spreads(set) {
			if own[name] {
				continue
			}
			own[name] = true
			if f, ok := all[name]; ok {
				out.Fragments = append(out.Fragments, f)
				queue = append(queue, f.SelectionSet)
			}
		}
	}
	return out
}

// spreads lists the fragment names spread anywhere in set.
func spreads(set ast.SelectionSet) []string {
	var names []string
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				names = append(names, s.Name)
			}
		}
	}
	walk(set)
	return names
}

// markUsed marks every fragment reachable from set.
func markUsed(set ast.SelectionSet, all map[string]*ast.FragmentDefinition, used map[string]bool) {
	for _, name := range spreads(set) {
		if used[name] {
			continue
		}
		used[name] = true
		if f, ok := all[name]; ok {
			markUsed(f.SelectionSet, all, used)
		}
	}
}

type validation struct {
	problems []Problem
	// seen drops duplicates: a fragment shared by several files is
	// validated with each of them.
	seen map[Problem]bool
}

func (v *validation) add(p Problem) {
	if v.seen[p] {
		return
	}
	v.seen[p] = true
	v.problems = append(v.problems, p)
}

func (v *validation) gqlError(file string, err error) {
	var ge *gqlerror.Error
	if !errors.As(err, &ge) || ge == nil {
		v.add(Problem{File: file, Severity: ProblemError, Message: err.Error()})
		return
	}
	p := Problem{File: file, Severity: ProblemError, Message: ge.Message, Rule: ge.Rule}
	if len(ge.Locations) > 0 && ge.Locations[0].Line > 0 {
		p.Line, p.Column = ge.Locations[0].Line, ge.Locations[0].Column
	}
	v.add(p)
}

func (v *validation) sourceError(file string, e *gqlerror.ErrorWithSources) {
	p := Problem{File: file, Severity: ProblemError, Message: e.Message, Rule: e.Rule}
	if locs := e.SourceLocations(); len(locs) > 0 {
		p.Line, p.Column = locs[0].Line, locs[0].Column
		if locs[0].Source != nil && locs[0].Source.Name != "" {
			p.File = locs[0].Source.Name
		}
	}
	v.add(p)
}

// deprecations warns about every use of a deprecated field, argument, input
// field or enum value in doc.
func (v *validation) deprecations(schema *ast.Schema, doc *ast.QueryDocument) {
	warn := func(pos *ast.Position, what, coord string, dirs ast.DirectiveList) {
		if ok, reason := deprecation(dirs); ok {
			v.add(posProblem(pos, ProblemWarning,
				fmt.Sprintf("%s %s is deprecated: %s", what, coord, reason), "Deprecated"))
		}
	}
	args := func(owner string, defs ast.ArgumentDefinitionList, list ast.ArgumentList) {
		for _, a := range list {
			if def := defs.ForName(a.Name); def != nil {
				warn(a.Position, "Argument", owner+"("+a.Name+":)", def.Directives)
			}
		}
	}
	var events validator.Events
	events.OnField(func(_ *validator.Walker, f *ast.Field) {
		if f.Definition == nil || f.ObjectDefinition == nil {
			return
		}
		coord := f.ObjectDefinition.Name + "." + f.Name
		warn(f.Position, "Field", coord, f.Definition.Directives)
		args(coord, f.Definition.Arguments, f.Arguments)
	})
	events.OnDirective(func(_ *validator.Walker, d *ast.Directive) {
		if d.Definition != nil {
			args("@"+d.Name, d.Definition.Arguments, d.Arguments)
		}
	})
	events.OnValue(func(_ *validator.Walker, val *ast.Value) {
		if val.Definition == nil {
			return
		}
		switch {
		case val.Kind == ast.EnumValue && val.Definition.Kind == ast.Enum:
			if ev := val.Definition.EnumValues.ForName(val.Raw); ev != nil {
				warn(val.Position, "Enum value", val.Definition.Name+"."+ev.Name, ev.Directives)
			}
		case val.Kind == ast.ObjectValue && val.Definition.Kind == ast.InputObject:
			for _, c := range val.Children {
				if fd := val.Definition.Fields.ForName(c.Name); fd != nil {
					warn(c.Position, "Input field", val.Definition.Name+"."+c.Name, fd.Directives)
				}
			}
		}
	})
	validator.Walk(schema, doc, &events)
}

func posProblem(pos *ast.Position, severity, msg, rule string) Problem {
	p := Problem{Severity: severity, Message: msg, Rule: rule}
	if pos != nil {
		p.Line, p.Column = pos.Line, pos.Column
		if pos.Src != nil {
			p.File = pos.Src.Name
		}
	}
	return p
}

func srcOf(pos *ast.Position) *ast.Source {
	if pos == nil {
		return nil
	}
	return pos.Src
}

func where(pos *ast.Position) string {
	if pos == nil || pos.Src == nil {
		return "another file"
	}
	return fmt.Sprintf("%s:%d:%d", pos.Src.Name, pos.Line, pos.Column)
}
