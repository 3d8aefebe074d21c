package rehearsal

// What a rehearsal found, and the check of the subscribers' events against
// the mutations.

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Restart is one replica's restart.
type Restart struct {
	Replica string
	// Signalled is the SIGTERM; Exited the process's exit; Ready its
	// successor's first 200 from /readyz; InRotation when haproxy sent to
	// it again (its status UP).
	Signalled, Exited, Ready, InRotation time.Time
	ExitErr                              string // a non-zero exit status
}

// Report is what the clients saw. The restart window is [Start, End]: the
// first SIGTERM to the last replica back in haproxy's rotation.
type Report struct {
	Replicas, Subscribers int
	Start, End            time.Time
	Restarts              []Restart

	Queries, QueriesFailed     int
	Mutations, MutationsFailed int
	APQMisses                  int      // hashes a replica did not know: one per worker at the start
	Failures                   []string // the first few failed calls
	Ambiguous                  int      // mutations sharing (case, updatedAt): not checkable; none by construction

	// Disconnects counts subscribers' connections that ended during the
	// run, by close code (-1: dropped without one; -2: the subscription
	// ended with error or complete). Back counts subscribers whose last
	// connection is open and delivering at the end; MaxReconnect is the
	// longest time from a connection's end to the next connection_ack.
	Disconnects   int
	CloseCodes    map[int]int
	Back          int
	MaxReconnect  time.Duration
	DialFailures  []string
	FirstReplicas map[string]int // where each subscriber's first connection went
	Connections   map[string]int // every connection, by replica

	// Expected counts (subscriber connection, mutation) pairs whose event
	// the connection must deliver: the mutation was sent after the
	// connection's first event and answered before the connection ended or
	// its replica got SIGTERM (or the load stopped). Missed of these did not
	// arrive; MissedSamples names a few.
	Expected, Missed int
	MissedSamples    []string
	Delivered        int // every event delivered, required or not

	QueryLatency, MutationLatency             Latency // in the restart window
	QueryLatencyAll, MutationLatencyAll       Latency // the whole run
	QueriesInWindow, MutationsInWindow        int
	QueriesFailedInWindow, MutationsFailedInW int
}

// Latency is a set of percentiles.
type Latency struct{ P50, P99, Max time.Duration }

func latency(calls []call, from, to time.Time) (Latency, int, int) {
	var d []time.Duration
	failed := 0
	for _, c := range calls {
		if c.sent.Before(from) || c.sent.After(to) {
			continue
		}
		d = append(d, c.answered.Sub(c.sent))
		if c.err != "" {
			failed++
		}
	}
	if len(d) == 0 {
		return Latency{}, 0, 0
	}
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return Latency{P50: q(0.50), P99: q(0.99), Max: d[len(d)-1]}, len(d), failed
}

// OK is the rehearsal's verdict: no failed query or mutation, every
// subscriber back, no required event missed, and there was something to
// check.
func (r *Report) OK() bool {
	return r.QueriesFailed == 0 && r.MutationsFailed == 0 && r.Back == r.Subscribers &&
		r.Missed == 0 && r.Ambiguous == 0 && r.Expected > 0 && r.Queries > 0 && r.Mutations > 0
}

// check computes the report from the calls and the subscribers' epochs;
// a connection that ended after loadStopped counts as open at the end.
func (r *Report) check(rec *recorder, subs []*subscriber, loadStopped time.Time) *Report {
	out := &Report{Replicas: r.Replicas, Subscribers: r.Subscribers, Start: r.Start, End: r.End, Restarts: r.Restarts,
		CloseCodes: map[int]int{}, FirstReplicas: map[string]int{}, Connections: map[string]int{}}
	rec.mu.Lock()
	queries := slices.Clone(rec.queries)
	mutations := slices.Clone(rec.mutations)
	out.APQMisses = rec.apqMisses
	rec.mu.Unlock()

	fail := func(kind string, c call) {
		if len(out.Failures) < 10 {
			out.Failures = append(out.Failures, fmt.Sprintf("%s %s via %q after %s: %s", c.sent.Format("15:04:05.000"), kind, c.replica, c.answered.Sub(c.sent).Round(time.Millisecond), c.err))
		}
	}
	for _, c := range queries {
		out.Queries++
		if c.err != "" {
			out.QueriesFailed++
			fail("query", c)
		}
	}
	seen := map[string]int{}
	for _, c := range mutations {
		out.Mutations++
		if c.err != "" {
			out.MutationsFailed++
			fail("mutation", c)
			continue
		}
		seen[c.caseID+" "+c.updatedAt]++
	}
	for _, n := range seen {
		if n > 1 {
			out.Ambiguous += n
		}
	}
	out.QueryLatency, out.QueriesInWindow, out.QueriesFailedInWindow = latency(queries, r.Start, r.End)
	out.MutationLatency, out.MutationsInWindow, out.MutationsFailedInW = latency(mutations, r.Start, r.End)
	out.QueryLatencyAll, _, _ = latency(queries, time.Time{}, loadStopped)
	out.MutationLatencyAll, _, _ = latency(mutations, time.Time{}, loadStopped)

	for _, s := range subs {
		epochs := s.snapshot()
		s.mu.Lock()
		out.DialFailures = append(out.DialFailures, s.fails...)
		s.mu.Unlock()
		for i, e := range epochs {
			if i == 0 {
				out.FirstReplicas[e.replica]++
			}
			out.Connections[e.replica]++
			open := e.ended.IsZero() || e.ended.After(loadStopped)
			last := i == len(epochs)-1
			if !open {
				out.Disconnects++
				out.CloseCodes[e.closeCode]++
				if !last {
					out.MaxReconnect = max(out.MaxReconnect, epochs[i+1].acked.Sub(e.ended))
				}
			}
			if last && open && !e.marker.IsZero() {
				out.Back++
			}
			out.Delivered += len(e.events)
			if e.marker.IsZero() {
				continue
			}
			end := loadStopped
			if !open {
				end = e.ended
			}
			for _, rs := range r.Restarts {
				if rs.Replica == e.replica && rs.Signalled.After(e.acked) && rs.Signalled.Before(end) {
					end = rs.Signalled
				}
			}
			for _, m := range mutations {
				if m.err != "" || !m.sent.After(e.marker) || !m.answered.Before(end) {
					continue
				}
				out.Expected++
				if _, ok := e.events[m.caseID+" "+m.updatedAt]; !ok {
					out.Missed++
					if len(out.MissedSamples) < 10 {
						out.MissedSamples = append(out.MissedSamples, fmt.Sprintf("subscriber %d on %s (connection %d, first event %s): case %s at %s, mutation sent %s answered %s",
							s.id, e.replica, i+1, e.marker.Format("15:04:05.000"), m.caseID, m.updatedAt, m.sent.Format("15:04:05.000"), m.answered.Format("15:04:05.000")))
					}
				}
			}
		}
	}
	return out
}

// Print writes the report for a person.
func (r *Report) Print(w io.Writer) {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "rolling restart rehearsal: %s\n", verdict)
	fmt.Fprintf(w, "  %d replicas behind haproxy restarted one by one in %.1fs\n", r.Replicas, r.End.Sub(r.Start).Seconds())
	for _, rs := range r.Restarts {
		fmt.Fprintf(w, "    %s: exit %.1fs after SIGTERM%s, ready %.1fs later, back in rotation %.1fs after that\n", rs.Replica,
			rs.Exited.Sub(rs.Signalled).Seconds(), map[bool]string{true: " (" + rs.ExitErr + ")"}[rs.ExitErr != ""],
			rs.Ready.Sub(rs.Exited).Seconds(), rs.InRotation.Sub(rs.Ready).Seconds())
	}
	fmt.Fprintf(w, "  queries    %6d ok %4d failed  (in the restart window %d, %d failed; %d persisted-query misses)\n",
		r.Queries-r.QueriesFailed, r.QueriesFailed, r.QueriesInWindow, r.QueriesFailedInWindow, r.APQMisses)
	fmt.Fprintf(w, "  mutations  %6d ok %4d failed  (in the restart window %d, %d failed)\n",
		r.Mutations-r.MutationsFailed, r.MutationsFailed, r.MutationsInWindow, r.MutationsFailedInW)
	fmt.Fprintf(w, "  latency in the restart window: queries p50 %s p99 %s max %s; mutations p50 %s p99 %s max %s\n",
		ms(r.QueryLatency.P50), ms(r.QueryLatency.P99), ms(r.QueryLatency.Max), ms(r.MutationLatency.P50), ms(r.MutationLatency.P99), ms(r.MutationLatency.Max))
	fmt.Fprintf(w, "  latency over the whole run:    queries p50 %s p99 %s max %s; mutations p50 %s p99 %s max %s\n",
		ms(r.QueryLatencyAll.P50), ms(r.QueryLatencyAll.P99), ms(r.QueryLatencyAll.Max), ms(r.MutationLatencyAll.P50), ms(r.MutationLatencyAll.P99), ms(r.MutationLatencyAll.Max))
	fmt.Fprintf(w, "  subscribers %d: first connections %s; %d disconnects (close codes %s), %d/%d back and delivering, longest reconnect %s, %d failed dials\n",
		r.Subscribers, counts(r.FirstReplicas), r.Disconnects, counts(r.CloseCodes), r.Back, r.Subscribers, ms(r.MaxReconnect), len(r.DialFailures))
	fmt.Fprintf(w, "  events after (re)subscription: %d expected, %d missed (%d delivered in all)\n", r.Expected, r.Missed, r.Delivered)
	if r.Ambiguous > 0 {
		fmt.Fprintf(w, "  %d mutations share a (case, updatedAt) pair and could not be checked\n", r.Ambiguous)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  failed: %s\n", f)
	}
	for _, m := range r.MissedSamples {
		fmt.Fprintf(w, "  missed: %s\n", m)
	}
	for i, f := range r.DialFailures {
		if i == 5 {
			break
		}
		fmt.Fprintf(w, "  dial failed: %s\n", f)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func counts[K comparable](m map[K]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%v: %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
