// Package authtest is an identity provider for tests: an httptest server
// publishing an OpenID configuration and a JWKS of keys generated in the
// test, counting the JWKS fetches, able to rotate its keys and to go down,
// and the tokens it signs. It never touches the network beyond loopback.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Audience is the audience the provider's tokens are for by default.
const Audience = "stacker-api"

// Key is a signing key with its key id and algorithm.
type Key struct {
	KID    string
	Alg    jwa.SignatureAlgorithm
	Public any // *rsa.PublicKey or *ecdsa.PublicKey
	priv   jwk.Key
	pub    jwk.Key
}

// RSAKey generates an RS256 key.
func RSAKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return newKey(t, kid, jwa.RS256(), k, &k.PublicKey)
}

// ECKey generates an ES256 key.
func ECKey(t testing.TB, kid string) *Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newKey(t, kid, jwa.ES256(), k, &k.PublicKey)
}

func newKey(t testing.TB, kid string, alg jwa.SignatureAlgorithm, priv, pub any) *Key {
	t.Helper()
	pk, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubk, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []jwk.Key{pk, pubk} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.KeyUsageKey, "sig"); err != nil {
			t.Fatal(err)
		}
	}
	return &Key{KID: kid, Alg: alg, Public: pub, priv: pk, pub: pubk}
}

// Provider is an identity provider on an httptest server.
type Provider struct {
	Issuer string // the server's URL
	srv    *httptest.Server

	mu   sync.Mutex
	keys []*Key
	down bool

	jwksFetches atomic.Int64
}

// NewProvider starts a provider publishing keys; it stops at the test's
// end.
func NewProvider(t testing.TB, keys ...*Key) *Provider {
	t.Helper()
	p := &Provider{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if p.isDown(w) {
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": p.Issuer, "jwks_uri": p.Issuer + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		if p.isDown(w) {
			return
		}
		set := jwk.NewSet()
		p.mu.Lock()
		for _, k := range p.keys {
			set.AddKey(k.pub)
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(mux)
	p.Issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

func (p *Provider) isDown(w http.ResponseWriter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return p.down
}

// JWKSURL is where the keys are published.
func (p *Provider) JWKSURL() string { return p.Issuer + "/jwks" }

// JWKSFetches counts the requests for the JWKS so far.
func (p *Provider) JWKSFetches() int64 { return p.jwksFetches.Load() }

// Publish replaces the published keys (a rotation).
func (p *Provider) Publish(keys ...*Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

// SetDown makes the provider answer 503 to everything, or recover.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Claims are the claims of a token the provider would issue to subject,
// valid for an hour; change or delete entries before signing.
func (p *Provider) Claims(subject string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.Issuer, "aud": Audience, "sub": subject,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Token is a valid token for subject signed with k.
func (p *Provider) Token(t testing.TB, k *Key, subject string) string {
	t.Helper()
	return k.Sign(t, p.Claims(subject))
}

// Sign signs claims with k, naming k's kid in the header.
func (k *Key) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for name, v := range claims {
		if err := tok.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, k.KID); err != nil {
		t.Fatal(err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(k.Alg, k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Forge builds a compact token from any header and claims, with sign
// computing the signature over "header.payload" (nil: an empty
// signature). It is for tokens no honest signer makes.
func Forge(header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// SignPayload signs any bytes as the payload of a compact JWS with k (a
// valid signature over a payload that need not be JSON).
func (k *Key) SignPayload(t testing.TB, payload []byte) string {
	t.Helper()
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, k.KID); err != nil {
		t.Fatal(err)
	}
	b, err := jws.Sign(payload, jws.WithKey(k.Alg, k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
