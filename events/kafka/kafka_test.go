package kafka

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
)

// No Kafka broker package exists for this machine, so these tests run
// against franz-go's in-process kfake cluster, which speaks the Kafka
// protocol on real TCP ports.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster starts a kfake cluster with more than one partition per topic, so
// the tests see Kafka's per-partition ordering.
func cluster(t *testing.T, extra ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}, extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	return c
}

func openBus(t *testing.T, brokers []string, opts events.Options) *Bus {
	t.Helper()
	b, err := Open(t.Context(), brokers, eventstest.Logger(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	c := cluster(t)
	defer c.Close()
	brokers := c.ListenAddrs()
	raw, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	eventstest.Run(t, eventstest.Adapter{
		New: func(t *testing.T, opts events.Options) events.Bus { return openBus(t, brokers, opts) },
		PublishRaw: func(t *testing.T, _ events.Bus, topic string, payload []byte) {
			// One key for all raw payloads: one partition, so they keep
			// their order.
			rec := &kgo.Record{Topic: topic, Key: []byte("raw"), Value: payload}
			if err := raw.ProduceSync(t.Context(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		},
		Replicas:     true,
		OrderPerCase: true,
	})
}

// TestRestart closes the kfake cluster mid-test and starts a new one on the
// same port from the same data directory (kfake persists its log there), as
// a Kafka broker restart would: the consumer resumes at the next offset (no
// duplicate, no gap) and a Publish made while it was away is delivered.
func TestRestart(t *testing.T) {
	port := eventstest.FreePort(t)
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir)}
	c := cluster(t, opts...)
	t.Cleanup(func() { c.Close() })
	eventstest.RunRestart(t, eventstest.Restart{
		New: func(t *testing.T, o events.Options) events.Bus {
			return openBus(t, []string{"127.0.0.1:" + strconv.Itoa(port)}, o)
		},
		Stop:  func(t *testing.T, _ events.Bus) { c.Close() },
		Start: func(t *testing.T) { c = cluster(t, opts...) },
		NoGap: true,
	})
}

// TestRestartLostLog restarts the cluster without its data: the broker has
// lost every record, the topic starts again at offset 0. The subscription
// recovers (events published once it is back arrive) and nothing is
// delivered twice; what was published around the loss may be missed.
func TestRestartLostLog(t *testing.T) {
	port := eventstest.FreePort(t)
	c := cluster(t, kfake.Ports(port))
	t.Cleanup(func() { c.Close() })
	eventstest.RunRestart(t, eventstest.Restart{
		New: func(t *testing.T, o events.Options) events.Bus {
			return openBus(t, []string{"127.0.0.1:" + strconv.Itoa(port)}, o)
		},
		Stop:  func(t *testing.T, _ events.Bus) { c.Close() },
		Start: func(t *testing.T) { c = cluster(t, kfake.Ports(port)) },
		NoGap: false,
	})
}

// TestNewPartitions: partitions added to the topic while a Bus runs are
// found and read from their start, so their events are not missed.
func TestNewPartitions(t *testing.T) {
	c := cluster(t, kfake.DefaultNumPartitions(1))
	defer c.Close()
	topic := eventstest.Topic(t)
	b, err := open(t.Context(), c.ListenAddrs(), eventstest.Logger(t), events.Options{Topic: topic}, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := b.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	// Another service's producer, which sees the new partitions at once.
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, 4
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}

	const n = 40 // case ids 1..40 spread over the four partitions
	partitions := make(map[int32]bool)
	for seq := int64(1); seq <= n; seq++ {
		data, _ := eventstest.Event(seq, seq).Encode()
		r := raw.ProduceSync(t.Context(), &kgo.Record{Key: strconv.AppendInt(nil, seq, 10), Value: data})
		rec, err := r.First()
		if err != nil {
			t.Fatal(err)
		}
		partitions[rec.Partition] = true
	}
	if len(partitions) < 2 {
		t.Fatalf("the events went to %d partitions; the test needs the new ones", len(partitions))
	}
	seen := make(map[int64]bool)
	for _, e := range eventstest.Receive(t, sub, n) {
		if seen[e.DocumentID] {
			t.Fatalf("seq %d delivered twice", e.DocumentID)
		}
		seen[e.DocumentID] = true
	}
}

func TestOpenErrors(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, tc := range []struct {
		brokers []string
		topic   string
	}{
		{[]string{"127.0.0.1:" + strconv.Itoa(port)}, ""},
		{nil, ""},
		{[]string{"127.0.0.1:9092"}, "stacker events"},
		{[]string{"127.0.0.1:9092"}, "stacker/events"},
	} {
		if b, err := Open(t.Context(), tc.brokers, nil, events.Options{Topic: tc.topic}); err == nil {
			b.Close()
			t.Errorf("Open(%q, topic %q) succeeded, want an error", tc.brokers, tc.topic)
		}
	}
}
