package gateway

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/events/eventstest"
	"github.com/stacker/stacker/idempotency"
)

const scheduleKeyed = `mutation($input: ScheduleAppointmentInput!) { scheduleAppointment(input: $input) {
	appointment { id startsAt } userErrors { field message } } }`

// booking is a scheduleAppointment's variables; each test books its own
// slot so the demo store's appointments tell the tests apart.
func booking(startsAt string) map[string]any {
	return map[string]any{"input": map[string]any{"caseId": "12", "doctorId": "7", "startsAt": startsAt}}
}

// answer is one keyed request's outcome.
type answer struct {
	status   int
	body     string
	replayed bool
}

func keyed(t testing.TB, e *testEnv, key, query string, vars map[string]any) answer {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set(idempotency.Header, key)
	}
	status, body, header := rawExchange(t, e, h, query, vars)
	return answer{status: status, body: string(body), replayed: header.Get(idempotency.ReplayedHeader) == "true"}
}

func (a answer) code() string {
	var r struct {
		Errors []gqlError `json:"errors"`
	}
	json.Unmarshal([]byte(a.body), &r)
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// booked counts the appointments the demo store holds at startsAt.
func booked(e *testEnv, startsAt string) int {
	n := 0
	for _, a := range e.Store.AppointmentsByCase(12) {
		if a.StartsAt.Format(time.RFC3339) == startsAt {
			n++
		}
	}
	return n
}

func TestIdempotencyKey(t *testing.T) {
	e := startStacker(t, nil)
	tests := []struct {
		name string
		// run sends the requests and returns what the last one got.
		run          func(t *testing.T, slot string) []answer
		wantCalls    int    // POSTs to the appointments service
		wantBooked   int    // appointments made at the slot
		wantCode     string // of the last answer
		wantReplayed []bool
		wantSame     bool // every answer's body is the first's
		wantStatus   int  // of the last answer, when not 0
	}{
		{
			name: "the same key twice runs once and replays",
			run: func(t *testing.T, slot string) []answer {
				return []answer{keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot)), keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot))}
			},
			wantCalls: 1, wantBooked: 1, wantReplayed: []bool{false, true}, wantSame: true,
		},
		{
			name: "the same key with other variables is refused and runs nothing",
			run: func(t *testing.T, slot string) []answer {
				first := keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot))
				return []answer{first, keyed(t, e, "k-"+slot, scheduleKeyed, booking("2099-12-31T10:00:00Z"))}
			},
			wantCalls: 1, wantBooked: 1, wantCode: idempotency.CodeKeyReused, wantReplayed: []bool{false, false},
		},
		{
			name: "a refusal is a request error: 400 with the graphql-response media type",
			run: func(t *testing.T, slot string) []answer {
				keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot))
				h := http.Header{"Accept": {"application/graphql-response+json"}, idempotency.Header: {"k-" + slot}}
				status, body, _ := rawExchange(t, e, h, scheduleKeyed, booking("2099-12-31T11:00:00Z"))
				return []answer{{status: status, body: string(body)}}
			},
			wantCalls: 1, wantBooked: 1, wantCode: idempotency.CodeKeyReused, wantStatus: http.StatusBadRequest, wantReplayed: []bool{false},
		},
		{
			name: "no key runs every time",
			run: func(t *testing.T, slot string) []answer {
				return []answer{keyed(t, e, "", scheduleKeyed, booking(slot)), keyed(t, e, "", scheduleKeyed, booking(slot))}
			},
			wantCalls: 2, wantBooked: 2, wantReplayed: []bool{false, false},
		},
		{
			name: "a bad key is refused",
			run: func(t *testing.T, slot string) []answer {
				return []answer{keyed(t, e, "clé-"+slot, scheduleKeyed, booking(slot))}
			},
			wantCode: idempotency.CodeBadKey, wantReplayed: []bool{false},
		},
		{
			name: "queries ignore the key",
			run: func(t *testing.T, slot string) []answer {
				return []answer{keyed(t, e, "k-"+slot, `{ case(id: 12) { id } }`, nil), keyed(t, e, "k-"+slot, `{ case(id: 11) { id } }`, nil)}
			},
			wantReplayed: []bool{false, false},
		},
		{
			name: "two concurrent requests with one key run once",
			run: func(t *testing.T, slot string) []answer {
				// The service is slow, so the second arrives while the
				// first is running.
				e.Inject.Set("appointments", demo.Faults{Latency: 300 * time.Millisecond})
				defer e.Inject.Set("appointments", demo.Faults{})
				out := make([]answer, 2)
				var wg sync.WaitGroup
				for i := range out {
					wg.Go(func() { out[i] = keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot)) })
				}
				wg.Wait()
				if out[0].replayed { // whichever ran is first
					out[0], out[1] = out[1], out[0]
				}
				return out
			},
			wantCalls: 1, wantBooked: 1, wantReplayed: []bool{false, true}, wantSame: true,
		},
		{
			name: "a service that was down does not keep its answer: the retry runs",
			run: func(t *testing.T, slot string) []answer {
				e.Faults.set("appointments", http.StatusServiceUnavailable)
				failed := keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot))
				e.Faults.set("appointments", 0)
				if failed.code() != "UPSTREAM_UNAVAILABLE" {
					t.Errorf("with the service down: %s", failed.body)
				}
				return []answer{failed, keyed(t, e, "k-"+slot, scheduleKeyed, booking(slot))}
			},
			wantCalls: 2, wantBooked: 1, wantReplayed: []bool{false, false},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slot := time.Date(2098, 1, 1+i, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
			e.Demo.ResetCounts()
			got := tc.run(t, slot)
			if n := e.Demo.Requests("appointments"); n != int64(tc.wantCalls) {
				t.Errorf("%d calls to the appointments service, want %d", n, tc.wantCalls)
			}
			if n := booked(e, slot); n != tc.wantBooked {
				t.Errorf("%d appointments booked, want %d", n, tc.wantBooked)
			}
			last := got[len(got)-1]
			if tc.wantStatus != 0 && last.status != tc.wantStatus {
				t.Errorf("last answer's status %d, want %d", last.status, tc.wantStatus)
			}
			if c := last.code(); c != tc.wantCode {
				t.Errorf("last answer's code %q, want %q: %s", c, tc.wantCode, last.body)
			}
			for j, a := range got {
				if a.replayed != tc.wantReplayed[j] {
					t.Errorf("answer %d replayed = %v, want %v", j, a.replayed, tc.wantReplayed[j])
				}
				if tc.wantSame && (a.body != got[0].body || a.status != got[0].status) {
					t.Errorf("answer %d differs from the first:\n%d %s\n%d %s", j, a.status, a.body, got[0].status, got[0].body)
				}
			}
		})
	}
}

// Two replicas sharing one Redis: a retry reaching the other replica
// replays, and the two racing on one key run it once.
func TestIdempotencyAcrossReplicas(t *testing.T) {
	eventstest.RequireServer(t, "redis", "127.0.0.1:6379")
	env := map[string]string{"STACKER_REDIS_URL": "redis://127.0.0.1:6379/0"}
	a := startStacker(t, env)
	b := startReplica(t, a, env)
	run := time.Now().UnixNano() // Redis outlives the test: fresh keys

	t.Run("a retry on the other replica replays", func(t *testing.T) {
		slot, key := "2098-02-01T09:00:00Z", "retry-"+time.Unix(0, run).Format(time.RFC3339Nano)
		a.Demo.ResetCounts()
		first, retry := keyed(t, a, key, scheduleKeyed, booking(slot)), keyed(t, b, key, scheduleKeyed, booking(slot))
		if first.body != retry.body || first.replayed || !retry.replayed {
			t.Errorf("first (replayed %v): %s\nretry (replayed %v): %s", first.replayed, first.body, retry.replayed, retry.body)
		}
		if n, m := a.Demo.Requests("appointments"), booked(a, slot); n != 1 || m != 1 {
			t.Errorf("%d calls, %d appointments; want 1 and 1", n, m)
		}
	})
	t.Run("the replicas racing on one key run it once", func(t *testing.T) {
		slot, key := "2098-02-02T09:00:00Z", "race-"+time.Unix(0, run).Format(time.RFC3339Nano)
		a.Inject.Set("appointments", demo.Faults{Latency: 300 * time.Millisecond})
		defer a.Inject.Set("appointments", demo.Faults{})
		a.Demo.ResetCounts()
		var got [2]answer
		var wg sync.WaitGroup
		for i, e := range []*testEnv{a, b} {
			wg.Go(func() { got[i] = keyed(t, e, key, scheduleKeyed, booking(slot)) })
		}
		wg.Wait()
		if got[0].body != got[1].body || got[0].replayed == got[1].replayed {
			t.Errorf("a (replayed %v): %s\nb (replayed %v): %s", got[0].replayed, got[0].body, got[1].replayed, got[1].body)
		}
		if n, m := a.Demo.Requests("appointments"), booked(a, slot); n != 1 || m != 1 {
			t.Errorf("%d calls, %d appointments; want 1 and 1", n, m)
		}
	})
}
