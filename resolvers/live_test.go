package resolvers

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/memory"
	"github.com/stacker/stacker/loaders"
)

// A subscriber that does not take its events is dropped; the others get
// every event, and the replica limit holds.
func TestLiveDropsSlowSubscribers(t *testing.T) {
	bus := memory.New(slog.New(slog.DiscardHandler), events.Options{})
	defer bus.Close()
	lv := newLive(bus, func() *loaders.Loaders { return &loaders.Loaders{} }, LiveOptions{Buffer: 2, MaxPerReplica: 2}, slog.New(slog.DiscardHandler))
	all := func(events.Event) bool { return true }
	slow, err := lv.add(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := lv.add(context.Background(), all)
	if _, err := lv.add(context.Background(), all); err != ErrTooManyOnReplica {
		t.Errorf("third subscription: %v, want ErrTooManyOnReplica", err)
	}
	ev := events.Event{Type: events.TypeCaseUpdated, CaseID: 1, OccurredAt: time.Now()}
	for range 5 {
		lv.fanOut([]events.Event{ev})
		if d := <-fast.ch; len(d.events) != 1 || d.l == nil {
			t.Fatalf("fast subscriber got %+v", d)
		}
	}
	if !slow.dropped.Load() {
		t.Error("the slow subscriber was not dropped")
	}
	n := 0
	for range slow.ch { // closed after what it had buffered
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber had %d events buffered, want 2", n)
	}
	lv.close()
}
