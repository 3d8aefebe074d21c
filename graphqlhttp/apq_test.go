package graphqlhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
)

func sum(q string) string {
	s := sha256.Sum256([]byte(q))
	return hex.EncodeToString(s[:])
}

// 300 registrations of a 1 MB document took the heap from 50 to 346 MB when
// the cache was bounded by count: now it holds at most its bytes.
func TestMemoryAPQCacheIsBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryAPQCache(1 << 20)
	comment := "#" + strings.Repeat("x", 100<<10)
	for i := range 300 {
		q := fmt.Sprintf("{ __typename } %s%d", comment, i)
		c.Add(ctx, sum(q), q)
		if c.Bytes() > 1<<20 {
			t.Fatalf("after %d documents the cache holds %d bytes", i+1, c.Bytes())
		}
	}
	newest := fmt.Sprintf("{ __typename } %s%d", comment, 299)
	if _, ok := c.Get(ctx, sum(newest)); !ok {
		t.Error("the newest document was evicted")
	}
	if _, ok := c.Get(ctx, sum(fmt.Sprintf("{ __typename } %s%d", comment, 0))); ok {
		t.Error("the oldest document was kept")
	}
	big := strings.Repeat(" ", 2<<20)
	c.Add(ctx, sum(big), big)
	if _, ok := c.Get(ctx, sum(big)); ok {
		t.Error("a document larger than the whole cache was stored")
	}
	// Adding the same document again does not count it twice.
	before := c.Bytes()
	c.Add(ctx, sum(newest), newest)
	if c.Bytes() != before {
		t.Errorf("bytes %d -> %d after adding a document already there", before, c.Bytes())
	}
}

func TestAPQErrorsHaveCodes(t *testing.T) {
	a := &APQ{Cache: NewMemoryAPQCache(1 << 20), MaxEntryBytes: 100}
	if err := a.Validate(nil); err != nil {
		t.Fatal(err)
	}
	q := `{ __typename }`
	long := `{ __typename }` + strings.Repeat(" ", 200)
	tests := []struct {
		name     string
		query    string
		ext      any
		wantCode string
		stored   bool
	}{
		{"unknown hash", "", map[string]any{"version": 1, "sha256Hash": sum(q)}, CodePersistedQueryNotFound, false},
		{"not an object", q, "x", CodeBadRequest, false},
		{"version 2", q, map[string]any{"version": 2, "sha256Hash": sum(q)}, CodeBadRequest, false},
		{"malformed hash", q, map[string]any{"version": 1, "sha256Hash": "abc"}, CodeBadRequest, false},
		{"hash mismatch", q, map[string]any{"version": 1, "sha256Hash": sum("{ x }")}, CodeBadRequest, false},
		{"registers", q, map[string]any{"version": 1, "sha256Hash": sum(q)}, "", true},
		{"too large to store, still runs", long, map[string]any{"version": 1, "sha256Hash": sum(long)}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oc := &graphql.OperationContext{}
			ctx := graphql.WithOperationContext(context.Background(), oc)
			p := &graphql.RawParams{Query: tc.query, Extensions: map[string]any{"persistedQuery": tc.ext}}
			err := a.MutateOperationParameters(ctx, p)
			code := ""
			if err != nil {
				code, _ = err.Extensions["code"].(string)
			}
			if code != tc.wantCode {
				t.Fatalf("code %q (%v), want %q", code, err, tc.wantCode)
			}
			if err != nil {
				return
			}
			hash := sum(tc.query)
			if _, ok := a.Cache.Get(ctx, hash); ok {
				t.Fatal("stored before the document validated")
			}
			// Only once the document has validated is it stored.
			a.MutateOperationContext(ctx, oc)
			if _, ok := a.Cache.Get(ctx, hash); ok != tc.stored {
				t.Errorf("stored %v, want %v", ok, tc.stored)
			}
		})
	}
}

// The replicas together write at most the budget per window: a flood of
// registrations is refused past it, and a document already stored does not
// count again.
func TestRedisAPQCacheBudget(t *testing.T) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis is not running on 127.0.0.1:6379: %v", err)
		}
		t.Skip("redis is not running on 127.0.0.1:6379 (./test.sh starts it)")
	}
	conn.Close()
	ctx := context.Background()
	const url = "redis://127.0.0.1:6379/13" // a database of the tests' own
	admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 13})
	defer admin.Close()
	if err := admin.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := NewRedisAPQCache(url, 10<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, _ := NewRedisAPQCache(url, 10<<10, nil) // another replica
	defer other.Close()
	doc := func(i int) string { return fmt.Sprintf("{ __typename } #%d %s", i, strings.Repeat("x", 1000)) }
	for i := range 30 {
		cache := c
		if i%2 == 1 {
			cache = other
		}
		cache.Add(ctx, sum(doc(i)), doc(i))
	}
	stored := 0
	for i := range 30 {
		if _, ok := c.Get(ctx, sum(doc(i))); ok {
			stored++
		}
	}
	// Each entry is its 64-byte hash and about 1,020 bytes of document.
	if stored < 8 || stored > 10 {
		t.Errorf("%d of 30 documents of 1 KB stored under a 10 KB budget", stored)
	}
	used, _ := admin.Get(ctx, "stacker:apq:bytes").Int()
	if used > 10<<10 {
		t.Errorf("budget counter %d over the budget", used)
	}
	if ttl := admin.TTL(ctx, "stacker:apq:bytes").Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("budget window TTL %v", ttl)
	}
	c.Add(ctx, sum(doc(0)), doc(0))
	if again, _ := admin.Get(ctx, "stacker:apq:bytes").Int(); again != used {
		t.Errorf("re-adding a stored document charged the budget: %d -> %d", used, again)
	}
}
