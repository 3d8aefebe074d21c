package nats

import (
	"cmp"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serverURL is the shared nats-server the conformance suite uses
// (STACKER_TEST_NATS_URL, default nats://127.0.0.1:4222).
func serverURL(t *testing.T) string {
	t.Helper()
	raw := cmp.Or(os.Getenv("STACKER_TEST_NATS_URL"), "nats://127.0.0.1:4222")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("STACKER_TEST_NATS_URL: %v", err)
	}
	eventstest.RequireServer(t, "nats-server", u.Host)
	return raw
}

func open(t *testing.T, servers string, opts events.Options) *Bus {
	t.Helper()
	b, err := Open(t.Context(), servers, eventstest.Logger(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	servers := serverURL(t)
	raw, err := natsgo.Connect(servers)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	eventstest.Run(t, eventstest.Adapter{
		New: func(t *testing.T, opts events.Options) events.Bus { return open(t, servers, opts) },
		PublishRaw: func(t *testing.T, _ events.Bus, topic string, payload []byte) {
			if err := raw.Publish(topic, payload); err != nil {
				t.Fatal(err)
			}
			if err := raw.Flush(); err != nil {
				t.Fatal(err)
			}
		},
		Replicas: true,
	})
}

// TestRestart kills a nats-server of the test's own mid-test and starts it
// again on the same port: the subscription recovers, nothing arrives twice,
// and what this replica published while disconnected is delivered.
func TestRestart(t *testing.T) {
	bin := eventstest.Binary(t, "nats-server")
	port := eventstest.FreePort(t)
	srv := eventstest.StartProcess(t, port, bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	eventstest.RunRestart(t, eventstest.Restart{
		New: func(t *testing.T, opts events.Options) events.Bus {
			return open(t, "nats://"+srv.Addr(), opts)
		},
		Stop: func(t *testing.T, bus events.Bus) {
			srv.Kill()
			// Wait until nats.go has noticed, so the next Publish is one made
			// while disconnected (buffered), not one written to a dead socket.
			nc := bus.(*Bus).c.nc
			deadline := time.Now().Add(eventstest.Wait)
			for !nc.IsReconnecting() {
				if time.Now().After(deadline) {
					t.Fatalf("nats.go did not notice the server went away within %v", eventstest.Wait)
				}
				time.Sleep(5 * time.Millisecond)
			}
		},
		Start: func(t *testing.T) { srv.Start() },
		NoGap: true,
	})
}

func TestOpenErrors(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, tc := range []struct{ servers, topic string }{
		{fmt.Sprintf("nats://127.0.0.1:%d", port), ""},
		{"nats://127.0.0.1:4222", "stacker.*"},
		{"nats://127.0.0.1:4222", "stacker..events"},
		{"nats://127.0.0.1:4222", "has space"},
	} {
		if b, err := Open(t.Context(), tc.servers, nil, events.Options{Topic: tc.topic}); err == nil {
			b.Close()
			t.Errorf("Open(%q, topic %q) succeeded, want an error", tc.servers, tc.topic)
		}
	}
}

// TestOneBrokerSubscription: a hundred subscribers on a replica are one NATS
// subscription.
func TestOneBrokerSubscription(t *testing.T) {
	b := open(t, serverURL(t), events.Options{Topic: eventstest.Topic(t)})
	for range 100 {
		if _, err := b.Subscribe(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.c.nc.NumSubscriptions(); n != 1 {
		t.Errorf("%d NATS subscriptions, want 1", n)
	}
}
