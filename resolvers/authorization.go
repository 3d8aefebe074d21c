package resolvers

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/authz"
)

// Authorization is how the schema's @authenticated and @requiresScopes are
// enforced (package authz holds the rule; this file applies it to gqlgen).
type Authorization struct {
	// Enforce turns the directives on. The gateway sets it whenever
	// authentication is on (required or optional, where a caller without a
	// token has no scopes); with authentication off nobody has an identity
	// and the directives are not enforced, so `go run .` needs no token.
	Enforce bool
	// RejectUnauthorized refuses a whole operation that selects a field
	// the caller may not see, before anything runs, instead of answering
	// that field null with an error.
	RejectUnauthorized bool
}

// unregisteredPolicies lists the policies the schema names that the table
// of policies.go does not hold.
func unregisteredPolicies(p *authz.Policy, rs *relations) []string {
	var out []string
	for _, n := range p.PolicyNames() {
		if _, ok := rs.policies[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// access evaluates the policy for the caller of ctx; nil (everything
// allowed) when the directives are not enforced.
func (r *Resolver) access(ctx context.Context) *authz.Access {
	if !r.authorization.Enforce {
		return nil
	}
	return r.policy.For(auth.FromContext(ctx))
}

// accessOf is the operation's Access, computed once in AroundOperations.
func accessOf(ctx context.Context) *authz.Access {
	if st, ok := ctx.Value(opStateKey{}).(*operationState); ok {
		return st.access
	}
	return nil
}

// AroundFields answers a field the caller may not see with an *authz.Error
// (null, and UNAUTHORIZED_FIELD_OR_TYPE at its path; gqlgen propagates the
// null of a non-null field to its parent) without running its resolver.
// The planner asks the same Access, so such a field is never fetched.
func (r *Resolver) AroundFields(ctx context.Context, next graphql.Resolver) (any, error) {
	a := accessOf(ctx)
	if a == nil {
		return next(ctx)
	}
	fc := graphql.GetFieldContext(ctx)
	if rule, denied := a.Denied(fc.Object, fc.Field.Name); denied {
		return nil, &authz.Error{Coordinate: authz.Coordinate{Type: fc.Object, Field: fc.Field.Name}, Needs: rule}
	}
	if pols := a.Policies(fc.Object, fc.Field.Name); pols != nil {
		if err := r.checkPolicies(ctx, a, fc, pols); err != nil {
			return nil, err
		}
	}
	return next(ctx)
}

// RejectUnauthorized is the handler extension of reject mode: it refuses an
// operation selecting any field the caller may not see, as a request
// error, before execution.
type RejectUnauthorized struct{ r *Resolver }

// RejectUnauthorized returns the reject mode's extension.
func (r *Resolver) RejectUnauthorized() RejectUnauthorized { return RejectUnauthorized{r} }

var (
	_ graphql.HandlerExtension        = RejectUnauthorized{}
	_ graphql.OperationContextMutator = RejectUnauthorized{}
)

func (RejectUnauthorized) ExtensionName() string                   { return "RejectUnauthorized" }
func (RejectUnauthorized) Validate(graphql.ExecutableSchema) error { return nil }

// maxNamed is how many refused fields the error names.
const maxNamed = 5

func (x RejectUnauthorized) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	denied := x.r.access(ctx).DeniedIn(x.r.schema, oc.Operation, oc.Variables)
	if len(denied) == 0 {
		return nil
	}
	names := make([]string, 0, maxNamed)
	for _, c := range denied[:min(len(denied), maxNamed)] {
		names = append(names, c.String())
	}
	more := ""
	if len(denied) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(denied)-maxNamed)
	}
	return &gqlerror.Error{
		Message:    "not authorized to see " + strings.Join(names, ", ") + more + ": the operation was refused",
		Extensions: map[string]any{"code": CodeUnauthorizedFieldOrType},
	}
}
