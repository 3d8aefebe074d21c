// Package kafka is the events.Bus on Kafka (franz-go): the topic is a Kafka
// topic, and each Bus holds one client that both produces and consumes it
// and fans the events out to its local subscribers.
//
// Every replica must see every event, so the consumer is not in a consumer
// group (which would split the partitions between replicas): each Bus
// assigns itself every partition, starting at the end each had when the Bus
// opened (a fresh replica does not replay history), and tracks its offsets
// in memory; nothing is committed. It looks for new partitions every
// half-minute and reads them from their start, since they hold only events
// newer than the Bus.
//
// Records are keyed by case id, so the events of one case share a partition
// and keep their order; events of different cases may interleave
// differently than they were published.
//
// When a broker goes away, franz-go retries with exponential backoff and
// resumes each partition at the next offset it has not read: a restarted
// broker that kept its log causes no gap and no duplicate, and a Publish
// made meanwhile waits (up to its context) and is delivered. The Bus also
// refuses a record at an offset of the log it has already delivered, so a
// rewind can never deliver twice. A broker that lost records, or lost the
// whole topic, is logged; the Bus goes on with what the broker has now (the
// lost events are gone).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stacker/stacker/events"
)

// Bus is the Kafka events.Bus.
type Bus struct {
	client   *kgo.Client
	hub      *events.Hub
	topic    string
	opts     events.Options
	logger   *slog.Logger
	discover time.Duration // how often to look for new partitions

	ctx        context.Context // ends when the Bus closes
	cancel     context.CancelFunc
	readerDone chan struct{}
	closed     atomic.Bool
	closeOnce  sync.Once
}

var _ events.Bus = (*Bus)(nil)

const (
	// connectTimeout bounds Open's first contact with the brokers.
	connectTimeout = 10 * time.Second
	// discoverEvery is how often the Bus looks for partitions added to its
	// topic, and for the topic having been created again.
	discoverEvery = 30 * time.Second
)

// Open connects to the seed brokers ("host:9092"), looks up where each
// partition of opts.Topic ends, starts consuming there and returns the Bus.
// The topic is created if it does not exist and the brokers allow it. A
// cluster where no seed broker answers now is an error; once open, the Bus
// reconnects on its own. A nil logger discards.
func Open(ctx context.Context, brokers []string, logger *slog.Logger, opts events.Options) (*Bus, error) {
	return open(ctx, brokers, logger, opts, discoverEvery)
}

func open(ctx context.Context, brokers []string, logger *slog.Logger, opts events.Options, discover time.Duration) (*Bus, error) {
	opts = opts.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(brokers) == 0 {
		return nil, errors.New("events: kafka: no broker address")
	}
	if err := ValidTopic(opts.Topic); err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(clientOptions(brokers, logger, opts.Backoff, opts.Topic),
		// No group: the partitions are assigned with AddConsumePartitions.
		// After data loss, go on from the end: re-reading what survived
		// could deliver events twice.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("events: kafka: %w", err)
	}
	b := &Bus{
		client:     client,
		hub:        events.NewHub(logger, opts.BufferSize),
		topic:      opts.Topic,
		opts:       opts,
		logger:     logger,
		discover:   discover,
		readerDone: make(chan struct{}),
	}
	connectCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	l, err := b.layout(connectCtx, true)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("events: kafka: connect to %s: %w", strings.Join(brokers, ","), err)
	}
	// Exactly where each partition ends now: an event published once Open
	// has returned is read. (kgo's AtEnd would look the end up later.)
	start := make(map[int32]kgo.Offset, len(l.ends))
	for p, end := range l.ends {
		start[p] = kgo.NewOffset().At(end)
	}
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{b.topic: start})

	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.read(l)
	return b, nil
}

// read is the one goroutine that polls the consumer, until Close. l is the
// layout the Bus started consuming.
func (b *Bus) read(l layout) {
	defer close(b.readerDone)
	// What has been delivered: per partition of the log l.id, the first
	// offset not yet delivered. A record of the same log below it was
	// delivered already.
	next := make(map[int32]int64)
	lastLook := time.Now()
	failures := 0
	for {
		pollCtx, cancel := context.WithTimeout(b.ctx, b.discover)
		fetches := b.client.PollFetches(pollCtx)
		cancel()
		if fetches.IsClientClosed() || b.ctx.Err() != nil {
			return
		}
		failed, lookNow := false, false
		fetches.EachError(func(topic string, partition int32, err error) {
			var lost *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
				// pollCtx: time to look for new partitions.
			case errors.As(err, &lost):
				// The broker's log diverged from what was read: the offsets
				// from here on are new records.
				b.logger.Error("events: kafka: the broker lost records; events may have been missed",
					"topic", topic, "partition", partition, "consumed_to", lost.ConsumedTo, "reset_to", lost.ResetTo)
				next[partition] = lost.ResetTo
			case errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.UnknownTopicOrPartition):
				// The topic is gone, or was created again (a broker that
				// lost its data): look at what the broker has now.
				failed, lookNow = true, true
			default:
				failed = true
				b.logger.Warn("events: kafka: fetch failed", "topic", topic, "partition", partition, "error", err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if n, ok := next[r.Partition]; ok && r.Offset < n {
				b.logger.Debug("events: kafka: record already delivered skipped", "partition", r.Partition, "offset", r.Offset)
				return
			}
			next[r.Partition] = r.Offset + 1
			b.hub.DeliverPayload(r.Value)
		})

		if (lookNow && time.Since(lastLook) > b.opts.MaxBackoff) || time.Since(lastLook) >= b.discover {
			lastLook = time.Now()
			if now, err := b.layout(b.ctx, false); err != nil {
				b.logger.Warn("events: kafka: looking for new partitions failed", "topic", b.topic, "error", err)
			} else if now.id != l.id {
				b.logger.Error("events: kafka: the topic was created again; reading the new one from its start (events published around the loss may have been missed)", "topic", b.topic)
				b.client.PurgeTopicsFromClient(b.topic)
				b.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{b.topic: fromStart(now.ends)})
				clear(next)
				l = now
			} else if added := newPartitions(l, now); len(added) > 0 {
				b.logger.Info("events: kafka: new partitions; reading them from their start", "topic", b.topic, "partitions", len(added))
				b.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{b.topic: fromStart(added)})
				l = now
			}
		}

		if !failed || fetches.NumRecords() > 0 {
			failures = 0
			continue
		}
		// Errors and nothing else: wait before polling again.
		failures++
		select {
		case <-time.After(b.opts.Backoff(failures)):
		case <-b.ctx.Done():
			return
		}
	}
}

// layout is what the brokers say of the topic: its id and the end offset
// of each partition.
type layout struct {
	id   [16]byte
	ends map[int32]int64
}

// layout asks the brokers for the topic's layout, creating the topic if it
// does not exist and the brokers allow it. A topic just created has no
// leader for a moment: with retry, layout waits for it until ctx ends.
func (b *Bus) layout(ctx context.Context, retry bool) (layout, error) {
	for attempt := 1; ; attempt++ {
		l, err := b.tryLayout(ctx)
		if err == nil || !retry || !kerr.IsRetriable(err) {
			return l, err
		}
		select {
		case <-time.After(b.opts.Backoff(attempt)):
		case <-ctx.Done():
			return layout{}, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
	}
}

func (b *Bus) tryLayout(ctx context.Context) (layout, error) {
	mtopic, err := topicMetadata(ctx, b.client, b.topic)
	if err != nil {
		return layout{}, err
	}
	if err := kerr.ErrorForCode(mtopic.ErrorCode); err != nil {
		return layout{}, fmt.Errorf("topic %q: %w", b.topic, err)
	}
	if len(mtopic.Partitions) == 0 {
		return layout{}, fmt.Errorf("topic %q: no partitions: %w", b.topic, kerr.LeaderNotAvailable)
	}
	list := kmsg.NewPtrListOffsetsRequest()
	list.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = b.topic
	for _, p := range mtopic.Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.CurrentLeaderEpoch = -1
		lp.Timestamp = -1 // the end
		lt.Partitions = append(lt.Partitions, lp)
	}
	list.Topics = append(list.Topics, lt)
	lresp, err := list.RequestWith(ctx, b.client)
	if err != nil {
		return layout{}, err
	}
	l := layout{id: mtopic.TopicID, ends: make(map[int32]int64, len(lt.Partitions))}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return layout{}, fmt.Errorf("topic %q partition %d: %w", b.topic, p.Partition, err)
			}
			l.ends[p.Partition] = p.Offset
		}
	}
	if len(l.ends) != len(lt.Partitions) {
		return layout{}, fmt.Errorf("topic %q: %d of %d partitions listed: %w", b.topic, len(l.ends), len(lt.Partitions), kerr.LeaderNotAvailable)
	}
	return l, nil
}

// topicMetadata asks the brokers for what they know of topic, creating it
// if it does not exist and they allow it. The answer's ErrorCode is the
// caller's to check.
func topicMetadata(ctx context.Context, client *kgo.Client, topic string) (kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return kmsg.MetadataResponseTopic{}, err
	}
	if len(resp.Topics) != 1 {
		return kmsg.MetadataResponseTopic{}, fmt.Errorf("topic %q: %d topics in the metadata answer", topic, len(resp.Topics))
	}
	return resp.Topics[0], nil
}

// newPartitions returns the partitions of now that were not in before.
func newPartitions(before, now layout) map[int32]int64 {
	added := make(map[int32]int64)
	for p, end := range now.ends {
		if _, ok := before.ends[p]; !ok {
			added[p] = end
		}
	}
	return added
}

// fromStart maps every partition of ends to its first offset.
func fromStart(ends map[int32]int64) map[int32]kgo.Offset {
	m := make(map[int32]kgo.Offset, len(ends))
	for p := range ends {
		m[p] = kgo.NewOffset().AtStart()
	}
	return m
}

// Publish produces e, keyed by its case id, and waits until the brokers have
// it or ctx ends (see produce: an event whose Publish failed with ctx's
// error may still be delivered).
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	data, err := e.Encode()
	if err != nil {
		return err
	}
	if err := produce(ctx, b.client, &kgo.Record{Key: strconv.AppendInt(nil, e.CaseID, 10), Value: data}); err != nil {
		if b.closed.Load() || errors.Is(err, kgo.ErrClientClosed) {
			return events.ErrClosed
		}
		return fmt.Errorf("events: kafka: publish: %w", err)
	}
	return nil
}

// clientOptions are what every client here starts from: the seed brokers,
// the default topic (created if the brokers allow it), franz-go's warnings
// logged, and records sent at once. Acks from all in-sync replicas and the
// idempotent producer are franz-go's defaults, kept: a record is confirmed
// once every in-sync replica has it, and a retry never writes it twice.
func clientOptions(brokers []string, logger *slog.Logger, backoff func(int) time.Duration, topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("stacker"),
		kgo.WithLogger(slogLogger{logger}),
		kgo.RetryBackoffFn(backoff),
		kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic(topic),
		// Publishers send at once: subscriptions want events now, and
		// Publish waits for its record anyway.
		kgo.ProducerLinger(0),
	}
}

// produce sends r and waits until the brokers have it or ctx ends. While no
// broker answers it waits for one. If ctx ends first, it returns ctx's
// error, but r may still be delivered once a broker answers: franz-go
// cannot withdraw a record it may already have sent.
func produce(ctx context.Context, client *kgo.Client, r *kgo.Record) error {
	done := make(chan error, 1)
	client.Produce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Subscribe returns a subscription that lasts until ctx ends, the subscriber
// falls behind by more than the buffer, or the Bus closes.
func (b *Bus) Subscribe(ctx context.Context) (events.Subscription, error) {
	return b.hub.Subscribe(ctx)
}

// Stats returns the Bus's counters.
func (b *Bus) Stats() events.Stats { return b.hub.Stats() }

// Ping reports whether a broker of the cluster answers (franz-go asks each
// known broker in turn for its API versions).
func (b *Bus) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return events.ErrClosed
	}
	if err := b.client.Ping(ctx); err != nil {
		return fmt.Errorf("events: kafka: ping: %w", err)
	}
	return nil
}

// Close ends every subscription with events.ErrClosed, stops the consumer
// and closes the client. A Publish still waiting fails.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.hub.Close()
		b.cancel()
		b.client.Close()
		<-b.readerDone
	})
	return nil
}

// ValidTopic refuses names Kafka refuses.
func ValidTopic(s string) error {
	if s == "" || s == "." || s == ".." || len(s) > 249 {
		return fmt.Errorf("events: kafka: topic %q is not a valid topic name", s)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("events: kafka: topic %q is not a valid topic name (letters, digits, '.', '_', '-')", s)
		}
	}
	return nil
}

// slogLogger passes franz-go's warnings and errors (a broker that cannot be
// reached, a failed request) to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (s slogLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	s.l.Log(context.Background(), lvl, "events: kafka: "+msg, keyvals...)
}
