package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/stacker/stacker/events"
)

// StreamField is the field of each stream entry that holds the payload.
const StreamField = "record"

// Publisher is the Redis events.Publisher. It appends each payload to the
// Redis Stream named by its topic (XADD, one entry with one field,
// StreamField), not to a pub/sub channel: a stream keeps what nobody was
// reading yet, for consumer groups to read and acknowledge later.
//
// Publish returns once Redis has appended the entry: it is in the server's
// memory, on disk only as the server's persistence (appendonly, fsync)
// keeps it. The stream is never trimmed here: trimming would delete entries
// no consumer has read. Its reader trims it (XTRIM, XDEL) once it has kept
// them; a Redis that runs out of memory refuses the XADD (with
// maxmemory-policy noeviction), and Publish fails.
type Publisher struct {
	client *goredis.Client
	stream string
}

var _ events.Publisher = (*Publisher)(nil)

// OpenPublisher connects to the Redis at rawURL (as Open takes it) and
// returns a Publisher appending to the stream topic. A server that does not
// answer now is an error; once open, go-redis reconnects on each command.
// It logs nothing: go-redis does not report connections going and coming
// back, so failures are Publish's errors.
func OpenPublisher(ctx context.Context, rawURL string, topic string) (*Publisher, error) {
	if topic == "" {
		return nil, fmt.Errorf("events: redis: empty stream name")
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	client, err := connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return &Publisher{client: client, stream: topic}, nil
}

// Publish appends payload to the stream, waiting for Redis's reply until
// ctx ends.
func (p *Publisher) Publish(ctx context.Context, payload []byte) error {
	err := p.client.XAdd(ctx, &goredis.XAddArgs{Stream: p.stream, Values: []any{StreamField, payload}}).Err()
	if err != nil {
		return fmt.Errorf("events: redis: XADD to stream %q: %w", p.stream, err)
	}
	return nil
}

// Close closes the client's connections.
func (p *Publisher) Close() error {
	if err := p.client.Close(); err != nil {
		return fmt.Errorf("events: redis: close: %w", err)
	}
	return nil
}
