// Package auth is who is calling: it verifies the bearer token of a request
// (a JWT signed by the identity provider, checked against the provider's
// published keys), turns its claims into an Identity, and carries that
// Identity in the request's context for the rest of the gateway (the
// upstream clients forward it to the services).
//
// What belongs here: the Verifier (signature, algorithm allow-list, issuer,
// audience, lifetime, claim mapping), the KeySource (the provider's JWKS,
// cached, refreshed in the background and on an unknown key id, at a
// bounded rate), the Identity and its context accessors, and the HTTP
// middleware that answers 401 for a missing or bad token. Deciding what an
// identity may see (authorization) does not belong here.
//
// Tokens are secrets: nothing in this package logs one, puts one in an
// error, or prints one through fmt or slog (see Token).
package auth

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// MaxTokenBytes is the largest bearer token looked at; a longer one is
// refused before any parsing, so a hostile header costs nothing but its
// read.
const MaxTokenBytes = 8 << 10

// Why a token was refused. The text of each is what the client is told (in
// the GraphQL error and the WWW-Authenticate header), so it names the
// problem and never echoes the token; Verify wraps them with %w.
var (
	ErrNoToken     = errors.New("no bearer token")
	ErrMalformed   = errors.New("malformed token")
	ErrTooLarge    = errors.New("token larger than 8 KB")
	ErrAlgorithm   = errors.New("token signing algorithm not allowed")
	ErrUnknownKey  = errors.New("token signed with an unknown key")
	ErrSignature   = errors.New("token signature invalid")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
	ErrIssuer      = errors.New("token issued by another issuer")
	ErrAudience    = errors.New("token meant for another audience")
	ErrClaims      = errors.New("token lacks a usable subject or expiry")
	ErrKeysMissing = errors.New("the identity provider's signing keys are not available; try again later")
)

// reasons are the sentinels in the order Reason looks for them: the key
// source's failures first, since the key provider runs before jwx's claim
// checks and may be wrapped inside their errors.
var reasons = []error{
	ErrKeysMissing, ErrTooLarge, ErrNoToken, ErrAlgorithm, ErrUnknownKey, ErrExpired, ErrNotYetValid,
	ErrIssuer, ErrAudience, ErrClaims, ErrSignature, ErrMalformed,
}

// Reason is the sentinel err wraps: what the client may be told. Anything
// else is reported as malformed.
func Reason(err error) error {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return r
		}
	}
	return ErrMalformed
}

// Token is a bearer token as the client sent it. It prints, logs and
// marshals as "[redacted]", so an Identity can be logged or wrapped into
// an error without leaking it; Reveal is for the one place that forwards it.
type Token string

const redacted = "[redacted]"

// Reveal returns the token itself.
func (t Token) Reveal() string { return string(t) }

func (t Token) String() string               { return redacted }
func (t Token) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Format covers every verb, %x and %#v included.
func (t Token) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

var (
	_ slog.LogValuer         = Token("")
	_ fmt.Formatter          = Token("")
	_ encoding.TextMarshaler = Token("")
)

// Identity is a verified caller. Subject is never empty; Roles and Scopes
// hold only values that can travel in a header (see claims.go).
type Identity struct {
	Subject string
	Roles   []string
	Scopes  []string
	// StaffID is the caller's id in the staff service (the staff_id
	// claim, a string or an integer), or "" when the token has none: the
	// subject names the login, this the staff member the data's
	// assignments name (authorization policies compare the two).
	StaffID string
	// Expires is when the token stops being valid.
	Expires time.Time
	// Token is the bearer token the identity was read from, forwarded to
	// services that take it.
	Token Token
}

// ctxKey is unexported so that only this package sets or reads identities.
type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity of the request ctx belongs to; ok is
// false for an anonymous request (authentication off, or optional and no
// token sent).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
