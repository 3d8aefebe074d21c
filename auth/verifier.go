package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Algorithms are the only signing algorithms accepted: asymmetric ones,
// whose verifying key is public. "none" is never accepted, nor HMAC: with
// HS256 the verifying key is the signing key, so a verifier that took the
// algorithm from the token would accept a token "signed" with the public
// key as the HMAC secret.
func Algorithms() []jwa.SignatureAlgorithm {
	return []jwa.SignatureAlgorithm{
		jwa.RS256(), jwa.RS384(), jwa.RS512(),
		jwa.PS256(), jwa.PS384(), jwa.PS512(),
		jwa.ES256(), jwa.ES384(), jwa.ES512(),
		jwa.EdDSA(),
	}
}

// Keys finds a signing key by its key id; *KeySource is one.
type Keys interface {
	Key(ctx context.Context, kid string) (jwk.Key, error)
}

var _ Keys = (*KeySource)(nil)

// VerifierOptions configures a Verifier. Nothing here has a default of its
// own: the values come from config (STACKER_AUTH_*).
type VerifierOptions struct {
	Keys Keys
	// Issuer and Audience must match the token's iss and (one of) its aud.
	Issuer   string
	Audience string
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway time.Duration
	// SubjectClaim, RolesClaim and ScopesClaim name the claims the
	// identity is read from; a dotted path reaches into objects
	// (realm_access.roles). See claims.go for the shapes accepted.
	SubjectClaim string
	RolesClaim   string
	ScopesClaim  string
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	o     VerifierOptions
	algs  []jwa.SignatureAlgorithm
	paths [3][]string // subject, roles, scopes
}

// NewVerifier returns a verifier; an issuer, an audience and keys are
// required, so that a token minted for another API is never accepted.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Keys == nil || o.Issuer == "" || o.Audience == "" || o.SubjectClaim == "" {
		return nil, errors.New("auth: verifier: keys, issuer, audience and subject claim are required")
	}
	v := &Verifier{o: o, algs: Algorithms()}
	for i, c := range []string{o.SubjectClaim, o.RolesClaim, o.ScopesClaim} {
		if c != "" {
			v.paths[i] = strings.Split(c, ".")
		}
	}
	return v, nil
}

// Verify checks raw (the token of an Authorization: Bearer header) and
// returns the identity it proves. The error wraps one of the package's
// sentinels (see Reason) and never contains the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if len(raw) > MaxTokenBytes {
		return Identity{}, ErrTooLarge
	}
	if !compactJWS(raw) {
		return Identity{}, ErrMalformed
	}
	// The key comes from the provider's keys by the token's kid, and the
	// algorithm must be on the allow-list and, when the key names one,
	// the key's own: the token never chooses how it is checked.
	kp := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		alg, ok := h.Algorithm()
		if !ok || !slices.Contains(v.algs, alg) {
			return ErrAlgorithm
		}
		kid, ok := h.KeyID()
		if !ok || kid == "" || len(kid) > 256 {
			return fmt.Errorf("%w: no usable key id (kid)", ErrMalformed)
		}
		key, err := v.o.Keys.Key(ctx, kid)
		if err != nil {
			return err
		}
		if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
			return fmt.Errorf("%w: the key is for %s", ErrAlgorithm, ka)
		}
		sink.Key(alg, key)
		return nil
	})
	tok, err := jwt.ParseString(raw,
		jwt.WithKeyProvider(kp),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.o.Issuer),
		jwt.WithAudience(v.o.Audience),
		jwt.WithAcceptableSkew(v.o.Leeway),
		jwt.WithRequiredClaim("exp"),
	)
	if err != nil {
		return Identity{}, classify(err)
	}
	return v.identity(tok, raw)
}

// classify maps jwx's errors to the package's sentinels and returns only
// the sentinel: jwx's messages may quote parts of the token.
func classify(err error) error {
	for _, r := range []error{ErrKeysMissing, ErrAlgorithm, ErrUnknownKey, ErrMalformed} {
		if errors.Is(err, r) {
			return r
		}
	}
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return ErrExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return ErrNotYetValid
	case errors.Is(err, jwt.InvalidIssuerError()):
		return ErrIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return ErrAudience
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return ErrClaims
	case errors.Is(err, jws.VerificationError()):
		return ErrSignature
	}
	return ErrMalformed
}

// compactJWS reports whether raw has the shape of a signed JWT in compact
// form: three base64url segments. Anything else (a JWE, the JSON
// serialization, stray characters) is malformed here, before jwx sees it.
func compactJWS(raw string) bool {
	if strings.Count(raw, ".") != 2 {
		return false
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
