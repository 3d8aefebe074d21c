package resolvers

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
)

// policy is a named rule of the schema's @policy directive: a Go function
// that sees the caller and the entity the guarded field is on (its parent
// object: the *model.Patient of Patient.email, the *model.Case of
// Case.documents) and says whether the caller may see the field's value.
//
// What a policy loads it must declare in needs, as relations of the
// entity's type: the planner prefetches them for every entity of a level
// at once (one batched call per relation, as for a relation the client
// selected), so the policy's own Load finds its key claimed and evaluating
// it over fifty cases adds no call per case.
type policy struct {
	needs  []*decl
	allows func(ctx context.Context, c caller, entity any) (bool, error)
	// byCaller, when set, is the verdict when the caller alone decides it
	// (decided true): a role, or no staff id to compare. The planner then
	// fetches nothing for the policy (nor for the alternatives of one that
	// holds), so an admin's case board costs no more calls.
	byCaller func(c caller) (allowed, decided bool)
}

// caller is who a policy decides for; ok is false for an anonymous caller.
type caller struct {
	auth.Identity
	ok bool
}

func (c caller) hasRole(role string) bool { return c.ok && slices.Contains(c.Roles, role) }

// errNoLoaders: a policy that loads ran outside an operation.
var errNoLoaders = errors.New("resolvers: no loaders in context for a policy")

// newPolicies is the one table of the policies the schema may name. A name
// in the schema that is not here, or a name here the schema does not use,
// fails TestPoliciesRegistered (and the first stops the gateway: see New).
func newPolicies(rs *relations) map[string]policy {
	return map[string]policy{
		// The caller is the staff member (auth.Identity.StaffID, the
		// staff_id claim) assigned to one of the patient's cases.
		"assignedToCaller": {
			needs: []*decl{&rs.patientCases.decl},
			byCaller: func(c caller) (bool, bool) {
				if !c.ok || c.StaffID == "" {
					return false, true
				}
				_, err := strconv.Atoi(c.StaffID)
				return false, err != nil
			},
			allows: func(ctx context.Context, c caller, entity any) (bool, error) {
				p, ok := entity.(*model.Patient)
				if !ok || !c.ok || c.StaffID == "" {
					return false, nil
				}
				staff, err := strconv.Atoi(c.StaffID)
				if err != nil {
					return false, nil
				}
				l, ok := loaders.FromContext(ctx)
				if !ok {
					return false, errNoLoaders
				}
				cs, err := rs.patientCases.load(ctx, l, p)
				if err != nil {
					return false, err
				}
				return slices.ContainsFunc(cs, func(cs *model.Case) bool {
					return cs != nil && cs.AssigneeID != nil && *cs.AssigneeID == staff
				}), nil
			},
		},
		// The case is not closed: the entity itself, or the case a
		// document.uploaded event is about (loaded as it is now, so a case
		// closed since the upload counts as closed; a case that is gone is
		// not open).
		"caseOpen": {
			needs: []*decl{&rs.documentUploadedEventCase.decl},
			allows: func(ctx context.Context, _ caller, entity any) (bool, error) {
				var cs *model.Case
				switch e := entity.(type) {
				case *model.Case:
					cs = e
				case *model.DocumentUploadedEvent:
					l, ok := loaders.FromContext(ctx)
					if !ok {
						return false, errNoLoaders
					}
					var err error
					if cs, err = rs.documentUploadedEventCase.load(ctx, l, e); err != nil {
						return false, err
					}
				}
				return cs != nil && cs.Status != model.CaseStatusClosed, nil
			},
		},
		// The caller has the role admin (the roles claim).
		"admin": {
			allows:   func(_ context.Context, c caller, _ any) (bool, error) { return c.hasRole("admin"), nil },
			byCaller: func(c caller) (bool, bool) { return c.hasRole("admin"), true },
		},
		// The caller has the role medical_advisor.
		"medicalAdvisor": {
			allows:   func(_ context.Context, c caller, _ any) (bool, error) { return c.hasRole("medical_advisor"), nil },
			byCaller: func(c caller) (bool, bool) { return c.hasRole("medical_advisor"), true },
		},
	}
}

// checkPolicies checks the @policy of the field of fc (pols, from the
// operation's Access) for its parent entity: nil when they hold, an
// *authz.Error when not. The verdict comes before the field's value is
// resolved, so the error is the same whether the value exists or not.
func (r *Resolver) checkPolicies(ctx context.Context, a *authz.Access, fc *graphql.FieldContext, pols [][][]string) error {
	allowed, err := r.policiesAllow(ctx, a, parentEntity(fc), pols)
	if err != nil {
		return err
	}
	if !allowed {
		return &authz.Error{Coordinate: authz.Coordinate{Type: fc.Object, Field: fc.Field.Name}, Needs: authz.Rule{Policies: pols}}
	}
	return nil
}

// policiesAllow decides pols for the caller of a and entity.
func (r *Resolver) policiesAllow(ctx context.Context, a *authz.Access, entity any, pols [][][]string) (bool, error) {
	id, ok := a.Caller()
	c := caller{Identity: id, ok: ok}
	// First what the caller alone decides (a role), taking every other
	// policy as refused: when that already allows, nothing is loaded. The
	// planner prefetched nothing for such a caller (see needs), so asking
	// the data first would fetch it one entity at a time.
	byCaller := func(name string) (bool, error) {
		if p, ok := r.rels.policies[name]; ok && p.byCaller != nil {
			allowed, decided := p.byCaller(c)
			return allowed && decided, nil
		}
		return false, nil
	}
	if ok, _ := authz.AllowsPolicies(pols, byCaller); ok {
		return true, nil
	}
	return authz.AllowsPolicies(pols, func(name string) (bool, error) {
		p, ok := r.rels.policies[name]
		if !ok {
			return false, nil // unreachable: New refuses such a schema
		}
		if p.byCaller != nil {
			if allowed, decided := p.byCaller(c); decided {
				return allowed, nil
			}
		}
		return p.allows(ctx, c, entity)
	})
}

// parentEntity is the object the field of fc is on: its parent field's
// result, which gqlgen keeps as a pointer to the element for a list's items.
func parentEntity(fc *graphql.FieldContext) any {
	if fc == nil || fc.Parent == nil || fc.Parent.Result == nil {
		return nil
	}
	v := fc.Parent.Result
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Pointer {
		return rv.Elem().Interface()
	}
	return v
}

// prefetchPolicyNeeds claims, for all of vs at once, the relations that the
// policies of the fields selected on o need, except those the walk
// prefetched already (done) and those of policies the caller alone decides
// (see policy.byCaller).
func prefetchPolicyNeeds[T any](p *planner, ctx context.Context, o *object[T], vs []T, fields []string, done map[*decl]bool) {
	if p.access == nil || p.rels.policies == nil {
		return
	}
	id, ok := p.access.Caller()
	c := caller{Identity: id, ok: ok}
	for _, field := range fields {
		for _, anyOf := range p.access.Policies(o.name, field) {
			for _, d := range p.rels.needs(c, anyOf) {
				if done[d] {
					continue
				}
				done[d] = true
				if r := o.edge(d); r != nil {
					r.prefetch(p, ctx, vs, nil, nil)
				}
			}
		}
	}
}

// permitted is the values of vs whose field the caller may see, when the
// field's policies are decided without loading anything for o (a case's
// status decides caseOpen on Case.documents): the planner then fetches the
// field for those alone, as the resolvers deny it, unfetched, for the rest.
// When deciding needs a load, or on any error, it is all of vs: the
// resolvers decide then.
func permitted[T any](p *planner, ctx context.Context, o *object[T], vs []T, field string) []T {
	if p.access == nil || p.rels.policies == nil {
		return vs
	}
	pols := p.access.Policies(o.name, field)
	if len(pols) == 0 {
		return vs
	}
	id, ok := p.access.Caller()
	c := caller{Identity: id, ok: ok}
	for _, anyOf := range pols {
		for _, d := range p.rels.needs(c, anyOf) {
			if o.edge(d) != nil {
				return vs
			}
		}
	}
	out := vs[:0:0]
	for _, v := range vs {
		ok, err := authz.AllowsPolicies(pols, func(name string) (bool, error) {
			return p.rels.policies[name].allows(ctx, c, v)
		})
		if err != nil {
			return vs
		}
		if ok {
			out = append(out, v)
		}
	}
	return out
}

// needs is what deciding anyOf (an OR of ANDs of policy names) for c
// loads: nothing when an alternative holds by the caller alone; else the
// needs of the undecided policies of the alternatives not refused by the
// caller alone.
func (rs *relations) needs(c caller, anyOf [][]string) []*decl {
	var out []*decl
	for _, all := range anyOf {
		var mine []*decl
		holds, refused := true, false
		for _, name := range all {
			pol := rs.policies[name]
			if pol.byCaller != nil {
				if ok, decided := pol.byCaller(c); decided {
					refused = refused || !ok
					continue
				}
			}
			holds = false
			mine = append(mine, pol.needs...)
		}
		if refused {
			continue
		}
		if holds {
			return nil
		}
		out = append(out, mine...)
	}
	return out
}
