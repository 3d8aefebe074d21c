package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/resolvers"
	"github.com/stacker/stacker/upstream"
)

// jwksFetchTimeout bounds one fetch of the identity provider's keys (or its
// discovery document): the provider answers in milliseconds or is down.
const jwksFetchTimeout = 5 * time.Second

// newAuthentication builds the middleware that guards /graphql from cfg's
// Auth settings, and its key source, which the caller closes (nil with
// authentication off). With authentication off the middleware passes every
// request through as it is; in production that was said explicitly
// (config refuses it otherwise), and is warned about.
func newAuthentication(cfg config.Config, log *slog.Logger) (*auth.Middleware, *auth.KeySource, error) {
	a := cfg.Auth
	if auth.Mode(a.AuthMode) == auth.Off {
		if cfg.Env == "production" {
			log.Warn("STACKER_AUTH=off: this production gateway serves patient data to anyone who can reach it, without a token; " +
				"set STACKER_AUTH_ISSUER and STACKER_AUTH_AUDIENCE instead")
		}
		return &auth.Middleware{Mode: auth.Off}, nil, nil
	}
	alog := log.With("component", "auth")
	keys, err := auth.NewKeySource(auth.KeyOptions{
		JWKSURL: a.JWKSURL, Issuer: a.Issuer,
		Refresh: a.JWKSRefresh, MinRefresh: a.JWKSMinRefresh, FetchTimeout: jwksFetchTimeout,
		Client: &http.Client{}, Logger: alog,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: STACKER_AUTH: %w", err)
	}
	v, err := auth.NewVerifier(auth.VerifierOptions{
		Keys: keys, Issuer: a.Issuer, Audience: a.Audience, Leeway: a.Leeway,
		SubjectClaim: a.SubjectClaim, RolesClaim: a.RolesClaim, ScopesClaim: a.ScopesClaim,
	})
	if err != nil {
		keys.Close()
		return nil, nil, fmt.Errorf("configuration: STACKER_AUTH: %w", err)
	}
	return &auth.Middleware{
		Mode: auth.Mode(a.AuthMode), Verifier: v, RetryAfter: a.JWKSMinRefresh,
		Logger: alog, RequestID: upstream.RequestID,
	}, keys, nil
}

// authorization is how the schema's @authenticated and @requiresScopes are
// enforced: whenever authentication is on (in optional mode a caller
// without a token has no scopes), never with it off, where nobody has an
// identity and `go run .` must work without a token.
func authorization(cfg config.Config) resolvers.Authorization {
	return resolvers.Authorization{
		Enforce:            auth.Mode(cfg.Auth.AuthMode) != auth.Off,
		RejectUnauthorized: cfg.Auth.RejectUnauthorized,
	}
}
