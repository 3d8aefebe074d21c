package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/stacker/stacker/events"
)

// DefaultTopic is the topic (NATS subject, Redis stream, Kafka topic) the
// records go to when the sink's URL names none.
const DefaultTopic = "stacker.audit"

// PublishTimeout is how long a BusSink's Write waits for the broker to
// confirm a record. A broker that stalls fails the write after it, and the
// Trail's failure mode applies; the Trail's buffer keeps queries from
// waiting meanwhile.
const PublishTimeout = 5 * time.Second

// BusSink publishes each record, as Encode gives it, on a topic of the
// event bus, for a compliance system to consume. A Write returns nil only
// once the broker has confirmed the record (see the Publisher's adapter for
// what each broker confirms), and an error when it has not within the
// sink's timeout.
type BusSink struct {
	p       events.Publisher
	timeout time.Duration
}

// NewBusSink writes through p, giving each Write timeout (PublishTimeout
// but in tests). The sink owns p: Close closes it.
func NewBusSink(p events.Publisher, timeout time.Duration) *BusSink {
	return &BusSink{p: p, timeout: timeout}
}

func (s *BusSink) Write(r Record) error {
	b, err := Encode(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.p.Publish(ctx, b); err != nil {
		return fmt.Errorf("audit: publish: %w", err)
	}
	return nil
}

// Close releases the broker connection.
func (s *BusSink) Close() error { return s.p.Close() }
