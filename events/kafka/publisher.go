package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stacker/stacker/events"
)

// Publisher is the Kafka events.Publisher. It produces each payload,
// unkeyed (the partitioner spreads them; a payload that needs ordering
// carries its own time), and Publish returns once every in-sync replica of
// the partition has it (acks=all; the producer is idempotent, so franz-go's
// retries never write a payload twice).
//
// If Publish's ctx ends first it reports ctx's error, yet the payload may
// still arrive: franz-go cannot withdraw a record it may have sent. A
// payload reported as failed may thus exist; one reported as sent does.
type Publisher struct {
	client *kgo.Client
	topic  string
}

var _ events.Publisher = (*Publisher)(nil)

// OpenPublisher connects to the seed brokers ("host:9092") and returns a
// Publisher on topic, which is created if it does not exist and the
// brokers allow it. A cluster where no seed broker answers now, or that
// has no such topic and will not create it, is an error; once open,
// franz-go reconnects on its own. A nil logger discards.
func OpenPublisher(ctx context.Context, brokers []string, logger *slog.Logger, topic string) (*Publisher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(brokers) == 0 {
		return nil, errors.New("events: kafka: no broker address")
	}
	if err := ValidTopic(topic); err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(clientOptions(brokers, logger, events.Options{}.Backoff, topic)...)
	if err != nil {
		return nil, fmt.Errorf("events: kafka: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := topicExists(ctx, client, topic); err != nil {
		client.Close()
		return nil, fmt.Errorf("events: kafka: connect to %s: %w", strings.Join(brokers, ","), err)
	}
	return &Publisher{client: client, topic: topic}, nil
}

// topicExists asks the brokers for topic, creating it if they allow it. A
// topic just created may have no leader yet: that is not an error (the
// producer waits for one).
func topicExists(ctx context.Context, client *kgo.Client, topic string) error {
	t, err := topicMetadata(ctx, client, topic)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.LeaderNotAvailable) {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	return nil
}

// Publish produces payload on the topic and waits until the brokers have it
// or ctx ends.
func (p *Publisher) Publish(ctx context.Context, payload []byte) error {
	if err := produce(ctx, p.client, &kgo.Record{Value: payload}); err != nil {
		return fmt.Errorf("events: kafka: produce to %q: %w", p.topic, err)
	}
	return nil
}

// Close closes the client; a Publish still waiting fails.
func (p *Publisher) Close() error {
	p.client.Close()
	return nil
}
