package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/auth/authtest"
)

// newVerifier verifies the provider's tokens with the default claims; the
// key source's request-caused fetches are limited to one per minRefresh.
func newVerifier(t *testing.T, p *authtest.Provider, minRefresh time.Duration) (*auth.Verifier, *auth.KeySource) {
	t.Helper()
	return newVerifierWith(t, p, auth.KeyOptions{JWKSURL: p.JWKSURL(), MinRefresh: minRefresh, Refresh: time.Hour}, auth.VerifierOptions{})
}

func newVerifierWith(t *testing.T, p *authtest.Provider, ko auth.KeyOptions, vo auth.VerifierOptions) (*auth.Verifier, *auth.KeySource) {
	t.Helper()
	ko.Issuer = p.Issuer
	ko.FetchTimeout = 5 * time.Second
	ks, err := auth.NewKeySource(ko)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	vo.Keys, vo.Issuer, vo.Audience = ks, p.Issuer, authtest.Audience
	if vo.SubjectClaim == "" {
		vo.SubjectClaim, vo.RolesClaim, vo.ScopesClaim = "sub", "roles", "scope"
	}
	if vo.Leeway == 0 {
		vo.Leeway = 30 * time.Second
	}
	v, err := auth.NewVerifier(vo)
	if err != nil {
		t.Fatal(err)
	}
	return v, ks
}

func with(c map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// Every token that must be refused is, for the reason the client is told.
func TestVerifyRefuses(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	stranger := authtest.RSAKey(t, "k-unknown")
	impostor := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	v, _ := newVerifier(t, p, time.Minute)
	now := time.Now()

	// The classic confusion attack: HS256 "signed" with the public key as
	// the HMAC secret, in the two forms a verifier might hold it.
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs256 := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) }
	}
	header := func(alg string) map[string]any { return map[string]any{"alg": alg, "kid": "k1", "typ": "JWT"} }
	valid := p.Token(t, k, "alice")
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", authtest.Forge(header("none"), p.Claims("alice"), nil), auth.ErrAlgorithm},
		{"alg None, signature kept", authtest.Forge(header("None"), p.Claims("alice"), nil) + parts[2], auth.ErrMalformed},
		{"HS256 with the PEM public key as secret", authtest.Forge(header("HS256"), p.Claims("alice"), hs256(pemKey)), auth.ErrAlgorithm},
		{"HS256 with the DER public key as secret", authtest.Forge(header("HS256"), p.Claims("alice"), hs256(der)), auth.ErrAlgorithm},
		{"expired", k.Sign(t, with(p.Claims("alice"), "exp", now.Add(-time.Hour).Unix())), auth.ErrExpired},
		{"expired beyond the leeway", k.Sign(t, with(p.Claims("alice"), "exp", now.Add(-40*time.Second).Unix())), auth.ErrExpired},
		{"not yet valid", k.Sign(t, with(p.Claims("alice"), "nbf", now.Add(time.Hour).Unix())), auth.ErrNotYetValid},
		{"wrong issuer", k.Sign(t, with(p.Claims("alice"), "iss", "https://evil.example")), auth.ErrIssuer},
		{"no issuer", k.Sign(t, with(p.Claims("alice"), "iss", nil)), auth.ErrIssuer},
		{"wrong audience", k.Sign(t, with(p.Claims("alice"), "aud", "another-api")), auth.ErrAudience},
		{"no audience", k.Sign(t, with(p.Claims("alice"), "aud", nil)), auth.ErrAudience},
		{"no expiry", k.Sign(t, with(p.Claims("alice"), "exp", nil)), auth.ErrClaims},
		{"no subject", k.Sign(t, with(p.Claims("alice"), "sub", nil)), auth.ErrClaims},
		{"subject with a newline", k.Sign(t, with(p.Claims("alice"), "sub", "alice\r\nX-Admin: 1")), auth.ErrClaims},
		{"unknown kid", p.Token(t, stranger, "alice"), auth.ErrUnknownKey},
		{"no kid", authtest.Forge(map[string]any{"alg": "RS256"}, p.Claims("alice"), nil), auth.ErrMalformed},
		{"signed by another key under a known kid", p.Token(t, impostor, "alice"), auth.ErrSignature},
		{"payload swapped after signing", parts[0] + "." + strings.Split(p.Token(t, k, "mallory"), ".")[1] + "." + parts[2], auth.ErrSignature},
		{"malformed base64", parts[0] + ".!!!." + parts[2], auth.ErrMalformed},
		{"malformed base64 padding", parts[0] + "." + parts[1] + "==." + parts[2], auth.ErrMalformed},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"payload not JSON, validly signed", k.SignPayload(t, []byte("{not json")), auth.ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], auth.ErrMalformed},
		{"empty", "", auth.ErrMalformed},
		{"JSON serialization", `{"payload":"x","signatures":[]}`, auth.ErrMalformed},
		{"over 8 KB", k.Sign(t, with(p.Claims("alice"), "pad", strings.Repeat("x", auth.MaxTokenBytes))), auth.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}

	// And after all that, a good token still passes.
	if id, err := v.Verify(context.Background(), valid); err != nil || id.Subject != "alice" {
		t.Fatalf("valid token: %+v, %v", id, err)
	}
}

// The claims configured are read in the shapes identity providers use.
func TestVerifyClaims(t *testing.T) {
	k := authtest.ECKey(t, "ec1")
	p := authtest.NewProvider(t, k)
	tests := []struct {
		name                 string
		subject, roles, scps string
		claims               []any
		want                 auth.Identity
	}{
		{
			name: "defaults: roles array, scope string", claims: []any{"roles", []string{"case-manager", "auditor"}, "scope", "cases:read  patients:read"},
			want: auth.Identity{Subject: "alice", Roles: []string{"case-manager", "auditor"}, Scopes: []string{"cases:read", "patients:read"}},
		},
		{
			name: "Keycloak: realm_access.roles", roles: "realm_access.roles",
			claims: []any{"realm_access", map[string]any{"roles": []string{"doctor"}}},
			want:   auth.Identity{Subject: "alice", Roles: []string{"doctor"}},
		},
		{
			name: "Okta: scp array, custom subject", subject: "uid", scps: "scp",
			claims: []any{"uid", "00u1", "scp", []string{"openid", "cases:read"}},
			want:   auth.Identity{Subject: "00u1", Scopes: []string{"openid", "cases:read"}},
		},
		{
			name: "values that cannot travel in a header are dropped", claims: []any{"roles", []any{"ok", "a,b", "bad\nrole", 7}},
			want: auth.Identity{Subject: "alice", Roles: []string{"ok"}},
		},
		{name: "missing claims are none", want: auth.Identity{Subject: "alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vo := auth.VerifierOptions{SubjectClaim: "sub", RolesClaim: "roles", ScopesClaim: "scope"}
			if tc.subject != "" {
				vo.SubjectClaim = tc.subject
			}
			if tc.roles != "" {
				vo.RolesClaim = tc.roles
			}
			if tc.scps != "" {
				vo.ScopesClaim = tc.scps
			}
			v, _ := newVerifierWith(t, p, auth.KeyOptions{MinRefresh: time.Minute, Refresh: time.Hour}, vo) // discovered
			raw := k.Sign(t, with(p.Claims("alice"), tc.claims...))
			id, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != tc.want.Subject || !slices.Equal(id.Roles, tc.want.Roles) || !slices.Equal(id.Scopes, tc.want.Scopes) {
				t.Errorf("identity = %+v, want %+v", id, tc.want)
			}
			if id.Token.Reveal() != raw {
				t.Error("the identity does not carry its token")
			}
		})
	}
}

// A token never shows through fmt, slog or JSON: only Reveal gives it.
func TestTokenIsRedacted(t *testing.T) {
	id := auth.Identity{Subject: "alice", Token: "eyJ.secret.sig"}
	var logs strings.Builder
	logger := slogText(&logs)
	logger.Info("identity", "id", id, "token", id.Token)
	b, _ := json.Marshal(id)
	for _, s := range []string{
		logs.String(), string(b),
		fmtAll(id), fmtAll(id.Token), fmtAll(&id),
	} {
		if strings.Contains(s, "secret") {
			t.Errorf("token shows: %s", s)
		}
	}
}
