package redis

import (
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/stacker/stacker/events/eventstest"
)

// TestPublisherAppendsToStream: each payload is one entry of the stream
// named by the topic, in field StreamField, in order.
func TestPublisherAppendsToStream(t *testing.T) {
	rawURL := serverURL(t)
	stream := eventstest.Topic(t)
	p, err := OpenPublisher(t.Context(), rawURL, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o, _ := goredis.ParseURL(rawURL)
	raw := goredis.NewClient(o)
	defer raw.Close()
	defer raw.Del(t.Context(), stream)

	want := []string{`{"n":1}`, `{"n":2}`}
	for _, payload := range want {
		if err := p.Publish(t.Context(), []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := raw.XRange(t.Context(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, e := range entries {
		if len(e.Values) != 1 || e.Values[StreamField] != want[i] {
			t.Errorf("entry %d = %v, want %s=%s", i, e.Values, StreamField, want[i])
		}
	}
}

func TestOpenPublisherErrors(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, tc := range []struct{ url, topic string }{
		{fmt.Sprintf("redis://127.0.0.1:%d/0", port), "stacker.audit"},
		{"redis://127.0.0.1:6379/notadb", "stacker.audit"},
		{"redis://127.0.0.1:6379/0", ""},
	} {
		if p, err := OpenPublisher(t.Context(), tc.url, tc.topic); err == nil {
			p.Close()
			t.Errorf("OpenPublisher(%q, %q) succeeded, want an error", tc.url, tc.topic)
		}
	}
}
