package authz

import (
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
)

// DeniedIn returns the guarded fields of op the caller may not see, sorted
// and each once, or nil. It follows fragments and honours @skip and
// @include with vars; a field selected on an interface counts for every
// object type that implements it, since any of them may answer. The
// document must have passed validation (fields carry their definitions).
func (a *Access) DeniedIn(s *ast.Schema, op *ast.OperationDefinition, vars map[string]any) []Coordinate {
	if a == nil || a.denied == nil || op == nil {
		return nil
	}
	w := &opWalk{a: a, s: s, vars: vars, seen: map[Coordinate]bool{}, frags: map[string]bool{}}
	w.walk(op.SelectionSet)
	slices.SortFunc(w.out, func(x, y Coordinate) int {
		if x.Type != y.Type {
			if x.Type < y.Type {
				return -1
			}
			return 1
		}
		if x.Field < y.Field {
			return -1
		}
		if x.Field > y.Field {
			return 1
		}
		return 0
	})
	return w.out
}

type opWalk struct {
	a     *Access
	s     *ast.Schema
	vars  map[string]any
	seen  map[Coordinate]bool
	frags map[string]bool // fragments walked already: each once
	out   []Coordinate
}

func (w *opWalk) walk(sel ast.SelectionSet) {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if !w.included(s.Directives) || s.ObjectDefinition == nil {
				continue
			}
			for _, t := range w.types(s.ObjectDefinition) {
				c := Coordinate{t, s.Name}
				if _, denied := w.a.denied[c]; denied && !w.seen[c] {
					w.seen[c] = true
					w.out = append(w.out, c)
				}
			}
			w.walk(s.SelectionSet)
		case *ast.InlineFragment:
			if w.included(s.Directives) {
				w.walk(s.SelectionSet)
			}
		case *ast.FragmentSpread:
			if !w.included(s.Directives) || s.Definition == nil || w.frags[s.Name] {
				continue
			}
			w.frags[s.Name] = true
			w.walk(s.Definition.SelectionSet)
		}
	}
}

// types is the object types a field selected on d may be answered by.
func (w *opWalk) types(d *ast.Definition) []string {
	if !d.IsAbstractType() {
		return []string{d.Name}
	}
	names := []string{d.Name}
	for _, t := range w.s.GetPossibleTypes(d) {
		names = append(names, t.Name)
	}
	return names
}

// included applies @skip and @include; a value that cannot be read counts
// as included, the cautious choice for a check that refuses.
func (w *opWalk) included(dirs ast.DirectiveList) bool {
	if d := dirs.ForName("skip"); d != nil && w.flag(d) == true {
		return false
	}
	if d := dirs.ForName("include"); d != nil && w.flag(d) == false {
		return false
	}
	return true
}

func (w *opWalk) flag(d *ast.Directive) any {
	arg := d.Arguments.ForName("if")
	if arg == nil || arg.Value == nil {
		return nil
	}
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return nil
	}
	return v
}
