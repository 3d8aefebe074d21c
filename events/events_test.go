package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDecode(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name    string
		payload string
		want    events.Event
	}{
		{
			name:    "case updated",
			payload: `{"type":"case.updated","case_id":12,"changed":["status","priority"],"occurred_at":"2026-05-06T07:08:09Z"}`,
			want:    events.Event{Type: events.TypeCaseUpdated, CaseID: 12, Changed: []string{"status", "priority"}, OccurredAt: at},
		},
		{
			name:    "document uploaded",
			payload: `{"type":"document.uploaded","case_id":12,"document_id":5,"occurred_at":"2026-05-06T07:08:09Z"}`,
			want:    events.Event{Type: events.TypeDocumentUploaded, CaseID: 12, DocumentID: 5, OccurredAt: at},
		},
		{
			name:    "appointment scheduled, with an offset and a field from the future",
			payload: `{"type":"appointment.scheduled","case_id":12,"appointment_id":9,"occurred_at":"2026-05-06T09:08:09+02:00","by":"staff:3"}`,
			want:    events.Event{Type: events.TypeAppointmentScheduled, CaseID: 12, AppointmentID: 9, OccurredAt: at},
		},
		{
			name:    "appointment cancelled",
			payload: `{"type":"appointment.cancelled","case_id":12,"appointment_id":9,"occurred_at":"2026-05-06T07:08:09Z"}`,
			want:    events.Event{Type: events.TypeAppointmentCancelled, CaseID: 12, AppointmentID: 9, OccurredAt: at},
		},
		{
			name:    "appointment rescheduled",
			payload: `{"type":"appointment.rescheduled","case_id":12,"appointment_id":9,"occurred_at":"2026-05-06T07:08:09Z"}`,
			want:    events.Event{Type: events.TypeAppointmentRescheduled, CaseID: 12, AppointmentID: 9, OccurredAt: at},
		},
		{
			name:    "case note added",
			payload: `{"type":"case.note_added","case_id":12,"note_id":31,"occurred_at":"2026-05-06T07:08:09Z"}`,
			want:    events.Event{Type: events.TypeCaseNoteAdded, CaseID: 12, NoteID: 31, OccurredAt: at},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.Decode([]byte(tc.payload))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !eventstest.SameEvent(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			data, err := got.Encode()
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			again, err := events.Decode(data)
			if err != nil || !eventstest.SameEvent(again, got) {
				t.Errorf("round trip of %s: %+v, %v", data, again, err)
			}
		})
	}
}

// A case.note_added names its note, as a document.uploaded its document:
// without one, a subscriber would have nothing to load.
func TestDecodeNoteAddedWithoutNote(t *testing.T) {
	for _, p := range []string{
		`{"type":"case.note_added","case_id":7,"occurred_at":"2026-01-01T00:00:00Z"}`,
		`{"type":"case.note_added","case_id":7,"note_id":0,"occurred_at":"2026-01-01T00:00:00Z"}`,
		`{"type":"case.note_added","case_id":7,"note_id":-3,"occurred_at":"2026-01-01T00:00:00Z"}`,
	} {
		t.Run(p, func(t *testing.T) {
			if e, err := events.Decode([]byte(p)); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Decode = %+v, %v; want ErrMalformed", e, err)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, p := range eventstest.MalformedPayloads {
		t.Run(p, func(t *testing.T) {
			if e, err := events.Decode([]byte(p)); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Decode = %+v, %v; want ErrMalformed", e, err)
			}
		})
	}
}

// TestDecodeAppointmentWithoutID: every appointment event names its
// appointment; the subscription could not load it otherwise.
func TestDecodeAppointmentWithoutID(t *testing.T) {
	for _, typ := range []string{events.TypeAppointmentScheduled, events.TypeAppointmentCancelled, events.TypeAppointmentRescheduled} {
		for _, id := range []string{``, `,"appointment_id":0`, `,"appointment_id":-3`} {
			p := `{"type":"` + typ + `","case_id":12` + id + `,"occurred_at":"2026-05-06T07:08:09Z"}`
			t.Run(p, func(t *testing.T) {
				if e, err := events.Decode([]byte(p)); !errors.Is(err, events.ErrMalformed) {
					t.Errorf("Decode = %+v, %v; want ErrMalformed", e, err)
				}
			})
		}
	}
}

func TestEncodeShape(t *testing.T) {
	e := events.Event{Type: events.TypeDocumentUploaded, CaseID: 3, DocumentID: 4, OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"document.uploaded","case_id":3,"document_id":4,"occurred_at":"2026-01-02T03:04:05Z"}`; string(data) != want {
		t.Errorf("Encode = %s, want %s", data, want)
	}
	if _, err := (events.Event{Type: events.TypeCaseUpdated}).Encode(); !errors.Is(err, events.ErrMalformed) {
		t.Errorf("Encode of an event without case_id: %v, want ErrMalformed", err)
	}
}

func TestBackoff(t *testing.T) {
	o := events.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond}
	for attempt, ceiling := range []time.Duration{10, 10, 20, 40, 80, 80, 80} {
		ceiling *= time.Millisecond
		for range 50 {
			if d := o.Backoff(attempt); d < ceiling/2 || d > ceiling {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := (events.Options{}).Backoff(100); d > 5*time.Second {
		t.Errorf("default Backoff(100) = %v, want at most 5s", d)
	}
}

// TestHubBurst: a burst larger than the buffer drops a subscriber that is
// not reading, at once, and leaves one whose buffer fits it alone.
func TestHubBurst(t *testing.T) {
	h := events.NewHub(eventstest.Logger(t), 4)
	defer h.Close()
	idle, err := h.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reader, err := h.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for seq := range int64(4) {
		h.Deliver(eventstest.Event(1, seq+1))
	}
	eventstest.Receive(t, reader, 4)
	h.Deliver(eventstest.Event(1, 5)) // idle's buffer is full: dropped; reader's is empty
	if got := eventstest.WaitClosed(t, idle); len(got) != 4 || !errors.Is(idle.Err(), events.ErrSlowConsumer) {
		t.Errorf("idle subscriber: %d buffered events, Err() = %v; want 4 and ErrSlowConsumer", len(got), idle.Err())
	}
	if got := eventstest.Receive(t, reader, 1); got[0].DocumentID != 5 {
		t.Errorf("reader got seq %d, want 5", got[0].DocumentID)
	}
	if st := h.Stats(); st != (events.Stats{Received: 5, Delivered: 9, Dropped: 1, Subscribers: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

// TestHubConcurrent runs deliveries, subscribes and cancels at once, for the
// race detector.
func TestHubConcurrent(t *testing.T) {
	h := events.NewHub(nil, 8)
	var publishers, subscribers sync.WaitGroup
	for p := range 4 {
		publishers.Go(func() {
			for seq := range int64(200) {
				h.Deliver(eventstest.Event(int64(p+1), seq+1))
			}
		})
	}
	for range 20 {
		subscribers.Go(func() {
			ctx, cancel := context.WithCancel(t.Context())
			sub, err := h.Subscribe(ctx)
			if err != nil {
				if !errors.Is(err, events.ErrClosed) { // this one came after Close
					t.Error(err)
				}
				cancel()
				return
			}
			for range 5 {
				if _, ok := <-sub.Events(); !ok {
					break
				}
			}
			cancel()
			for range sub.Events() {
			}
		})
	}
	publishers.Wait()
	h.Close() // ends the subscribers still waiting for a fifth event
	subscribers.Wait()
	if st := h.Stats(); st.Subscribers != 0 {
		t.Errorf("Stats = %+v, want no subscriber left", st)
	}
}
