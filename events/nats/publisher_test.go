package nats

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stacker/stacker/events/eventstest"
)

func openPublisher(t *testing.T, servers, topic string) *Publisher {
	t.Helper()
	p, err := OpenPublisher(t.Context(), servers, eventstest.Logger(t), topic)
	if err != nil {
		t.Fatalf("OpenPublisher: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestPublisherModes: a subject no stream captures is published on core
// NATS, and a subscriber gets the payload once Publish returned; a subject
// a JetStream stream captures is published through JetStream, and the
// stream holds the payload once Publish returned. The test runs its own
// nats-server with JetStream, so that it does not depend on the shared
// one's flags.
func TestPublisherModes(t *testing.T) {
	bin := eventstest.Binary(t, "nats-server")
	port := eventstest.FreePort(t)
	srv := eventstest.StartProcess(t, port, bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir())
	servers := "nats://" + srv.Addr()
	raw, err := natsgo.Connect(servers)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	js, err := jetstream.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	captured := eventstest.Topic(t)
	stream, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "AUDIT", Subjects: []string{captured}})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		subject   string
		jetstream bool
	}{
		{"core", eventstest.Topic(t), false},
		{"jetstream", captured, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := raw.SubscribeSync(tc.subject)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := raw.Flush(); err != nil {
				t.Fatal(err)
			}
			p := openPublisher(t, servers, tc.subject)
			if got := p.js != nil; got != tc.jetstream {
				t.Fatalf("through JetStream: %v, want %v", got, tc.jetstream)
			}
			payload := []byte(`{"n":1}`)
			if err := p.Publish(t.Context(), payload); err != nil {
				t.Fatal(err)
			}
			m, err := sub.NextMsg(eventstest.Wait)
			if err != nil || !bytes.Equal(m.Data, payload) {
				t.Fatalf("received %q (%v), want %q", m.Data, err, payload)
			}
			if tc.jetstream {
				info, err := stream.Info(t.Context())
				if err != nil || info.State.Msgs != 1 {
					t.Fatalf("stream holds %+v (%v), want 1 message", info.State, err)
				}
			}
		})
	}
}

// TestPublisherServerGone: once the server is gone, Publish fails within
// its context, in either mode.
func TestPublisherServerGone(t *testing.T) {
	bin := eventstest.Binary(t, "nats-server")
	for _, js := range []bool{false, true} {
		t.Run(fmt.Sprintf("jetstream=%v", js), func(t *testing.T) {
			port := eventstest.FreePort(t)
			args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}
			if js {
				args = append(args, "-js", "-sd", t.TempDir())
			}
			srv := eventstest.StartProcess(t, port, bin, args...)
			subject := eventstest.Topic(t)
			if js {
				raw, err := natsgo.Connect("nats://" + srv.Addr())
				if err != nil {
					t.Fatal(err)
				}
				jsc, _ := jetstream.New(raw)
				_, err = jsc.CreateStream(t.Context(), jetstream.StreamConfig{Name: "GONE", Subjects: []string{subject}})
				raw.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			p := openPublisher(t, "nats://"+srv.Addr(), subject)
			if err := p.Publish(t.Context(), []byte("before")); err != nil {
				t.Fatal(err)
			}
			srv.Kill()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			start := time.Now()
			err := p.Publish(ctx, []byte("after"))
			if err == nil {
				t.Fatal("Publish succeeded with the server gone")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Publish took %v, past its context", d)
			}
		})
	}
}

func TestOpenPublisherErrors(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, tc := range []struct{ servers, topic string }{
		{fmt.Sprintf("nats://127.0.0.1:%d", port), "stacker.audit"},
		{"nats://127.0.0.1:4222", ""},
		{"nats://127.0.0.1:4222", "stacker.>"},
	} {
		if p, err := OpenPublisher(t.Context(), tc.servers, nil, tc.topic); err == nil {
			p.Close()
			t.Errorf("OpenPublisher(%q, %q) succeeded, want an error", tc.servers, tc.topic)
		}
	}
}
