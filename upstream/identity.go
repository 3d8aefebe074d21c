package upstream

import (
	"context"
	"net/http"
	"strings"

	"github.com/stacker/stacker/auth"
)

// Identity is how a service learns who is asking. Every call of an
// operation carries the identity of the operation's caller (auth.FromContext
// of the call's context); an anonymous call carries none. Loaders are per
// operation, so a batch never mixes callers.
type Identity string

const (
	// IdentityToken forwards the caller's bearer token unchanged, in
	// Authorization: the service verifies it itself.
	IdentityToken Identity = "token"
	// IdentityClaims sends what the gateway verified instead: the subject
	// in X-User-Id and the roles, comma-separated, in X-User-Roles. Only for
	// services that trust the gateway's network; the token does not leave
	// the gateway.
	IdentityClaims Identity = "claims"
)

// set writes the caller's identity into the headers of one upstream call.
// The verifier only lets through subjects and roles that are valid header
// values (auth/claims.go).
func (i Identity) set(ctx context.Context, h http.Header) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return
	}
	switch i {
	case IdentityClaims:
		h["X-User-Id"] = []string{id.Subject}
		if len(id.Roles) > 0 {
			h["X-User-Roles"] = []string{strings.Join(id.Roles, ",")}
		}
	default:
		h["Authorization"] = []string{"Bearer " + id.Token.Reveal()}
	}
}
