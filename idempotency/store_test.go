package idempotency

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stacker/stacker/events/eventstest"
)

// stores are the stores every conformance test runs against: memory, and
// the real Redis (skipped when it does not answer, failed in CI).
func stores() map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemory(1000, 1<<20) },
		"redis": func(t *testing.T) Store {
			eventstest.RequireServer(t, "redis", "127.0.0.1:6379")
			client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 12})
			t.Cleanup(func() { client.Close() })
			return NewRedis(client)
		},
	}
}

// key is a fresh key: the Redis database outlives the test.
func key() string { return rand.Text() }

func TestStore(t *testing.T) {
	ctx := context.Background()
	const lease, ttl = time.Minute, time.Hour
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			t.Run("claim, complete, replay", func(t *testing.T) {
				k := key()
				if rec, err := s.Claim(ctx, k, "fp1", lease); err != nil || rec != nil {
					t.Fatalf("first claim = %+v, %v; want it claimed", rec, err)
				}
				rec, err := s.Claim(ctx, k, "fp1", lease)
				if err != nil || rec == nil || rec.Done || rec.Fingerprint != "fp1" {
					t.Fatalf("claim while in progress = %+v, %v", rec, err)
				}
				want := Record{Fingerprint: "fp1", Done: true, Response: []byte(`{"data":{"a":1}}`)}
				if err := s.Complete(ctx, k, want, ttl); err != nil {
					t.Fatal(err)
				}
				rec, err = s.Claim(ctx, k, "fp1", lease)
				if err != nil || rec == nil || !rec.Done || string(rec.Response) != string(want.Response) {
					t.Fatalf("claim after completion = %+v, %v", rec, err)
				}
			})
			t.Run("mismatch returns the first fingerprint", func(t *testing.T) {
				k := key()
				s.Claim(ctx, k, "fp1", lease)
				rec, err := s.Claim(ctx, k, "fp2", lease)
				if err != nil || rec == nil || rec.Fingerprint != "fp1" {
					t.Fatalf("claim with another fingerprint = %+v, %v", rec, err)
				}
			})
			t.Run("release frees the key", func(t *testing.T) {
				k := key()
				s.Claim(ctx, k, "fp1", lease)
				if err := s.Release(ctx, k); err != nil {
					t.Fatal(err)
				}
				if rec, err := s.Claim(ctx, k, "fp2", lease); err != nil || rec != nil {
					t.Fatalf("claim after release = %+v, %v", rec, err)
				}
			})
			t.Run("expiry frees the key", func(t *testing.T) {
				k := key()
				s.Claim(ctx, k, "fp1", lease)
				s.Complete(ctx, k, Record{Fingerprint: "fp1", Done: true, Response: []byte(`{}`)}, 50*time.Millisecond)
				for deadline := time.Now().Add(5 * time.Second); ; {
					rec, err := s.Claim(ctx, k, "fp2", lease)
					if err != nil {
						t.Fatal(err)
					}
					if rec == nil {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("the record outlived its TTL: %+v", rec)
					}
					time.Sleep(10 * time.Millisecond) // Redis expires on its own clock
				}
			})
			t.Run("concurrent claims: one wins", func(t *testing.T) {
				k := key()
				var won atomic.Int32
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						rec, err := s.Claim(ctx, k, "fp1", lease)
						if err != nil {
							t.Error(err)
						}
						if rec == nil {
							won.Add(1)
						}
					})
				}
				wg.Wait()
				if n := won.Load(); n != 1 {
					t.Fatalf("%d claims won, want 1", n)
				}
			})
		})
	}
}

// The memory store keeps its bounds: entries and bytes.
func TestMemoryBounds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name                 string
		maxEntries, maxBytes int
		responseBytes        int
		wantKept             int
	}{
		{name: "entries", maxEntries: 3, maxBytes: 1 << 20, responseBytes: 10, wantKept: 3},
		// An entry is its key (26), fingerprint (2) and response: 128 bytes.
		{name: "bytes", maxEntries: 100, maxBytes: 500, responseBytes: 100, wantKept: 3},
		{name: "larger than the store", maxEntries: 100, maxBytes: 50, responseBytes: 100, wantKept: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(tc.maxEntries, tc.maxBytes)
			keys := make([]string, 10)
			for i := range keys {
				keys[i] = key()
				m.Claim(ctx, keys[i], "fp", time.Minute)
				m.Complete(ctx, keys[i], Record{Fingerprint: "fp", Done: true, Response: make([]byte, tc.responseBytes)}, time.Hour)
			}
			if b := m.Bytes(); b > tc.maxBytes {
				t.Errorf("holds %d bytes, bound %d", b, tc.maxBytes)
			}
			kept := 0
			for _, k := range keys {
				if e, ok := m.lru.Peek(k); ok && e.rec.Done {
					kept++
				}
			}
			if kept != tc.wantKept {
				t.Errorf("kept %d records, want %d", kept, tc.wantKept)
			}
		})
	}
}
