package kafka

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stacker/stacker/events/eventstest"
)

// TestPublisher: what Publish confirmed is on the topic, once each.
func TestPublisher(t *testing.T) {
	c := cluster(t)
	defer c.Close()
	topic := eventstest.Topic(t)
	p, err := OpenPublisher(t.Context(), c.ListenAddrs(), eventstest.Logger(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 5
	for i := range n {
		if err := p.Publish(t.Context(), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	seen := map[string]int{}
	for len(seen) < n {
		fs := raw.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	for v, k := range seen {
		if k != 1 {
			t.Errorf("payload %s delivered %d times", v, k)
		}
	}
}

func TestOpenPublisherErrors(t *testing.T) {
	noAuto, err := kfake.NewCluster(kfake.NumBrokers(1)) // creates no topic on demand
	if err != nil {
		t.Fatal(err)
	}
	defer noAuto.Close()
	port := eventstest.FreePort(t) // nothing listens there
	for _, tc := range []struct {
		name    string
		brokers []string
		topic   string
	}{
		{"no broker answers", []string{"127.0.0.1:" + strconv.Itoa(port)}, "stacker.audit"},
		{"no broker", nil, "stacker.audit"},
		{"bad topic", []string{"127.0.0.1:9092"}, "stacker/audit"},
		{"topic missing", noAuto.ListenAddrs(), "stacker.audit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := OpenPublisher(t.Context(), tc.brokers, nil, tc.topic); err == nil {
				p.Close()
				t.Errorf("OpenPublisher(%q, %q) succeeded, want an error", tc.brokers, tc.topic)
			}
		})
	}
}
