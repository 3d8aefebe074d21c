// Package demoidp is the identity provider of the demo (STACKER_DEMO_AUTH):
// an OpenID provider on loopback that publishes a discovery document and a
// JWKS of one key generated at start, and signs tokens for the console's
// roles. It exists so that `STACKER_DEMO_AUTH=true go run .` exercises real
// authentication (discovery, JWKS, signatures, propagation to the services)
// with nothing to install; it is never meant to face a network.
//
// What belongs here: the provider and the demo's roles with their scopes.
// Tests that need a provider they can rotate or take down use
// auth/authtest instead.
package demoidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/authz"
)

// Audience is the audience of the provider's tokens: Stacker's API.
const Audience = "stacker"

// keyID names the provider's one key.
const keyID = "demo-1"

// Role is a console role: the subject of its demo user and the scopes its
// tokens carry.
type Role struct {
	Name    string
	Subject string
	Scopes  []string
	// StaffID is the demo user's staff member (the staff_id claim): in the
	// seeded data (demo/seed.go) staff 1 is an admin, 2 a case manager and
	// 4 a medical advisor.
	StaffID string
}

// Roles are the console's roles, in the order the banner lists them, with
// the scopes authz gives each (the one role model, checked against the
// schema's @requiresScopes by authz's tests).
func Roles() []Role {
	scopes := authz.Roles()
	staff := map[string]string{"case_manager": "2", "medical_advisor": "4", "admin": "1"}
	var roles []Role
	for _, name := range []string{"case_manager", "medical_advisor", "admin"} {
		roles = append(roles, Role{Name: name, Subject: "demo-" + strings.ReplaceAll(name, "_", "-"), Scopes: scopes[name], StaffID: staff[name]})
	}
	return roles
}

// Provider is the demo identity provider, serving on loopback until Close.
type Provider struct {
	// Issuer is the provider's URL, its tokens' iss.
	Issuer string
	priv   jwk.Key
	set    jwk.Set // the public key
	srv    *http.Server
}

// Start generates a key and serves the provider on addr, which must be a
// loopback address (127.0.0.1:0 picks a free port).
func Start(addr string) (*Provider, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("demoidp: %q is not a loopback address: the demo provider signs tokens for anyone who asks", addr)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demoidp: generating a key: %w", err)
	}
	p := &Provider{set: jwk.NewSet()}
	if p.priv, err = jwk.Import(k); err != nil {
		return nil, fmt.Errorf("demoidp: %w", err)
	}
	pub, err := jwk.Import(&k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("demoidp: %w", err)
	}
	for _, key := range []jwk.Key{p.priv, pub} {
		if err := errors.Join(key.Set(jwk.KeyIDKey, keyID), key.Set(jwk.AlgorithmKey, jwa.ES256()), key.Set(jwk.KeyUsageKey, "sig")); err != nil {
			return nil, fmt.Errorf("demoidp: %w", err)
		}
	}
	if err := p.set.AddKey(pub); err != nil {
		return nil, fmt.Errorf("demoidp: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demoidp: listening on %s: %w", addr, err)
	}
	p.Issuer = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": p.Issuer, "jwks_uri": p.JWKSURL(),
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, p.set) })
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// JWKSURL is where the provider publishes its key.
func (p *Provider) JWKSURL() string { return p.Issuer + "/jwks" }

// Token signs a token for role, valid for ttl from now: the role in
// "roles", its scopes space-separated in "scope", its staff member in
// "staff_id".
func (p *Provider) Token(role Role, ttl time.Duration) (string, error) {
	now := time.Now()
	tok, err := jwt.NewBuilder().
		Issuer(p.Issuer).Audience([]string{Audience}).Subject(role.Subject).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).
		Claim("roles", []string{role.Name}).
		Claim("scope", strings.Join(role.Scopes, " ")).
		Claim(auth.StaffIDClaim, role.StaffID).
		Build()
	if err != nil {
		return "", fmt.Errorf("demoidp: %w", err)
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, keyID); err != nil {
		return "", fmt.Errorf("demoidp: %w", err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), p.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("demoidp: signing: %w", err)
	}
	return string(b), nil
}

// Close stops serving.
func (p *Provider) Close() error { return p.srv.Close() }
