package auditsink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/audit/auditsink"
	"github.com/stacker/stacker/events/eventstest"
	"github.com/stacker/stacker/events/redis"
)

// broker is one kind of broker the bus sink publishes to, as the tests
// reach it.
type broker struct {
	name string
	// shared returns the address of a broker that outlives the test (the
	// machine's, or one of the test's own where there is none to share).
	shared func(t *testing.T) string
	// own starts a broker only this test uses and returns its address and
	// a function that stops it abruptly.
	own func(t *testing.T) (addr string, stop func())
	// url is the STACKER_AUDIT naming topic on the broker at addr.
	url func(addr, topic string) string
	// watch starts watching topic; wait then returns the first n payloads
	// published on it from then on, failing the test after eventstest.Wait.
	watch func(t *testing.T, addr, topic string) (wait func(n int) [][]byte)
}

func brokers() []broker {
	return []broker{
		{
			name: "nats",
			shared: func(t *testing.T) string {
				return sharedAddr(t, "nats-server", "127.0.0.1:4222")
			},
			own: func(t *testing.T) (string, func()) {
				port := eventstest.FreePort(t)
				p := eventstest.StartProcess(t, port, eventstest.Binary(t, "nats-server"), "-a", "127.0.0.1", "-p", strconv.Itoa(port))
				return p.Addr(), p.Kill
			},
			url:   func(addr, topic string) string { return fmt.Sprintf("nats://%s?topic=%s", addr, topic) },
			watch: watchNATS,
		},
		{
			name: "redis",
			shared: func(t *testing.T) string {
				return sharedAddr(t, "redis-server", "127.0.0.1:6379")
			},
			own: func(t *testing.T) (string, func()) {
				port := eventstest.FreePort(t)
				p := eventstest.StartProcess(t, port, eventstest.Binary(t, "redis-server"),
					"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
				return p.Addr(), p.Kill
			},
			url:   func(addr, topic string) string { return fmt.Sprintf("redis://%s/0?topic=%s", addr, topic) },
			watch: watchRedis,
		},
		{
			name:   "kafka",
			shared: func(t *testing.T) string { addr, _ := kafkaCluster(t); return addr },
			own:    kafkaCluster,
			url:    func(addr, topic string) string { return fmt.Sprintf("kafka://%s?topic=%s", addr, topic) },
			watch:  watchKafka,
		},
	}
}

// sharedAddr is addr, where the machine runs the broker what, skipping the
// test (failing it in CI) when it does not answer.
func sharedAddr(t *testing.T, what, addr string) string {
	t.Helper()
	eventstest.RequireServer(t, what, addr)
	return addr
}

// kafkaCluster starts franz-go's in-process Kafka (no Kafka broker package
// exists for this machine), which speaks the protocol on a real port.
func kafkaCluster(t *testing.T) (string, func()) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], c.Close
}

func watchNATS(t *testing.T, addr, topic string) func(int) [][]byte {
	t.Helper()
	nc, err := natsgo.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	return func(n int) [][]byte {
		t.Helper()
		for len(got) < n {
			m, err := sub.NextMsg(eventstest.Wait)
			if err != nil {
				t.Fatalf("%d of %d messages on %s: %v", len(got), n, topic, err)
			}
			got = append(got, m.Data)
		}
		return got[:n]
	}
}

func watchRedis(t *testing.T, addr, topic string) func(int) [][]byte {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() {
		// The stream is the test's own; a killed server has nothing to delete.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Del(ctx, topic)
		c.Close()
	})
	return func(n int) [][]byte {
		t.Helper()
		var got [][]byte
		eventstest.WaitFor(t, fmt.Sprintf("%d entries in stream %s", n, topic), func() bool {
			entries, err := c.XRange(t.Context(), topic, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, e := range entries {
				s, _ := e.Values[redis.StreamField].(string)
				got = append(got, []byte(s))
			}
			return len(got) >= n
		})
		return got[:n]
	}
}

func watchKafka(t *testing.T, addr, topic string) func(int) [][]byte {
	t.Helper()
	var got [][]byte
	return func(n int) [][]byte {
		t.Helper()
		if len(got) >= n {
			return got[:n]
		}
		c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), eventstest.Wait)
		defer cancel()
		got = got[:0]
		for len(got) < n {
			fs := c.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("%d of %d records on %s: %v", len(got), n, topic, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Value) })
		}
		return got[:n]
	}
}

// TestBusSink: on each broker, records written to the trail arrive on the
// topic, each as the JSON the line sink writes (without the newline), and
// decode to the records written, in order.
func TestBusSink(t *testing.T) {
	for _, b := range brokers() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			addr := b.shared(t)
			topic := eventstest.Topic(t)
			wait := b.watch(t, addr, topic)
			sink, err := auditsink.Open(t.Context(), b.url(addr, topic), nil, eventstest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			tr := audit.New(sink, audit.Options{Buffer: 16, Mode: audit.FailClosed})
			want := []audit.Record{record("1"), record("2"), record("3")}
			for _, r := range want {
				if err := tr.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			for i, payload := range wait(len(want)) {
				line, _ := audit.Encode(want[i])
				if string(payload) != string(line) {
					t.Errorf("payload %d = %s, want %s", i, payload, line)
				}
				var got audit.Record
				if err := json.Unmarshal(payload, &got); err != nil || !reflect.DeepEqual(got, want[i]) {
					t.Errorf("payload %d decodes to %+v (%v), want %+v", i, got, err, want[i])
				}
			}
			if tr.Lost() != 0 {
				t.Errorf("%d records lost", tr.Lost())
			}
		})
	}
}

// TestDefaultTopic: a URL without a topic publishes on audit.DefaultTopic.
// Other runs may publish there too: the test looks for its own record.
func TestDefaultTopic(t *testing.T) {
	nats := brokers()[0]
	addr := nats.shared(t)
	wait := nats.watch(t, addr, audit.DefaultTopic)
	sink, err := auditsink.Open(t.Context(), "nats://"+addr, nil, eventstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.(*audit.BusSink).Close()
	r := record(eventstest.Topic(t)) // unique
	if err := sink.Write(r); err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		var got audit.Record
		if json.Unmarshal(wait(n)[n-1], &got) == nil && got.RequestID == r.RequestID {
			return
		}
	}
}

// TestOpenUnreachable: a broker that does not answer at startup is an
// error from Open, which names no password.
func TestOpenUnreachable(t *testing.T) {
	port := eventstest.FreePort(t) // nothing listens there
	for _, spec := range []string{
		fmt.Sprintf("nats://user:s3cret@127.0.0.1:%d?topic=stacker.audit", port),
		fmt.Sprintf("redis://:s3cret@127.0.0.1:%d/0", port),
		fmt.Sprintf("kafka://127.0.0.1:%d", port),
	} {
		t.Run(strings.SplitN(spec, ":", 2)[0], func(t *testing.T) {
			sink, err := auditsink.Open(t.Context(), spec, nil, eventstest.Logger(t))
			if err == nil {
				sink.(*audit.BusSink).Close()
				t.Fatal("Open succeeded with no broker")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestBrokerGoesAway: when the broker goes away after startup, the next
// record's write fails within audit.PublishTimeout (at once where the
// client knows the connection is gone, at the timeout where it waits for
// the broker to come back), the trail counts it lost, and in closed mode
// the trail refuses the records after it.
func TestBrokerGoesAway(t *testing.T) {
	for _, b := range brokers() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			addr, stop := b.own(t)
			sink, err := auditsink.Open(t.Context(), b.url(addr, eventstest.Topic(t)), nil, eventstest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			// Confirmed before the trail starts: a write that was still
			// waiting for its confirmation when the broker went could
			// fail too (the record may have arrived nonetheless).
			if err := sink.Write(record("1")); err != nil {
				t.Fatal(err)
			}
			tr := audit.New(sink, audit.Options{Buffer: 4, Mode: audit.FailClosed, Logger: eventstest.Logger(t)})
			defer tr.Close()

			stop()
			start := time.Now()
			if err := tr.Write(record("2")); err != nil {
				t.Fatalf("record 2 was refused before its write failed: %v", err)
			}
			eventstest.WaitFor(t, "the lost record to be counted", func() bool { return tr.Lost() == 1 })
			if d := time.Since(start); d > audit.PublishTimeout+2*time.Second {
				t.Errorf("the write failed after %v, want within %v", d, audit.PublishTimeout)
			}
			if err := tr.Write(record("3")); !errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("closed mode after a failed write: Write = %v, want ErrUnavailable", err)
			}
		})
	}
}
