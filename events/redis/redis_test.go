package redis

import (
	"cmp"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serverURL is the shared redis-server the conformance suite uses
// (STACKER_TEST_REDIS_URL, default redis://127.0.0.1:6379/0).
func serverURL(t *testing.T) string {
	t.Helper()
	raw := cmp.Or(os.Getenv("STACKER_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
	o, err := goredis.ParseURL(raw)
	if err != nil {
		t.Fatalf("STACKER_TEST_REDIS_URL: %v", err)
	}
	eventstest.RequireServer(t, "redis-server", o.Addr)
	return raw
}

func openBus(t *testing.T, rawURL string, opts events.Options) *Bus {
	t.Helper()
	b, err := Open(t.Context(), rawURL, eventstest.Logger(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	rawURL := serverURL(t)
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClient(o)
	defer raw.Close()
	eventstest.Run(t, eventstest.Adapter{
		New: func(t *testing.T, opts events.Options) events.Bus { return openBus(t, rawURL, opts) },
		PublishRaw: func(t *testing.T, _ events.Bus, topic string, payload []byte) {
			if err := raw.Publish(t.Context(), topic, payload).Err(); err != nil {
				t.Fatal(err)
			}
		},
		Replicas: true,
	})
}

// TestRestart kills a redis-server of the test's own mid-test and starts it
// again on the same port: go-redis reconnects and resubscribes, nothing
// arrives twice, and events published once it is back arrive in order.
func TestRestart(t *testing.T) {
	bin := eventstest.Binary(t, "redis-server")
	port := eventstest.FreePort(t)
	srv := eventstest.StartProcess(t, port, bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	eventstest.RunRestart(t, eventstest.Restart{
		New: func(t *testing.T, opts events.Options) events.Bus {
			return openBus(t, fmt.Sprintf("redis://%s/0", srv.Addr()), opts)
		},
		Stop:  func(t *testing.T, _ events.Bus) { srv.Kill() },
		Start: func(t *testing.T) { srv.Start() },
		NoGap: false, // pub/sub is at-most-once: events published before the resubscription are lost
	})
}

// TestOneBrokerSubscription: a hundred subscribers on a replica are one
// Redis subscriber.
func TestOneBrokerSubscription(t *testing.T) {
	rawURL := serverURL(t)
	topic := eventstest.Topic(t)
	b := openBus(t, rawURL, events.Options{Topic: topic})
	for range 100 {
		if _, err := b.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := b.client.PubSubNumSub(t.Context(), topic).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n[topic] != 1 {
		t.Errorf("PUBSUB NUMSUB %s = %d, want 1", topic, n[topic])
	}
}

// TestQuietConnectionChecked: a PubSub connection that stays quiet is
// checked with PINGs, and the subscription goes on working.
func TestQuietConnectionChecked(t *testing.T) {
	rawURL := serverURL(t)
	b, err := open(t.Context(), rawURL, eventstest.Logger(t), events.Options{Topic: eventstest.Topic(t)}, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := b.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	eventstest.WaitFor(t, "three health checks", func() bool { return b.pongs.Load() >= 3 })
	if err := b.Publish(t.Context(), eventstest.Event(1, 1)); err != nil {
		t.Fatal(err)
	}
	eventstest.Receive(t, sub, 1)
}

func TestOpenErrors(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, u := range []string{
		fmt.Sprintf("redis://127.0.0.1:%d/0", port),
		"redis://127.0.0.1:6379/notadb",
		"http://127.0.0.1:6379",
	} {
		if b, err := Open(t.Context(), u, nil, events.Options{}); err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
		}
	}
}
