package eventsurl

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		raw  string
		want Target
	}{
		{"memory://", Target{Scheme: "memory"}},
		{"MEMORY://?topic=x", Target{Scheme: "memory", Topic: "x"}},
		{"nats://127.0.0.1:4222", Target{Scheme: "nats", Address: "nats://127.0.0.1:4222"}},
		{"nats://nats-a,nats://u:p@nats-b:4223?topic=stacker.dev", Target{Scheme: "nats", Topic: "stacker.dev", Address: "nats://nats-a:4222,nats://u:p@nats-b:4223"}},
		{"redis://127.0.0.1:6379/0", Target{Scheme: "redis", Address: "redis://127.0.0.1:6379/0"}},
		{"rediss://:secret@cache:6380/2?topic=t&dial_timeout=2s", Target{Scheme: "redis", Topic: "t", Address: "rediss://:secret@cache:6380/2?dial_timeout=2s"}},
		{"kafka://b1:9092,b2", Target{Scheme: "kafka", Brokers: []string{"b1:9092", "b2:9092"}}},
		{"kafka://[::1]:9093?topic=case-events", Target{Scheme: "kafka", Topic: "case-events", Brokers: []string{"[::1]:9093"}}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := Parse(tc.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Scheme != tc.want.Scheme || got.Topic != tc.want.Topic || got.Address != tc.want.Address || !slices.Equal(got.Brokers, tc.want.Brokers) {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ raw, mention string }{
		{"", "want scheme://"},
		{"localhost:4222", "want scheme://"},
		{"amqp://rabbit:5672", `unknown scheme "amqp"`},
		{"memory://somewhere", "takes no address"},
		{"memory://?buffer=5", `unknown parameter "buffer"`},
		{"nats://", "empty address"},
		{"nats://host:notaport", "bad port"},
		{"nats://host:4222/path", "want host:port"},
		{"nats://host?topic=", "topic must be given once"},
		{"nats://host?topic=a&topic=b", "topic must be given once"},
		{"redis://host:6379/notadb", "invalid database"},
		{"redis://host:6379/0?bogus=1", "bogus"},
		{"kafka://", "empty address"},
		{"kafka://b1:9092,", "empty address"},
		{"kafka://user:pw@b1:9092", "no credentials"},
		{"kafka://b1:99999", "bad port"},
		{"kafka://b1?group=g", `unknown parameter "group"`},
		{"nats://h?%zz", "query"},
		{"nats://h?topic=stacker..events", "not a valid subject"},
		{"nats://h?topic=stacker.>", "not a valid subject"},
		{"kafka://b1?topic=stacker/events", "not a valid topic"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := Parse(tc.raw)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

// ParsePublisher takes what Parse takes but memory://, which no one
// outside the process could read.
func TestParsePublisher(t *testing.T) {
	for raw, ok := range map[string]bool{
		"memory://":                        false,
		"memory://?topic=stacker.audit":    false,
		"nats://127.0.0.1:4222":            true,
		"redis://:s3cret@h:6379/0?topic=a": true,
		"kafka://b1:9092?topic=a":          true,
		"amqp://rabbit:5672":               false,
	} {
		_, err := ParsePublisher(raw)
		if (err == nil) != ok {
			t.Errorf("ParsePublisher(%q) = %v", raw, err)
		}
		if err != nil && strings.HasPrefix(raw, "memory") && !strings.Contains(err.Error(), "in-process") {
			t.Errorf("ParsePublisher(%q) = %v, want it to say memory:// is in-process", raw, err)
		}
	}
}

func TestErrorsHidePasswords(t *testing.T) {
	for _, raw := range []string{
		"redis://user:s3cret@host:6379/notadb",
		"kafka://user:s3cret@b1:9092",
		"nats://user:s3cret@host:bad",
		"nats://a:4222,nats://user:s3cret@b:bad",
	} {
		_, err := Parse(raw)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q shows the password", err)
		}
	}
}

// TestOpen opens every kind of Bus through its URL and sends one event
// through it.
func TestOpen(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ name, url, needs string }{
		{"memory", "memory://", ""},
		{"nats", "nats://127.0.0.1:4222?topic=", "127.0.0.1:4222"},
		{"redis", "redis://127.0.0.1:6379/0?topic=", "127.0.0.1:6379"},
		{"kafka", "kafka://" + strings.Join(c.ListenAddrs(), ",") + "?topic=", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != "" {
				eventstest.RequireServer(t, tc.name+" server", tc.needs)
			}
			raw := tc.url
			if strings.HasSuffix(raw, "topic=") {
				raw += eventstest.Topic(t)
			}
			b, err := Open(t.Context(), raw, eventstest.Logger(t), events.Options{Topic: "ignored.when.the.url.has.one"})
			if err != nil {
				t.Fatalf("Open(%q): %v", raw, err)
			}
			defer b.Close()
			sub, err := b.Subscribe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(t.Context(), eventstest.Event(3, 1)); err != nil {
				t.Fatal(err)
			}
			if got := eventstest.Receive(t, sub, 1); got[0].CaseID != 3 {
				t.Errorf("got %+v", got[0])
			}
		})
	}
}
