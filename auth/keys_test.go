package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/internal/testsync"
)

// A thousand made-up key ids at once cost the identity provider one fetch
// (they share it), and more of them within MinRefresh cost none.
func TestUnknownKeyIDsAreRateLimited(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	v, _ := newVerifier(t, p, time.Hour)
	if _, err := v.Verify(context.Background(), p.Token(t, k, "alice")); err != nil {
		t.Fatal(err)
	}
	before := p.JWKSFetches()

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Go(func() {
			raw := authtest.Forge(map[string]any{"alg": "RS256", "kid": fmt.Sprintf("made-up-%d", i)}, p.Claims("mallory"), func([]byte) []byte { return []byte("sig") })
			_, err := v.Verify(context.Background(), raw)
			errs <- err
		})
		if i == 499 {
			wg.Wait() // a second wave, after the first one's fetch
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("Verify = %v, want ErrUnknownKey", err)
		}
	}
	if n := p.JWKSFetches() - before; n > 1 {
		t.Errorf("1,000 unknown key ids caused %d JWKS fetches, want at most 1", n)
	}
	// Known keys are untouched by the flood.
	if _, err := v.Verify(context.Background(), p.Token(t, k, "alice")); err != nil {
		t.Fatal(err)
	}
}

// Rotation: a token signed with a new key is accepted at once (its unknown
// kid causes a fetch), and once the old key is gone from the JWKS, the
// background refresh drops it too.
func TestKeyRotation(t *testing.T) {
	old, next := authtest.RSAKey(t, "2024"), authtest.ECKey(t, "2025")
	p := authtest.NewProvider(t, old)
	v, _ := newVerifierWith(t, p, auth.KeyOptions{JWKSURL: p.JWKSURL(), MinRefresh: 0, Refresh: 5 * time.Millisecond}, auth.VerifierOptions{})
	oldTok := p.Token(t, old, "alice")
	if _, err := v.Verify(context.Background(), oldTok); err != nil {
		t.Fatal(err)
	}

	p.Publish(old, next) // the new key is added
	if _, err := v.Verify(context.Background(), p.Token(t, next, "bob")); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	p.Publish(next) // the old key is removed
	n := p.JWKSFetches()
	testsync.WaitFor(t, "two background refreshes", func() bool { return p.JWKSFetches() >= n+2 })
	if _, err := v.Verify(context.Background(), oldTok); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("token of the removed key: %v, want ErrUnknownKey", err)
	}
}

// While the identity provider is down, the cached keys keep working; keys
// it never gave cannot be had: ErrUnknownKey for a token with a new kid.
func TestProviderDownKeepsCachedKeys(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	var logs testsync.Buffer
	v, _ := newVerifierWith(t, p, auth.KeyOptions{JWKSURL: p.JWKSURL(), MinRefresh: 0, Refresh: 5 * time.Millisecond, Logger: slogText(&logs)}, auth.VerifierOptions{})
	tok := p.Token(t, k, "alice")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	p.SetDown(true)
	n := p.JWKSFetches()
	testsync.WaitFor(t, "refreshes against the provider that is down", func() bool { return p.JWKSFetches() >= n+2 })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("cached key while the provider is down: %v", err)
	}
	if _, err := v.Verify(context.Background(), p.Token(t, authtest.RSAKey(t, "k2"), "alice")); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("new kid while the provider is down: %v", err)
	}
	testsync.WaitFor(t, "a warning", func() bool { return len(logs.String()) > 0 })
}

// With no keys ever fetched, a token cannot be checked: ErrKeysMissing
// (the middleware's 503), until the provider is back.
func TestProviderDownWithoutKeys(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	p.SetDown(true)
	v, _ := newVerifierWith(t, p, auth.KeyOptions{MinRefresh: 0, Refresh: time.Hour}, auth.VerifierOptions{}) // discovery too is down
	tok := p.Token(t, k, "alice")
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, auth.ErrKeysMissing) {
		t.Fatalf("Verify = %v, want ErrKeysMissing", err)
	}
	p.SetDown(false)
	testsync.WaitFor(t, "the keys once the provider is back", func() bool {
		_, err := v.Verify(context.Background(), tok)
		return err == nil
	})
}

// Ready follows whether keys are loaded, not whether the provider is up:
// ErrKeysMissing until a first fetch succeeds (Ready's own fetch, as the
// background refresh here is an hour away), then nil even while the
// provider is down, since the cached keys still verify tokens.
func TestReady(t *testing.T) {
	p := authtest.NewProvider(t, authtest.RSAKey(t, "k1"))
	p.SetDown(true)
	_, ks := newVerifierWith(t, p, auth.KeyOptions{MinRefresh: 0, Refresh: time.Hour}, auth.VerifierOptions{})
	steps := []struct {
		name  string
		down  bool
		ready bool
	}{
		{"provider down from the start", true, false},
		{"provider back", false, true},
		{"provider down again", true, true},
	}
	for _, st := range steps {
		p.SetDown(st.down)
		err := ks.Ready(context.Background())
		if st.ready && err != nil {
			t.Errorf("%s: Ready = %v, want nil", st.name, err)
		}
		if !st.ready && !errors.Is(err, auth.ErrKeysMissing) {
			t.Errorf("%s: Ready = %v, want ErrKeysMissing", st.name, err)
		}
	}
}

// Discovery refuses a configuration document naming another issuer.
func TestDiscoveryChecksTheIssuer(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	ks, err := auth.NewKeySource(auth.KeyOptions{Issuer: p.Issuer + "/", MinRefresh: time.Hour, Refresh: time.Hour, FetchTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := ks.Key(context.Background(), "k1"); !errors.Is(err, auth.ErrKeysMissing) {
		t.Fatalf("Key = %v, want ErrKeysMissing", err)
	}
}
