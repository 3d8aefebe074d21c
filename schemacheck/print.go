package schemacheck

import (
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// indentUnit is one level of indentation, as schema.graphqls uses it.
const indentUnit = "  "

// Print returns the canonical SDL of s: the schema definition first (always
// spelled out, so root types never depend on naming conventions), then the
// directive definitions sorted by name, then the types sorted by name.
// Fields, arguments, enum values, union members, interfaces and applied
// directives keep their declaration order, which is meaningful to readers;
// the diff ignores that order. Built-in scalars, directives and introspection
// types are left out, as are comments.
//
// The output is stable and idempotent: printing the schema parsed from
// Print's output gives the same text.
func Print(s *ast.Schema) string {
	if s == nil {
		return ""
	}
	var p printer
	p.schemaDefinition(s)
	for _, name := range sortedKeys(s.Directives) {
		if d := s.Directives[name]; !builtinDirective(d) {
			p.directiveDefinition(d)
		}
	}
	for _, name := range sortedKeys(s.Types) {
		if d := s.Types[name]; !builtinType(d) {
			p.definition(d)
		}
	}
	return p.b.String()
}

// builtinType reports whether d comes from the GraphQL prelude (built-in
// scalars, introspection types) rather than from the schema's own source.
func builtinType(d *ast.Definition) bool {
	return d == nil || d.BuiltIn || strings.HasPrefix(d.Name, "__")
}

// builtinDirective reports whether d is one of the directives the prelude
// declares. A schema that redeclares one in its own source keeps it.
func builtinDirective(d *ast.DirectiveDefinition) bool {
	return d == nil || (d.Position != nil && d.Position.Src != nil && d.Position.Src.BuiltIn)
}

// introspectionField reports whether f is one the validator adds to the query
// type (__schema, __type).
func introspectionField(f *ast.FieldDefinition) bool {
	return strings.HasPrefix(f.Name, "__")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type printer struct {
	b strings.Builder
}

// start separates top-level definitions by a blank line.
func (p *printer) start() {
	if p.b.Len() > 0 {
		p.b.WriteString("\n")
	}
}

func (p *printer) schemaDefinition(s *ast.Schema) {
	roots := []struct {
		op  string
		def *ast.Definition
	}{{"query", s.Query}, {"mutation", s.Mutation}, {"subscription", s.Subscription}}
	hasRoot := s.Query != nil || s.Mutation != nil || s.Subscription != nil
	if !hasRoot {
		// A schema definition needs at least one root; without one only its
		// directives can be kept, as an extension.
		if len(s.SchemaDirectives) > 0 {
			p.start()
			p.b.WriteString("extend schema")
			p.directives(s.SchemaDirectives)
			p.b.WriteString("\n")
		}
		return
	}
	p.start()
	p.description(s.Description, "")
	p.b.WriteString("schema")
	p.directives(s.SchemaDirectives)
	p.b.WriteString(" {\n")
	for _, r := range roots {
		if r.def != nil {
			p.b.WriteString(indentUnit + r.op + ": " + r.def.Name + "\n")
		}
	}
	p.b.WriteString("}\n")
}

func (p *printer) directiveDefinition(d *ast.DirectiveDefinition) {
	p.start()
	p.description(d.Description, "")
	p.b.WriteString("directive @" + d.Name)
	p.arguments(d.Arguments, "")
	p.directives(d.Directives)
	if d.IsRepeatable {
		p.b.WriteString(" repeatable")
	}
	if len(d.Locations) > 0 {
		p.b.WriteString(" on ")
		for i, l := range d.Locations {
			if i > 0 {
				p.b.WriteString(" | ")
			}
			p.b.WriteString(string(l))
		}
	}
	p.b.WriteString("\n")
}

func (p *printer) definition(d *ast.Definition) {
	p.start()
	p.description(d.Description, "")
	switch d.Kind {
	case ast.Scalar:
		p.b.WriteString("scalar " + d.Name)
		p.directives(d.Directives)
	case ast.Object, ast.Interface:
		if d.Kind == ast.Object {
			p.b.WriteString("type " + d.Name)
		} else {
			p.b.WriteString("interface " + d.Name)
		}
		if len(d.Interfaces) > 0 {
			p.b.WriteString(" implements " + strings.Join(d.Interfaces, " & "))
		}
		p.directives(d.Directives)
		p.fields(d.Fields)
	case ast.Union:
		p.b.WriteString("union " + d.Name)
		p.directives(d.Directives)
		if len(d.Types) > 0 {
			p.b.WriteString(" = " + strings.Join(d.Types, " | "))
		}
	case ast.Enum:
		p.b.WriteString("enum " + d.Name)
		p.directives(d.Directives)
		if len(d.EnumValues) > 0 {
			p.b.WriteString(" {\n")
			for _, v := range d.EnumValues {
				p.description(v.Description, indentUnit)
				p.b.WriteString(indentUnit + v.Name)
				p.directives(v.Directives)
				p.b.WriteString("\n")
			}
			p.b.WriteString("}")
		}
	case ast.InputObject:
		p.b.WriteString("input " + d.Name)
		p.directives(d.Directives)
		p.fields(d.Fields)
	}
	p.b.WriteString("\n")
}

func (p *printer) fields(fields ast.FieldList) {
	fields = slices.DeleteFunc(slices.Clone(fields), introspectionField)
	if len(fields) == 0 {
		return
	}
	p.b.WriteString(" {\n")
	for _, f := range fields {
		p.description(f.Description, indentUnit)
		p.b.WriteString(indentUnit + f.Name)
		p.arguments(f.Arguments, indentUnit)
		p.b.WriteString(": " + f.Type.String())
		if f.DefaultValue != nil {
			p.b.WriteString(" = " + printValue(f.DefaultValue, false))
		}
		p.directives(f.Directives)
		p.b.WriteString("\n")
	}
	p.b.WriteString("}")
}

// arguments prints an argument list on one line, or one argument a line when
// any of them has a description.
func (p *printer) arguments(args ast.ArgumentDefinitionList, indent string) {
	if len(args) == 0 {
		return
	}
	multiline := slices.ContainsFunc(args, func(a *ast.ArgumentDefinition) bool { return a.Description != "" })
	p.b.WriteString("(")
	for i, a := range args {
		if multiline {
			p.b.WriteString("\n")
			p.description(a.Description, indent+indentUnit)
			p.b.WriteString(indent + indentUnit)
		} else if i > 0 {
			p.b.WriteString(", ")
		}
		p.b.WriteString(a.Name + ": " + a.Type.String())
		if a.DefaultValue != nil {
			p.b.WriteString(" = " + printValue(a.DefaultValue, false))
		}
		p.directives(a.Directives)
	}
	if multiline {
		p.b.WriteString("\n" + indent)
	}
	p.b.WriteString(")")
}

// directives prints applied directives, each preceded by a space.
func (p *printer) directives(list ast.DirectiveList) {
	for _, d := range list {
		p.b.WriteString(" " + printDirective(d))
	}
}

func printDirective(d *ast.Directive) string {
	var b strings.Builder
	b.WriteString("@" + d.Name)
	if len(d.Arguments) > 0 {
		b.WriteString("(")
		for i, a := range d.Arguments {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Name + ": " + printValue(a.Value, false))
		}
		b.WriteString(")")
	}
	return b.String()
}

// description prints desc on its own line at indent: as a quoted string
// when it is one line, as a block string when it has several and survives
// the block string's whitespace rules unchanged, quoted with escapes
// otherwise.
func (p *printer) description(desc, indent string) {
	if desc == "" {
		return
	}
	desc = strings.ToValidUTF8(desc, "\uFFFD")
	if strings.Contains(desc, "\n") {
		if block, ok := blockString(desc, indent); ok {
			p.b.WriteString(indent + block + "\n")
			return
		}
	}
	p.b.WriteString(indent + quote(desc) + "\n")
}

// blockString renders s as a block string whose lines are indented by indent,
// and reports whether the lexer reads it back as exactly s. Block strings
// strip common indentation and leading and trailing blank lines, so not every
// string survives; those are quoted instead.
func blockString(s, indent string) (string, bool) {
	var b strings.Builder
	b.WriteString(`"""` + "\n")
	for _, line := range strings.Split(strings.ReplaceAll(s, `"""`, `\"""`), "\n") {
		if line != "" {
			b.WriteString(indent + line)
		}
		b.WriteString("\n")
	}
	b.WriteString(indent + `"""`)
	out := b.String()
	lx := lexer.New(&ast.Source{Input: out})
	tok, err := lx.ReadToken()
	if err != nil || tok.Kind != lexer.BlockString || tok.Value != s {
		return "", false
	}
	// The whole text must be that one token: nothing may follow it.
	if next, err := lx.ReadToken(); err != nil || next.Kind != lexer.EOF {
		return "", false
	}
	return out, true
}

// quote quotes s as a GraphQL string literal, escaping what the grammar
// requires and leaving other Unicode as it is.
func quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// printValue prints a constant value. With sorted, object fields are sorted
// by name, which makes two values that differ only in field order print the
// same (for comparing default values).
func printValue(v *ast.Value, sorted bool) string {
	if v == nil {
		return ""
	}
	switch v.Kind {
	case ast.Variable:
		return "$" + v.Raw
	case ast.StringValue, ast.BlockValue:
		return quote(v.Raw)
	case ast.ListValue:
		items := make([]string, len(v.Children))
		for i, c := range v.Children {
			items[i] = printValue(c.Value, sorted)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case ast.ObjectValue:
		items := make([]string, len(v.Children))
		for i, c := range v.Children {
			items[i] = c.Name + ": " + printValue(c.Value, sorted)
		}
		if sorted {
			sort.Strings(items)
		}
		return "{" + strings.Join(items, ", ") + "}"
	default: // Int, Float, Boolean, Null, Enum
		return v.Raw
	}
}
