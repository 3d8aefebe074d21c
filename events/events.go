// Package events holds what the gateway knows of the services' domain events:
// the Event type and its JSON wire format, the Bus interface that carries
// events between the services and every Stacker replica, Hub, the
// in-process fan-out every Bus adapter delivers through, and Publisher, the
// write-only side of a broker that other packages publish their own records
// through (the audit trail).
//
// Adapters live in their own packages, one per broker (events/memory,
// events/nats, events/redis, events/kafka), and events/eventsurl picks one
// from a URL. Every adapter passes the conformance suite in events/eventstest.
//
// Guarantees every adapter gives:
//   - A subscriber gets every event published after it subscribed, once,
//     until its subscription ends (at-most-once brokers such as core NATS and
//     Redis pub/sub may lose events published while the broker is away).
//   - Events of one case from one publisher arrive in the order they were
//     published. The in-process, NATS and Redis adapters also keep the order
//     of all events of one publisher; Kafka orders per partition, and the
//     adapter keys records by case id.
//   - Publish never waits for a subscriber: each subscriber has a bounded
//     buffer and is dropped (ErrSlowConsumer) when it is full, so a client
//     that stops reading delays nobody else.
//   - A payload that is not a valid event is logged, counted (Stats.Malformed)
//     and skipped; it never reaches a subscriber and never ends a
//     subscription.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The event types the services publish.
const (
	TypeCaseCreated          = "case.created"
	TypeCaseUpdated          = "case.updated"
	TypeDocumentUploaded     = "document.uploaded"
	TypeAppointmentScheduled = "appointment.scheduled"
	// An appointment was called off or moved: its case's activity, with
	// AppointmentID naming it.
	TypeAppointmentCancelled   = "appointment.cancelled"
	TypeAppointmentRescheduled = "appointment.rescheduled"
	// A note was added to a case: its case's activity, with NoteID naming it.
	TypeCaseNoteAdded = "case.note_added"
)

// DefaultTopic is the topic (NATS subject, Redis channel, Kafka topic) the
// services publish on unless configured otherwise.
const DefaultTopic = "stacker.events"

// DefaultBufferSize is how many events a subscriber may fall behind before
// it is dropped.
const DefaultBufferSize = 256

// Sentinel errors; adapters wrap them, so test with errors.Is.
var (
	// ErrMalformed: a payload or Event that is not a valid event.
	ErrMalformed = errors.New("events: malformed event")
	// ErrClosed: the Bus was closed. Publish and Subscribe return it after
	// Close, and Subscription.Err returns it for subscriptions Close ended.
	ErrClosed = errors.New("events: bus closed")
	// ErrSlowConsumer: the subscription was dropped because its buffer was
	// full when an event arrived.
	ErrSlowConsumer = errors.New("events: subscriber dropped: buffer full")
)

// Event is one domain event as the services publish it. CaseID is set on
// every event; DocumentID is set only on document.uploaded, AppointmentID
// only on the appointment.* events and NoteID only on case.note_added (0 when
// absent); Changed lists the changed
// fields of a case.updated and may be empty.
//
// Subscribers share the events they receive: treat Changed as read-only.
type Event struct {
	Type          string    `json:"type"`
	CaseID        int64     `json:"case_id"`
	DocumentID    int64     `json:"document_id,omitempty"`
	AppointmentID int64     `json:"appointment_id,omitempty"`
	NoteID        int64     `json:"note_id,omitempty"`
	Changed       []string  `json:"changed,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
}

// Validate reports whether e is an event the services may publish: a known
// type, a positive case id, the id its type requires and an occurred_at. The
// error wraps ErrMalformed.
func (e Event) Validate() error {
	switch e.Type {
	case TypeCaseCreated, TypeCaseUpdated, TypeDocumentUploaded, TypeAppointmentScheduled,
		TypeAppointmentCancelled, TypeAppointmentRescheduled, TypeCaseNoteAdded:
	case "":
		return fmt.Errorf("%w: type missing", ErrMalformed)
	default:
		return fmt.Errorf("%w: unknown type %q", ErrMalformed, e.Type)
	}
	if e.CaseID <= 0 {
		return fmt.Errorf("%w: %s: case_id missing or not positive", ErrMalformed, e.Type)
	}
	if e.Type == TypeDocumentUploaded && e.DocumentID <= 0 {
		return fmt.Errorf("%w: %s: document_id missing or not positive", ErrMalformed, e.Type)
	}
	if (e.Type == TypeAppointmentScheduled || e.Type == TypeAppointmentCancelled || e.Type == TypeAppointmentRescheduled) &&
		e.AppointmentID <= 0 {
		return fmt.Errorf("%w: %s: appointment_id missing or not positive", ErrMalformed, e.Type)
	}
	if e.Type == TypeCaseNoteAdded && e.NoteID <= 0 {
		return fmt.Errorf("%w: %s: note_id missing or not positive", ErrMalformed, e.Type)
	}
	if e.OccurredAt.IsZero() {
		return fmt.Errorf("%w: %s: occurred_at missing", ErrMalformed, e.Type)
	}
	return nil
}

// Encode validates e and returns its JSON wire form.
func (e Event) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return data, nil
}

// Decode parses and validates one JSON payload. Fields it does not know are
// ignored, so services may add some; anything Validate refuses, a wrong JSON
// type or trailing data is an error wrapping ErrMalformed.
func Decode(data []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Bus carries events between publishers and subscribers; with a broker
// adapter, between every replica. Its methods are safe for concurrent use.
type Bus interface {
	// Publish sends e to every subscriber of every replica. It validates e
	// first (ErrMalformed) and never waits for a subscriber; it may wait for
	// the broker, up to ctx. After Close it returns ErrClosed.
	Publish(ctx context.Context, e Event) error
	// Subscribe returns a subscription that receives every event published
	// from now on until ctx ends, the subscriber falls too far behind, or
	// the Bus closes. After Close it returns ErrClosed.
	Subscribe(ctx context.Context) (Subscription, error)
	// Stats returns the counters of this Bus (this replica).
	Stats() Stats
	// Ping reports whether the Bus is connected to its broker now, within
	// ctx; the in-process bus always is. After Close it returns ErrClosed.
	// A replica's readiness asks it: while the broker is away, new
	// subscriptions there would wait for events that do not come.
	Ping(ctx context.Context) error
	// Close ends every subscription (Err() = ErrClosed) and releases the
	// broker connection. It is safe to call more than once.
	Close() error
}

// Publisher sends opaque payloads on one topic of a broker, for a writer
// that never reads the bus back (the audit trail's sink): unlike a Bus it
// keeps no subscription and does not check what it sends. Publish returns
// nil only once the broker has confirmed the payload (each adapter says what
// its confirmation means), and an error when it has not by the end of ctx.
// Its methods are safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, payload []byte) error
	// Close releases the broker connection.
	Close() error
}

// Subscription is one subscriber's stream of events.
type Subscription interface {
	// Events returns the channel events arrive on, in order. It is closed
	// when the subscription ends; events already buffered can still be
	// read before it reports closed.
	Events() <-chan Event
	// Err is nil while the subscription is open. Once Events is closed it
	// says why: ctx.Err() of the context given to Subscribe,
	// ErrSlowConsumer, or ErrClosed.
	Err() error
}

// Stats are counters of one Bus since it was opened.
type Stats struct {
	// Received counts valid events that reached this Bus (from the broker,
	// or published in-process).
	Received uint64
	// Delivered counts events handed to subscribers: one per subscriber
	// per event.
	Delivered uint64
	// Dropped counts subscribers dropped because their buffer was full.
	Dropped uint64
	// Malformed counts payloads that were not valid events and were
	// skipped.
	Malformed uint64
	// Subscribers is the number of subscriptions open now.
	Subscribers int
}

// Options configure a Bus. The zero value means the defaults.
type Options struct {
	// Topic is the NATS subject, Redis channel or Kafka topic; default
	// DefaultTopic. The in-process bus ignores it.
	Topic string
	// BufferSize is how many events each subscriber may have waiting before
	// it is dropped; default DefaultBufferSize.
	BufferSize int
	// MinBackoff and MaxBackoff bound the wait between reconnect attempts
	// to a broker that went away: the first waits about MinBackoff, each
	// next one twice as long, up to MaxBackoff, with jitter. Defaults 100ms
	// and 5s; tests make them milliseconds.
	MinBackoff, MaxBackoff time.Duration
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	return o
}

// Backoff returns the wait before reconnect attempt number attempt (0 or 1
// for the first): MinBackoff doubled per attempt, capped at MaxBackoff, of
// which a random half is taken off so replicas do not reconnect in step.
func (o Options) Backoff(attempt int) time.Duration {
	o = o.WithDefaults()
	d := o.MinBackoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}
