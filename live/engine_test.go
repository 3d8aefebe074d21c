package live

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/memory"
	"github.com/stacker/stacker/loaders"
)

// A subscriber that does not take its events is dropped; the others get
// every event, and the replica limit holds.
func TestLiveDropsSlowSubscribers(t *testing.T) {
	bus := memory.New(slog.New(slog.DiscardHandler), events.Options{})
	defer bus.Close()
	lv := New(bus, func() *loaders.Loaders { return &loaders.Loaders{} }, Options{Buffer: 2, MaxPerReplica: 2}, slog.New(slog.DiscardHandler))
	all := func(events.Event) bool { return true }
	slow, err := lv.Add(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := lv.Add(context.Background(), all)
	if _, err := lv.Add(context.Background(), all); err != ErrTooManyOnReplica {
		t.Errorf("third subscription: %v, want ErrTooManyOnReplica", err)
	}
	ev := events.Event{Type: events.TypeCaseUpdated, CaseID: 1, OccurredAt: time.Now()}
	for range 5 {
		lv.fanOut([]events.Event{ev})
		if d := <-fast.C; len(d.Events) != 1 || d.Loaders == nil {
			t.Fatalf("fast subscriber got %+v", d)
		}
	}
	if !slow.dropped.Load() {
		t.Error("the slow subscriber was not dropped")
	}
	if st := lv.Stats(); st != (Stats{Subscriptions: 1, Dropped: 1}) {
		t.Errorf("Stats() = %+v, want the fast subscription open and the slow one dropped", st)
	}
	n := 0
	for range slow.C { // closed after what it had buffered
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber had %d events buffered, want 2", n)
	}
	lv.Close()
}

// A dropped subscriber's WebSocket connection is closed (1013) when it is
// dropped, not when its subscription next runs: that may be never, behind a
// write to a client that stopped reading.
func TestLiveClosesTheConnectionOfADroppedSubscriber(t *testing.T) {
	bus := memory.New(slog.New(slog.DiscardHandler), events.Options{})
	defer bus.Close()
	lv := New(bus, func() *loaders.Loaders { return &loaders.Loaders{} }, Options{Buffer: 2}, slog.New(slog.DiscardHandler))
	defer lv.Close()
	ctx, notice := WithCloseNotice(context.Background())
	conn := lv.WithConnection(ctx)
	if _, err := lv.Add(conn, func(events.Event) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if st := lv.Stats(); st != (Stats{Connections: 1, Subscriptions: 1}) {
		t.Errorf("Stats() = %+v, want one connection with one subscription", st)
	}
	ev := events.Event{Type: events.TypeCaseUpdated, CaseID: 1, OccurredAt: time.Now()}
	for range 3 { // nobody reads: the third does not fit
		lv.fanOut([]events.Event{ev})
	}
	if code, reason, ok := notice.Get(); !ok {
		t.Fatal("the connection was not closed when its subscriber was dropped")
	} else if code != CloseTryAgainLater || !strings.Contains(reason, "reconnect") {
		t.Errorf("close notice %d %q, want 1013 asking to reconnect", code, reason)
	}
	if conn.Err() == nil {
		t.Error("the connection's context is still live")
	}
}

// A burst's loaders are shared by the subscriptions of one caller and by
// no one else: a batch's upstream call carries the identity of whoever
// started it, so shared loaders would fetch one caller's data with
// another's token.
func TestLiveLoadersPerCaller(t *testing.T) {
	bus := memory.New(slog.New(slog.DiscardHandler), events.Options{})
	defer bus.Close()
	made := 0
	lv := New(bus, func() *loaders.Loaders { made++; return &loaders.Loaders{} }, Options{Buffer: 4}, slog.New(slog.DiscardHandler))
	defer lv.Close()
	as := func(token string) context.Context {
		return auth.NewContext(context.Background(), auth.Identity{Subject: token, Token: auth.Token(token)})
	}
	all := func(events.Event) bool { return true }
	subs := map[string]*Sub{}
	for name, ctx := range map[string]context.Context{
		"alice": as("tok-alice"), "alice again": as("tok-alice"), "bob": as("tok-bob"),
		"anonymous": context.Background(), "anonymous again": context.Background(),
	} {
		s, err := lv.Add(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		subs[name] = s
	}
	lv.fanOut([]events.Event{{Type: events.TypeCaseUpdated, CaseID: 1, OccurredAt: time.Now()}})
	got := map[string]*loaders.Loaders{}
	for name, s := range subs {
		got[name] = (<-s.C).Loaders
	}
	if made != 3 {
		t.Errorf("%d loader sets for one burst of three callers, want 3", made)
	}
	if got["alice"] != got["alice again"] || got["anonymous"] != got["anonymous again"] {
		t.Error("one caller's subscriptions do not share the burst's loaders")
	}
	if got["alice"] == got["bob"] || got["alice"] == got["anonymous"] || got["bob"] == got["anonymous"] {
		t.Error("two callers share loaders")
	}
}
