package gateway

import (
	"context"
	"slices"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/plan"
)

// planAllowed is who may ask for an operation's plan (docs/plan.md): anyone
// outside production, where a plan helps the front end's developers and
// shows nothing the services' own logs do not; in production only a caller
// whose token has plan.Scope, since a plan names the services behind the
// gateway, their routes and their timings.
func planAllowed(cfg config.Config) func(context.Context) bool {
	if cfg.Env != "production" {
		return func(context.Context) bool { return true }
	}
	return func(ctx context.Context) bool {
		id, ok := auth.FromContext(ctx)
		return ok && slices.Contains(id.Scopes, plan.Scope)
	}
}
