package gateway

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/internal/testsync"
)

// BenchmarkSubscriptionFanOut: 1,000 subscribers on one replica (10
// WebSocket connections of 100 subscriptions) to caseUpdated with a
// selection that needs the patient and the assignee; 100 events, each caused
// by a mutation. It reports delivery latency (from sending the mutation to a
// subscriber reading the event), upstream calls per event, and memory and
// goroutines per subscription. Run with:
//
//	go test -run '^$' -bench SubscriptionFanOut -benchtime 1x .
func BenchmarkSubscriptionFanOut(b *testing.B) {
	for range b.N {
		subscriptionFanOut(b)
	}
}

func subscriptionFanOut(b *testing.B) {
	const conns, perConn, events = 10, 100, 100
	tb := testing.TB(b)
	e := startStacker(tb, map[string]string{"STACKER_EVENTS_URL": natsTopicB(b), "STACKER_LOG_LEVEL": "debug"})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	clients := make([]*wsClient, conns)
	for i := range clients {
		clients[i] = dialWSB(b, e.Base)
		for j := range perConn {
			clients[i].subscribe(fmt.Sprint(j), `subscription { caseUpdated { caseId case { status patient { fullName } assignee { name } } } }`)
		}
	}
	testsync.WaitFor(b, "every subscription", func() bool { return e.liveSubs() == conns*perConn })
	// A first event proves every subscription is live before measuring.
	e.mustDo(tb, updateCaseStatus, map[string]any{"id": 1, "s": "IN_REVIEW"}, nil)
	for _, c := range clients {
		for range perConn {
			c.next()
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()

	e.Demo.ResetCounts()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for range perConn * events {
				m := c.next()
				payload, _ := m["payload"].(map[string]any)
				data, _ := payload["data"].(map[string]any)
				ev, _ := data["caseUpdated"].(map[string]any)
				id, _ := ev["caseId"].(string)
				mu.Lock()
				lat = append(lat, time.Since(sent[id]))
				mu.Unlock()
			}
		})
	}
	b.ResetTimer()
	for i := range events {
		id := fmt.Sprint(100 + i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		e.mustDo(tb, updateCaseStatus, map[string]any{"id": id, "s": "CLOSED"}, nil)
	}
	wg.Wait()
	b.StopTimer()

	slices.Sort(lat)
	calls := e.Demo.Snapshot()
	perEvent := float64(calls["patients"]+calls["staff"]+calls["cases"]-events) / events // minus the PATCHes
	subs := float64(conns * perConn)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(perEvent, "upstream-calls/event")
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/subs, "heap-B/sub")
	b.ReportMetric(float64(g1-g0)/subs, "goroutines/sub")
}
