package schemacheck

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// deprecatedReasonDefault is the reason @deprecated gives when none is
// written (GraphQL specification, "@deprecated").
const deprecatedReasonDefault = "No longer supported"

// Diff returns every change from base to next, worst first, then by
// coordinate. Built-in scalars, directives and introspection types are not
// compared. Elements inside an added or removed element are not reported on
// their own: a new type is one TYPE_ADDED, not one change per field. Neither
// schema is modified.
func Diff(base, next *ast.Schema) []Change {
	d := &differ{}
	if base == nil {
		base = &ast.Schema{}
	}
	if next == nil {
		next = &ast.Schema{}
	}
	d.schema(base, next)
	d.directiveDefinitions(base.Directives, next.Directives)
	d.types(base.Types, next.Types)
	sortChanges(d.changes)
	return d.changes
}

func sortChanges(changes []Change) {
	sort.SliceStable(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Coordinate != b.Coordinate {
			return a.Coordinate < b.Coordinate
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Message < b.Message
	})
}

type differ struct {
	changes []Change
}

func (d *differ) add(sev Severity, typ ChangeType, coord, before, after, format string, args ...any) {
	d.changes = append(d.changes, Change{
		Severity:   sev,
		Type:       typ,
		Coordinate: coord,
		Message:    fmt.Sprintf(format, args...),
		Before:     before,
		After:      after,
	})
}

func (d *differ) schema(base, next *ast.Schema) {
	roots := []struct {
		op         string
		base, next *ast.Definition
	}{
		{"query", base.Query, next.Query},
		{"mutation", base.Mutation, next.Mutation},
		{"subscription", base.Subscription, next.Subscription},
	}
	for _, r := range roots {
		switch {
		case r.base == nil && r.next == nil:
		case r.base == nil:
			d.add(Safe, RootTypeAdded, "schema", "", r.next.Name,
				"Schema %s root type %s was added.", r.op, r.next.Name)
		case r.next == nil:
			d.add(Breaking, RootTypeRemoved, "schema", r.base.Name, "",
				"Schema %s root type %s was removed.", r.op, r.base.Name)
		case r.base.Name != r.next.Name:
			d.add(Breaking, RootTypeChanged, "schema", r.base.Name, r.next.Name,
				"Schema %s root type changed from %s to %s.", r.op, r.base.Name, r.next.Name)
		}
	}
	d.description("schema", "schema", base.Description, next.Description)
	d.directiveUsages("schema", "schema", base.SchemaDirectives, next.SchemaDirectives)
}

func (d *differ) directiveDefinitions(base, next map[string]*ast.DirectiveDefinition) {
	for _, name := range unionKeys(base, next) {
		o, n := base[name], next[name]
		if o != nil && builtinDirective(o) {
			o = nil
		}
		if n != nil && builtinDirective(n) {
			n = nil
		}
		coord := "@" + name
		switch {
		case o == nil && n == nil:
		case o == nil:
			d.add(Safe, DirectiveAdded, coord, "", "", "Directive %s was added.", coord)
		case n == nil:
			d.add(Breaking, DirectiveRemoved, coord, "", "", "Directive %s was removed.", coord)
		default:
			d.description(coord, "directive "+coord, o.Description, n.Description)
			for _, l := range n.Locations {
				if !slices.Contains(o.Locations, l) {
					d.add(Safe, DirectiveLocationAdded, coord, "", string(l),
						"Location %s was added to directive %s.", l, coord)
				}
			}
			for _, l := range o.Locations {
				if !slices.Contains(n.Locations, l) {
					d.add(Breaking, DirectiveLocationRemoved, coord, string(l), "",
						"Location %s was removed from directive %s.", l, coord)
				}
			}
			switch {
			case !o.IsRepeatable && n.IsRepeatable:
				d.add(Safe, DirectiveRepeatableAdded, coord, "", "",
					"Directive %s became repeatable.", coord)
			case o.IsRepeatable && !n.IsRepeatable:
				d.add(Breaking, DirectiveRepeatableRemoved, coord, "", "",
					"Directive %s is no longer repeatable.", coord)
			}
			d.arguments(coord, o.Arguments, n.Arguments)
			d.deprecation(coord, "directive "+coord, o.Directives, n.Directives)
			d.directiveUsages(coord, "directive "+coord, o.Directives, n.Directives)
		}
	}
}

func (d *differ) types(base, next map[string]*ast.Definition) {
	for _, name := range unionKeys(base, next) {
		o, n := base[name], next[name]
		if o != nil && builtinType(o) {
			o = nil
		}
		if n != nil && builtinType(n) {
			n = nil
		}
		switch {
		case o == nil && n == nil:
		case o == nil:
			d.add(Safe, TypeAdded, name, "", kindWord(n.Kind),
				"Type %s (%s) was added.", name, kindWord(n.Kind))
		case n == nil:
			d.add(Breaking, TypeRemoved, name, kindWord(o.Kind), "",
				"Type %s (%s) was removed.", name, kindWord(o.Kind))
		case o.Kind != n.Kind:
			d.add(Breaking, TypeKindChanged, name, kindWord(o.Kind), kindWord(n.Kind),
				"Type %s changed kind from %s to %s.", name, kindWord(o.Kind), kindWord(n.Kind))
		default:
			d.definition(o, n)
		}
	}
}

func (d *differ) definition(o, n *ast.Definition) {
	name := n.Name
	what := kindWord(n.Kind) + " " + name
	d.description(name, what, o.Description, n.Description)
	d.directiveUsages(name, what, o.Directives, n.Directives)
	switch n.Kind {
	case ast.Object, ast.Interface:
		for _, i := range n.Interfaces {
			if !slices.Contains(o.Interfaces, i) {
				d.add(Dangerous, InterfaceAdded, name, "", i,
					"%s now implements interface %s.", capitalize(what), i)
			}
		}
		for _, i := range o.Interfaces {
			if !slices.Contains(n.Interfaces, i) {
				d.add(Breaking, InterfaceRemoved, name, i, "",
					"%s no longer implements interface %s.", capitalize(what), i)
			}
		}
		d.fields(o, n)
	case ast.Union:
		for _, t := range n.Types {
			if !slices.Contains(o.Types, t) {
				d.add(Dangerous, UnionMemberAdded, name, "", t,
					"Type %s was added to union %s.", t, name)
			}
		}
		for _, t := range o.Types {
			if !slices.Contains(n.Types, t) {
				d.add(Breaking, UnionMemberRemoved, name, t, "",
					"Type %s was removed from union %s.", t, name)
			}
		}
	case ast.Enum:
		d.enumValues(o, n)
	case ast.InputObject:
		d.inputValues(name, "input field", inputFields(o.Fields), inputFields(n.Fields))
	}
}

func (d *differ) fields(o, n *ast.Definition) {
	of, nf := fieldMap(o.Fields), fieldMap(n.Fields)
	for _, name := range unionKeys(of, nf) {
		a, b := of[name], nf[name]
		coord := n.Name + "." + name
		switch {
		case a == nil:
			d.add(Safe, FieldAdded, coord, "", b.Type.String(),
				"Field %s (%s) was added.", coord, b.Type)
		case b == nil:
			dep := ""
			if isDeprecated(a.Directives) {
				dep = "deprecated "
			}
			d.add(Breaking, FieldRemoved, coord, a.Type.String(), "",
				"Field %s (%s%s) was removed.", coord, dep, a.Type)
		default:
			if a.Type.String() != b.Type.String() {
				sev := Breaking
				if safeOutputChange(a.Type, b.Type) {
					sev = Safe
				}
				d.add(sev, FieldTypeChanged, coord, a.Type.String(), b.Type.String(),
					"Field %s changed type from %s to %s.", coord, a.Type, b.Type)
			}
			what := "field " + coord
			d.description(coord, what, a.Description, b.Description)
			d.deprecation(coord, what, a.Directives, b.Directives)
			d.directiveUsages(coord, what, a.Directives, b.Directives)
			d.arguments(coord, a.Arguments, b.Arguments)
		}
	}
}

func (d *differ) arguments(owner string, o, n ast.ArgumentDefinitionList) {
	conv := func(list ast.ArgumentDefinitionList) []inputValue {
		out := make([]inputValue, 0, len(list))
		for _, a := range list {
			out = append(out, inputValue{a.Name, a.Description, a.Type, a.DefaultValue, a.Directives})
		}
		return out
	}
	d.inputValues(owner, "argument", conv(o), conv(n))
}

// inputValue is what arguments and input fields have in common.
type inputValue struct {
	name        string
	description string
	typ         *ast.Type
	def         *ast.Value
	directives  ast.DirectiveList
}

func inputFields(list ast.FieldList) []inputValue {
	out := make([]inputValue, 0, len(list))
	for _, f := range list {
		out = append(out, inputValue{f.Name, f.Description, f.Type, f.DefaultValue, f.Directives})
	}
	return out
}

// inputValues compares the arguments of a field or directive (kind
// "argument", owner its coordinate) or the fields of an input type (kind
// "input field", owner the type's name).
func (d *differ) inputValues(owner, kind string, o, n []inputValue) {
	om, nm := map[string]inputValue{}, map[string]inputValue{}
	for _, v := range o {
		if _, dup := om[v.name]; !dup {
			om[v.name] = v
		}
	}
	for _, v := range n {
		if _, dup := nm[v.name]; !dup {
			nm[v.name] = v
		}
	}
	added, addedNonNull, removed, typeChanged := ArgAdded, ArgAddedNonNull, ArgRemoved, ArgTypeChanged
	if kind == "input field" {
		added, addedNonNull, removed, typeChanged = InputFieldAdded, InputFieldAddedNonNull, InputFieldRemoved, InputFieldTypeChanged
	}
	for _, name := range unionKeys(om, nm) {
		a, aok := om[name]
		b, bok := nm[name]
		coord := owner + "." + name
		if kind == "argument" {
			coord = owner + "(" + name + ":)"
		}
		what := kind + " " + coord
		switch {
		case !aok:
			if b.typ.NonNull && b.def == nil {
				d.add(Breaking, addedNonNull, coord, "", b.typ.String(),
					"Required %s %s (%s) was added.", kind, coord, b.typ)
			} else {
				d.add(Safe, added, coord, "", b.typ.String(),
					"Optional %s %s (%s) was added.", kind, coord, describeInput(b))
			}
		case !bok:
			d.add(Breaking, removed, coord, a.typ.String(), "",
				"%s %s (%s) was removed.", capitalize(kind), coord, a.typ)
		default:
			if a.typ.String() != b.typ.String() {
				sev := Breaking
				if safeInputChange(a.typ, b.typ) {
					sev = Safe
				}
				d.add(sev, typeChanged, coord, a.typ.String(), b.typ.String(),
					"%s %s changed type from %s to %s.", capitalize(kind), coord, a.typ, b.typ)
			}
			d.defaultValue(coord, what, a, b)
			d.description(coord, what, a.description, b.description)
			d.deprecation(coord, what, a.directives, b.directives)
			d.directiveUsages(coord, what, a.directives, b.directives)
		}
	}
}

func describeInput(v inputValue) string {
	if v.def != nil {
		return v.typ.String() + " = " + printValue(v.def, false)
	}
	return v.typ.String()
}

// defaultValue compares default values. Adding a default to a non-null input
// makes it optional (safe); removing one makes it required (breaking). On a
// nullable input a client that leaves it out gets a different value either
// way (dangerous).
func (d *differ) defaultValue(coord, what string, a, b inputValue) {
	before, after := printValue(a.def, false), printValue(b.def, false)
	switch {
	case a.def == nil && b.def == nil:
	case a.def == nil:
		sev := Dangerous
		if b.typ.NonNull {
			sev = Safe
		}
		d.add(sev, DefaultValueAdded, coord, "", after,
			"Default value %s was added to %s.", after, what)
	case b.def == nil:
		sev := Dangerous
		if b.typ.NonNull {
			sev = Breaking
		}
		d.add(sev, DefaultValueRemoved, coord, before, "",
			"Default value %s was removed from %s.", before, what)
	case printValue(a.def, true) != printValue(b.def, true):
		d.add(Dangerous, DefaultValueChanged, coord, before, after,
			"Default value of %s changed from %s to %s.", what, before, after)
	}
}

func (d *differ) enumValues(o, n *ast.Definition) {
	om, nm := map[string]*ast.EnumValueDefinition{}, map[string]*ast.EnumValueDefinition{}
	for _, v := range o.EnumValues {
		if om[v.Name] == nil {
			om[v.Name] = v
		}
	}
	for _, v := range n.EnumValues {
		if nm[v.Name] == nil {
			nm[v.Name] = v
		}
	}
	for _, name := range unionKeys(om, nm) {
		a, b := om[name], nm[name]
		coord := n.Name + "." + name
		switch {
		case a == nil:
			d.add(Dangerous, EnumValueAdded, coord, "", "",
				"Enum value %s was added.", coord)
		case b == nil:
			what := "Enum value"
			if isDeprecated(a.Directives) {
				what = "Deprecated enum value"
			}
			d.add(Breaking, EnumValueRemoved, coord, "", "", "%s %s was removed.", what, coord)
		default:
			what := "enum value " + coord
			d.description(coord, what, a.Description, b.Description)
			d.deprecation(coord, what, a.Directives, b.Directives)
			d.directiveUsages(coord, what, a.Directives, b.Directives)
		}
	}
}

func (d *differ) description(coord, what, before, after string) {
	before, after = validUTF8(before), validUTF8(after)
	switch {
	case before == after:
	case before == "":
		d.add(Safe, DescriptionAdded, coord, "", after, "Description was added to %s.", what)
	case after == "":
		d.add(Safe, DescriptionRemoved, coord, before, "", "Description was removed from %s.", what)
	default:
		d.add(Safe, DescriptionChanged, coord, before, after, "Description of %s changed.", what)
	}
}

func (d *differ) deprecation(coord, what string, before, after ast.DirectiveList) {
	ob, oreason := deprecation(before)
	nb, nreason := deprecation(after)
	switch {
	case !ob && !nb:
	case !ob:
		d.add(Safe, DeprecationAdded, coord, "", nreason,
			"%s was deprecated: %s", capitalize(what), nreason)
	case !nb:
		d.add(Dangerous, DeprecationRemoved, coord, oreason, "",
			"%s is no longer deprecated.", capitalize(what))
	case oreason != nreason:
		d.add(Safe, DeprecationReasonChanged, coord, oreason, nreason,
			"Deprecation reason of %s changed.", what)
	}
}

// deprecation reports whether a @deprecated directive is in list, and its
// reason.
func deprecation(list ast.DirectiveList) (bool, string) {
	dir := list.ForName("deprecated")
	if dir == nil {
		return false, ""
	}
	if arg := dir.Arguments.ForName("reason"); arg != nil && arg.Value != nil &&
		(arg.Value.Kind == ast.StringValue || arg.Value.Kind == ast.BlockValue) {
		return true, validUTF8(arg.Value.Raw)
	}
	return true, deprecatedReasonDefault
}

// validUTF8 replaces invalid UTF-8 the way Print does, so that a schema and
// its printed form compare equal.
func validUTF8(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

func isDeprecated(list ast.DirectiveList) bool {
	ok, _ := deprecation(list)
	return ok
}

// directiveUsages compares the directives applied to one element, except
// @deprecated (see deprecation). @oneOf is special: it forbids what was
// allowed (any combination of fields), so adding it is breaking and removing
// it safe. Any other applied directive can change how the server treats the
// element, which clients cannot see in the schema they query: dangerous.
func (d *differ) directiveUsages(coord, what string, before, after ast.DirectiveList) {
	group := func(list ast.DirectiveList) map[string][]string {
		m := map[string][]string{}
		for _, dir := range list {
			if dir.Name == "deprecated" {
				continue
			}
			m[dir.Name] = append(m[dir.Name], printDirective(dir))
		}
		for _, v := range m {
			sort.Strings(v)
		}
		return m
	}
	om, nm := group(before), group(after)
	for _, name := range unionKeys(om, nm) {
		a, b := om[name], nm[name]
		ap, bp := strings.Join(a, " "), strings.Join(b, " ")
		switch {
		case len(a) == 0 && name == "oneOf":
			d.add(Breaking, OneOfAdded, coord, "", bp,
				"%s became @oneOf: exactly one field must be given.", capitalize(what))
		case len(b) == 0 && name == "oneOf":
			d.add(Safe, OneOfRemoved, coord, ap, "",
				"%s is no longer @oneOf.", capitalize(what))
		case len(a) == 0:
			d.add(Dangerous, DirectiveUsageAdded, coord, "", bp,
				"Directive %s was added to %s.", bp, what)
		case len(b) == 0:
			d.add(Dangerous, DirectiveUsageRemoved, coord, ap, "",
				"Directive %s was removed from %s.", ap, what)
		case ap != bp:
			d.add(Dangerous, DirectiveUsageChanged, coord, ap, bp,
				"Directive @%s on %s changed from %s to %s.", name, what, ap, bp)
		}
	}
}

// safeOutputChange reports whether a field's type can change from old to new
// without breaking a client: only by becoming non-null (at any level), which
// a client that handled null still handles.
func safeOutputChange(old, new *ast.Type) bool {
	if old == nil || new == nil {
		return false
	}
	if old.NonNull {
		return new.NonNull && safeOutputChange(nullable(old), nullable(new))
	}
	if new.NonNull {
		return safeOutputChange(old, nullable(new))
	}
	if old.Elem != nil || new.Elem != nil {
		return old.Elem != nil && new.Elem != nil && safeOutputChange(old.Elem, new.Elem)
	}
	return old.NamedType == new.NamedType
}

// safeInputChange reports whether an argument's or input field's type can
// change from old to new without breaking a client: only by becoming
// nullable (at any level), so every value sent before is still accepted.
func safeInputChange(old, new *ast.Type) bool {
	if old == nil || new == nil {
		return false
	}
	if !old.NonNull && new.NonNull {
		return false
	}
	o, n := nullable(old), nullable(new)
	if o.Elem != nil || n.Elem != nil {
		return o.Elem != nil && n.Elem != nil && safeInputChange(o.Elem, n.Elem)
	}
	return o.NamedType == n.NamedType
}

func nullable(t *ast.Type) *ast.Type {
	c := *t
	c.NonNull = false
	return &c
}

func fieldMap(list ast.FieldList) map[string]*ast.FieldDefinition {
	m := map[string]*ast.FieldDefinition{}
	for _, f := range list {
		if introspectionField(f) || m[f.Name] != nil {
			continue
		}
		m[f.Name] = f
	}
	return m
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func kindWord(k ast.DefinitionKind) string {
	switch k {
	case ast.Object:
		return "object"
	case ast.Interface:
		return "interface"
	case ast.Union:
		return "union"
	case ast.Enum:
		return "enum"
	case ast.InputObject:
		return "input"
	case ast.Scalar:
		return "scalar"
	default:
		return strings.ToLower(string(k))
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
