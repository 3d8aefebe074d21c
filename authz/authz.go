// Package authz is what a caller may see: the schema's @authenticated and
// @requiresScopes directives, read once into a Policy, and evaluated once
// per operation against the caller's identity into an Access, which every
// part of the gateway that must not show or fetch a field asks (the field
// middleware that answers UNAUTHORIZED_FIELD_OR_TYPE, the prefetch planner,
// the reject mode). The rule lives here and nowhere else.
//
// The directives mean what they mean in Apollo Router and Cosmo:
//
//   - @authenticated: the caller must have an identity (a verified token);
//   - @requiresScopes(scopes: [[String!]!]!): the caller must hold every
//     scope of at least one inner list (the outer list is OR, the inner
//     AND). It implies @authenticated: an anonymous caller has no scopes.
//   - @policy(policies: [[String!]!]!): named rules on the data itself, Go
//     functions that see the caller and the entity (outer list OR, inner
//     AND). Scopes are decided once per operation; a policy once per
//     entity, by whoever registers the functions (package resolvers), with
//     Access.Policies saying which fields carry which.
//
// On a field definition they guard that field. On a type (object,
// interface, scalar or enum) they guard every field that returns the type
// (at any depth of lists) and every field of the type, so a directive on
// Query guards every entry point. An object's field also carries the
// directives of the same field on the interfaces the object implements.
// All the directives that reach a field must hold.
//
// Authentication off (STACKER_AUTH=off, the development default) means no
// Access: nothing is enforced. Deciding who a caller is belongs to package
// auth; this package only reads the Identity it leaves in the context.
package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/auth"
)

// The directives' names, as the schema spells them.
const (
	DirAuthenticated  = "authenticated"
	DirRequiresScopes = "requiresScopes"
	DirPolicy         = "policy"
)

// Coordinate is a field of a type: Patient.email.
type Coordinate struct{ Type, Field string }

func (c Coordinate) String() string { return c.Type + "." + c.Field }

// Rule is what a field needs. The zero Rule needs nothing.
type Rule struct {
	// Authenticated: the caller must have an identity.
	Authenticated bool
	// Scopes are the @requiresScopes that reach the field, each an OR of
	// ANDs; every one must hold.
	Scopes [][][]string
	// Policies are the @policy that reach the field, each an OR of ANDs of
	// policy names; every one must hold, for the entity the field is on.
	Policies [][][]string
}

// empty reports whether r needs nothing.
func (r Rule) empty() bool { return !r.Authenticated && len(r.Scopes) == 0 && len(r.Policies) == 0 }

func (r *Rule) add(list ast.DirectiveList) error {
	for _, d := range list {
		switch d.Name {
		case DirAuthenticated:
			r.Authenticated = true
		case DirRequiresScopes:
			arg := d.Arguments.ForName("scopes")
			if arg == nil || arg.Value == nil {
				return fmt.Errorf("@%s without scopes", DirRequiresScopes)
			}
			v, err := arg.Value.Value(nil)
			if err != nil {
				return fmt.Errorf("@%s: %w", DirRequiresScopes, err)
			}
			anyOf, err := scopeLists(v)
			if err != nil {
				return err
			}
			r.Authenticated = true
			r.Scopes = append(r.Scopes, anyOf)
		case DirPolicy:
			arg := d.Arguments.ForName("policies")
			if arg == nil || arg.Value == nil {
				return fmt.Errorf("@%s without policies", DirPolicy)
			}
			v, err := arg.Value.Value(nil)
			if err != nil {
				return fmt.Errorf("@%s: %w", DirPolicy, err)
			}
			anyOf, err := nameLists(DirPolicy, v)
			if err != nil {
				return err
			}
			r.Policies = append(r.Policies, anyOf)
		}
	}
	return nil
}

// scopeLists reads the scopes argument: a list of lists of strings. GraphQL
// coerces a single value into a list, so "a" and ["a"] mean [["a"]].
func scopeLists(v any) ([][]string, error) { return nameLists(DirRequiresScopes, v) }

// nameLists reads a list of lists of names, the argument of directive dir.
func nameLists(dir string, v any) ([][]string, error) {
	outer, ok := v.([]any)
	if !ok {
		outer = []any{v}
	}
	var out [][]string
	for _, o := range outer {
		inner, ok := o.([]any)
		if !ok {
			inner = []any{o}
		}
		var all []string
		for _, s := range inner {
			str, ok := s.(string)
			if !ok || str == "" {
				return nil, fmt.Errorf("@%s: a name must be a non-empty string, got %v", dir, s)
			}
			all = append(all, str)
		}
		out = append(out, all)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("@%s: an empty list", dir)
	}
	return out, nil
}

// Allows reports whether a caller (authenticated or not, holding scopes)
// meets r's @authenticated and @requiresScopes (not its policies, which
// depend on the entity: see AllowsPolicies).
func (r Rule) Allows(authenticated bool, has func(string) bool) bool {
	if r.Authenticated && !authenticated {
		return false
	}
	ok, _ := holds(r.Scopes, func(s string) (bool, error) { return has(s), nil })
	return ok
}

// AllowsPolicies reports whether every @policy of policies holds: for each,
// allows (the named policy's verdict for one entity) is true for every name
// of at least one inner list. It stops at the first error.
func AllowsPolicies(policies [][][]string, allows func(name string) (bool, error)) (bool, error) {
	return holds(policies, allows)
}

// holds evaluates an AND of ORs of ANDs of names.
func holds(lists [][][]string, has func(string) (bool, error)) (bool, error) {
	for _, anyOf := range lists {
		one := false
		for _, all := range anyOf {
			ok := true
			for _, s := range all {
				v, err := has(s)
				if err != nil {
					return false, err
				}
				if !v {
					ok = false
					break
				}
			}
			if ok {
				one = true
				break
			}
		}
		if !one {
			return false, nil
		}
	}
	return true, nil
}

// String says what r needs, for error messages: `the scope cases:read`,
// `the scopes a and b, or c`.
func (r Rule) String() string {
	if len(r.Scopes) == 0 && len(r.Policies) > 0 {
		return policyString(r.Policies)
	}
	if len(r.Scopes) == 0 {
		if r.Authenticated {
			return "an authenticated caller"
		}
		return "nothing"
	}
	return needs("scope", "scopes", r.Scopes)
}

// policyString says what policies need: `the policy a`, `the policies a
// and b, or c`.
func policyString(policies [][][]string) string { return needs("policy", "policies", policies) }

// needs phrases every list (all must hold) of alternatives (one must hold)
// of names (all must hold): `the scope a`, `the scopes a and b, or c`.
func needs(one, many string, lists [][][]string) string {
	var parts []string
	n := 0
	for _, anyOf := range lists {
		var alts []string
		for _, all := range anyOf {
			n += len(all)
			alts = append(alts, strings.Join(all, " and "))
		}
		parts = append(parts, strings.Join(alts, ", or "))
	}
	if n == 1 {
		return "the " + one + " " + parts[0]
	}
	return "the " + many + " " + strings.Join(parts, "; and ")
}

// Policy is every guarded field of a schema with its Rule. It is built once
// from the schema and never changes; fields it does not hold need nothing.
type Policy struct {
	rules map[Coordinate]Rule
}

// NewPolicy reads the directives of s. A malformed @requiresScopes is an
// error, so a typo in the schema stops the gateway rather than opening a
// field.
func NewPolicy(s *ast.Schema) (*Policy, error) {
	p := &Policy{rules: map[Coordinate]Rule{}}
	for _, t := range s.Types {
		if (t.Kind != ast.Object && t.Kind != ast.Interface) || strings.HasPrefix(t.Name, "__") {
			continue
		}
		for _, f := range t.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			var r Rule
			lists := []ast.DirectiveList{t.Directives, f.Directives}
			if rt := s.Types[f.Type.Name()]; rt != nil {
				lists = append(lists, rt.Directives)
			}
			for _, iname := range t.Interfaces {
				if it := s.Types[iname]; it != nil {
					lists = append(lists, it.Directives)
					if itf := it.Fields.ForName(f.Name); itf != nil {
						lists = append(lists, itf.Directives)
					}
				}
			}
			for _, l := range lists {
				if err := r.add(l); err != nil {
					return nil, fmt.Errorf("%s.%s: %w", t.Name, f.Name, err)
				}
			}
			if !r.empty() {
				p.rules[Coordinate{t.Name, f.Name}] = r
			}
		}
	}
	return p, nil
}

// Rule returns what the field needs; ok is false when it needs nothing.
func (p *Policy) Rule(c Coordinate) (Rule, bool) {
	r, ok := p.rules[c]
	return r, ok
}

// Coordinates lists the guarded fields, sorted.
func (p *Policy) Coordinates() []Coordinate {
	out := make([]Coordinate, 0, len(p.rules))
	for c := range p.rules {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Coordinate) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// PolicyNames lists every policy name the schema's @policy directives
// use, sorted and each once: each must be registered (see package
// resolvers' policy table).
func (p *Policy) PolicyNames() []string {
	var out []string
	for _, r := range p.rules {
		for _, anyOf := range r.Policies {
			for _, all := range anyOf {
				out = append(out, all...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Access is one operation's answer to "may this caller see that field": the
// policy evaluated once, for every guarded field, against the caller. A nil
// *Access allows everything (authentication off).
type Access struct {
	denied map[Coordinate]Rule
	// policies are the @policy of the fields the caller's scopes allow,
	// decided per entity.
	policies map[Coordinate][][][]string
	caller   auth.Identity
	authed   bool
}

// For evaluates p for the caller: id and ok as auth.FromContext returns
// them (ok false: anonymous, no scopes).
func (p *Policy) For(id auth.Identity, ok bool) *Access {
	has := func(s string) bool { return ok && slices.Contains(id.Scopes, s) }
	a := &Access{caller: id, authed: ok}
	for c, r := range p.rules {
		if !r.Allows(ok, has) {
			if a.denied == nil {
				a.denied = map[Coordinate]Rule{}
			}
			a.denied[c] = r
			continue
		}
		if len(r.Policies) > 0 {
			if a.policies == nil {
				a.policies = map[Coordinate][][][]string{}
			}
			a.policies[c] = r.Policies
		}
	}
	return a
}

// Policies returns the @policy lists the field's entity must meet for this
// caller, or nil: none, or the field is denied already (see Denied), or
// nothing is enforced.
func (a *Access) Policies(typeName, field string) [][][]string {
	if a == nil {
		return nil
	}
	return a.policies[Coordinate{typeName, field}]
}

// Caller is the identity the access was computed for; ok is false for an
// anonymous caller.
func (a *Access) Caller() (auth.Identity, bool) {
	if a == nil {
		return auth.Identity{}, false
	}
	return a.caller, a.authed
}

// Denied reports whether the caller may not see the field, and what it
// would need.
func (a *Access) Denied(typeName, field string) (Rule, bool) {
	if a == nil || a.denied == nil {
		return Rule{}, false
	}
	r, ok := a.denied[Coordinate{typeName, field}]
	return r, ok
}

// Error is a field the caller may not see. Its text names the field and
// what it needs; it is safe to show (the scopes and policy names are in the
// public schema). For a policy it is the same whether the value exists or
// not: the policy is decided before the field is resolved.
type Error struct {
	Coordinate Coordinate
	Needs      Rule
}

func (e *Error) Error() string {
	return fmt.Sprintf("not authorized to see %s: it needs %s", e.Coordinate, e.Needs)
}
