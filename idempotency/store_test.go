package idempotency

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// stores are the stores every conformance test runs against: memory, and
// the real Redis when it answers.
func stores(t *testing.T) map[string]Store {
	t.Helper()
	out := map[string]Store{"memory": NewMemory(1000, 1<<20)}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis is not running on 127.0.0.1:6379: %v", err)
		}
		t.Logf("redis is not running on 127.0.0.1:6379 (./test.sh starts it): memory only")
		return out
	}
	conn.Close()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 12})
	t.Cleanup(func() { client.Close() })
	out["redis"] = NewRedis(client)
	return out
}

// key is a fresh key: the Redis database outlives the test.
func key() string { return rand.Text() }

func TestStore(t *testing.T) {
	ctx := context.Background()
	const lease, ttl = time.Minute, time.Hour
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
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
