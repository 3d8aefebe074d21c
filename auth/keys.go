package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// maxDocumentBytes bounds what is read of a discovery document or a JWKS: a
// real one is a few KB.
const maxDocumentBytes = 1 << 20

// KeyOptions configures a KeySource. Nothing here has a default of its own:
// the values come from config (STACKER_AUTH_*).
type KeyOptions struct {
	// JWKSURL is where the keys are published. When empty, it is read from
	// Issuer's /.well-known/openid-configuration (its jwks_uri), whose
	// "issuer" must be Issuer.
	JWKSURL string
	Issuer  string
	// Refresh is how often the keys are fetched in the background, so a
	// rotation is picked up before the first token signed with the new key
	// arrives.
	Refresh time.Duration
	// MinRefresh is the least time between two fetches caused by requests
	// (a key id not in the cache, or no keys yet), shared by all requests:
	// a flood of made-up key ids costs the identity provider at most one
	// fetch per MinRefresh.
	MinRefresh time.Duration
	// FetchTimeout bounds one fetch, discovery included.
	FetchTimeout time.Duration
	// Client fetches; it should not retry (a fetch that fails is tried
	// again at the next refresh or unknown key id).
	Client *http.Client
	Logger *slog.Logger
}

// KeySource holds the identity provider's signing keys. The cached keys
// keep working while the provider is down: a failed fetch leaves them as
// they were. It is safe for concurrent use; Close stops its background
// refresh.
type KeySource struct {
	o      KeyOptions
	ctx    context.Context // its lifetime; fetches end with it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	keys     jwk.Set       // nil until the first fetch succeeds
	jwksURI  string        // o.JWKSURL, or discovered
	last     time.Time     // when the last fetch caused by requests started
	inflight chan struct{} // closed when the fetch under way ends; nil when none
}

// NewKeySource returns a key source that fetches its keys now, in the
// background, and then every o.Refresh until Close.
func NewKeySource(o KeyOptions) (*KeySource, error) {
	if o.JWKSURL == "" && o.Issuer == "" {
		return nil, errors.New("auth: keys: neither a JWKS URL nor an issuer to discover it from")
	}
	if o.Refresh <= 0 || o.FetchTimeout <= 0 || o.MinRefresh < 0 {
		return nil, errors.New("auth: keys: Refresh and FetchTimeout must be positive, MinRefresh not negative")
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &KeySource{o: o, ctx: ctx, cancel: cancel, jwksURI: o.JWKSURL}
	s.mu.Lock()
	s.startFetch()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.refresh()
	return s, nil
}

// Close stops the background refresh and waits for a fetch under way.
func (s *KeySource) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *KeySource) refresh() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			if s.inflight == nil {
				s.startFetch()
			}
			s.mu.Unlock()
		}
	}
}

// Key returns the signing key with id kid. A kid not in the cache causes a
// fetch, unless one was made within MinRefresh (then it is ErrUnknownKey at
// once); requests that miss while a fetch is under way wait for that one.
// With no keys at all it is ErrKeysMissing.
func (s *KeySource) Key(ctx context.Context, kid string) (jwk.Key, error) {
	return s.lookup(ctx, func(set jwk.Set) (jwk.Key, bool) { return set.LookupKeyID(kid) })
}

// Ready is nil once keys are loaded. Without any it asks for a fetch as a
// request would (at most one per MinRefresh, shared with requests) and
// waits for it within ctx: a replica that started while the provider was
// down becomes ready soon after the provider is back, not only at the next
// Refresh. Once loaded, the keys stay in use whatever the provider does,
// so Ready stays nil.
func (s *KeySource) Ready(ctx context.Context) error {
	_, err := s.lookup(ctx, func(jwk.Set) (jwk.Key, bool) { return nil, true })
	return err
}

// lookup returns what find finds in the cached keys, fetching once as Key
// describes when it finds nothing.
func (s *KeySource) lookup(ctx context.Context, find func(jwk.Set) (jwk.Key, bool)) (jwk.Key, error) {
	for waited := false; ; waited = true {
		s.mu.Lock()
		if s.keys != nil {
			if k, ok := find(s.keys); ok {
				s.mu.Unlock()
				return k, nil
			}
		}
		ch := s.inflight
		if ch == nil && !waited && time.Since(s.last) >= s.o.MinRefresh {
			s.last = time.Now()
			ch = s.startFetch()
		}
		have := s.keys != nil
		s.mu.Unlock()
		if ch == nil || waited {
			if !have {
				return nil, ErrKeysMissing
			}
			return nil, ErrUnknownKey
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrKeysMissing, ctx.Err())
		}
	}
}

// startFetch starts a fetch and returns the channel closed when it ends;
// s.mu is held.
func (s *KeySource) startFetch() chan struct{} {
	ch := make(chan struct{})
	s.inflight = ch
	uri := s.jwksURI
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.o.FetchTimeout)
		defer cancel()
		set, uri, err := s.fetch(ctx, uri)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.jwksURI = uri
		if err != nil {
			if s.ctx.Err() == nil {
				s.o.Logger.Warn("identity provider keys: fetch failed; the cached keys stay in use",
					"error", err, "cached_keys", s.keys != nil)
			}
		} else {
			s.keys = set
		}
		s.inflight = nil
		close(ch)
	}()
	return ch
}

// fetch reads the JWKS from uri, discovering uri first when it is empty.
func (s *KeySource) fetch(ctx context.Context, uri string) (jwk.Set, string, error) {
	if uri == "" {
		var err error
		if uri, err = s.discover(ctx); err != nil {
			return nil, "", err
		}
	}
	body, err := s.get(ctx, uri)
	if err != nil {
		return nil, uri, err
	}
	// Keys of kinds jwx does not know are skipped rather than failing the
	// whole set; only usable signing keys are kept.
	raw, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, uri, fmt.Errorf("JWKS %s: %w", uri, err)
	}
	set := jwk.NewSet()
	for i := range raw.Len() {
		k, _ := raw.Key(i)
		if !signingKey(k) {
			continue
		}
		if pub, err := k.PublicKey(); err == nil {
			set.AddKey(pub)
		}
	}
	if set.Len() == 0 {
		return nil, uri, fmt.Errorf("JWKS %s: no public signing key with a key id", uri)
	}
	return set, uri, nil
}

// signingKey reports whether k can verify a token here: an asymmetric key
// with a key id, not marked for encryption. A symmetric ("oct") key in a
// JWKS is never used: it would let anyone who read the JWKS sign tokens.
func signingKey(k jwk.Key) bool {
	if kid, ok := k.KeyID(); !ok || kid == "" {
		return false
	}
	if use, ok := k.KeyUsage(); ok && use != "sig" {
		return false
	}
	switch k.KeyType() {
	case jwa.RSA(), jwa.EC(), jwa.OKP():
		return true
	}
	return false
}

// discover reads the issuer's OpenID configuration for its jwks_uri.
func (s *KeySource) discover(ctx context.Context) (string, error) {
	u := strings.TrimRight(s.o.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := s.get(ctx, u)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery %s: %w", u, err)
	}
	// OpenID Connect Discovery 1.0, section 4.3: the document must be the
	// issuer's own.
	if doc.Issuer != s.o.Issuer {
		return "", fmt.Errorf("discovery %s: issuer is %q, not the configured %q", u, doc.Issuer, s.o.Issuer)
	}
	if !strings.HasPrefix(doc.JWKSURI, "https://") && !strings.HasPrefix(doc.JWKSURI, "http://") {
		return "", fmt.Errorf("discovery %s: jwks_uri %q is not an http(s) URL", u, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

func (s *KeySource) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", u, maxDocumentBytes)
	}
	return body, nil
}
