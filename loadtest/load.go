package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one bounded stretch of load.
type loadSpec struct {
	client      *http.Client
	url         string
	body        []byte
	header      http.Header
	concurrency int
	duration    time.Duration // 0: no time limit
	maxRequests int           // 0: no count limit
}

// errKind classifies a failed request.
type errKind int

const (
	errNone      errKind = iota
	errHTTP              // status other than 200
	errTransport         // no response: dial, reset, timeout
	errGraphQL           // 200 with a non-empty "errors" array
	errDecode            // 200 whose body is not a JSON object
)

// ErrorCounts counts failed requests by kind; each failed request counts
// once, under the first kind that applies in field order.
type ErrorCounts struct {
	HTTP      int `json:"http"`      // status other than 200
	Transport int `json:"transport"` // no complete response: dial, reset, timeout
	GraphQL   int `json:"graphql"`   // 200 with a non-empty "errors" array
	Decode    int `json:"decode"`    // 200 whose body is not a JSON object
}

// Total is the number of failed requests.
func (e ErrorCounts) Total() int { return e.HTTP + e.Transport + e.GraphQL + e.Decode }

func (e *ErrorCounts) add(k errKind) {
	switch k {
	case errHTTP:
		e.HTTP++
	case errTransport:
		e.Transport++
	case errGraphQL:
		e.GraphQL++
	case errDecode:
		e.Decode++
	}
}

func (e *ErrorCounts) merge(o ErrorCounts) {
	e.HTTP += o.HTTP
	e.Transport += o.Transport
	e.GraphQL += o.GraphQL
	e.Decode += o.Decode
}

// tally is what workers observed. latencies holds successful requests only:
// a failure that returns at once (a refused dial, a fast 500) would otherwise
// make the percentiles look better the more the target fails.
type tally struct {
	requests  int // completed requests, failed ones included
	latencies []time.Duration
	errs      ErrorCounts
	sample    string // the first failure seen, for the operator
}

// worker owns its tally and read buffer, so the hot loop shares nothing but
// the request counter.
type worker struct {
	spec *loadSpec
	buf  bytes.Buffer
	t    tally
}

// runLoad runs spec.concurrency workers until spec.duration has passed or
// spec.maxRequests requests were started, and returns their merged tally and
// the elapsed wall time. Requests in flight when the time is up are allowed
// to finish and are counted, and elapsed includes them, so the rate stays
// requests over the time they took. If ctx ends, in-flight requests are
// cancelled and ctx's error is returned.
func runLoad(ctx context.Context, spec loadSpec) (tally, time.Duration, error) {
	stop, cancel := ctx, context.CancelFunc(func() {})
	if spec.duration > 0 {
		stop, cancel = context.WithTimeout(ctx, spec.duration)
	}
	defer cancel()

	workers := make([]worker, spec.concurrency)
	var issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.spec = &spec
		if spec.maxRequests > 0 {
			w.t.latencies = make([]time.Duration, 0, spec.maxRequests/spec.concurrency+1)
		}
		wg.Go(func() { w.loop(ctx, stop, &issued) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return tally{}, elapsed, err
	}

	var all tally
	n := 0
	for i := range workers {
		n += len(workers[i].t.latencies)
	}
	all.latencies = make([]time.Duration, 0, n)
	for i := range workers {
		t := &workers[i].t
		all.requests += t.requests
		all.latencies = append(all.latencies, t.latencies...)
		all.errs.merge(t.errs)
		if all.sample == "" {
			all.sample = t.sample
		}
	}
	return all, elapsed, nil
}

// loop sends requests until stop ends or the request budget is spent.
// Requests use ctx, not stop, so the time limit never cuts one short.
func (w *worker) loop(ctx, stop context.Context, issued *atomic.Int64) {
	budget := int64(w.spec.maxRequests)
	for stop.Err() == nil {
		if budget > 0 && issued.Add(1) > budget {
			return
		}
		kind, detail, lat := w.do(ctx)
		if ctx.Err() != nil {
			return // cancelled by the caller, not failed by the target
		}
		w.t.requests++
		if kind == errNone {
			w.t.latencies = append(w.t.latencies, lat)
			continue
		}
		w.t.errs.add(kind)
		if w.t.sample == "" {
			w.t.sample = detail
		}
	}
}

// do sends one request and reads the whole response, as a client would. The
// latency is the time until the last byte of the answer arrived: checking
// the answer is the load tool's own work (a third of a millisecond for the
// case board), not the gateway's.
func (w *worker) do(ctx context.Context) (errKind, string, time.Duration) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.spec.url, bytes.NewReader(w.spec.body))
	if err != nil {
		return errTransport, err.Error(), time.Since(start)
	}
	for name, values := range w.spec.header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := w.spec.client.Do(req)
	if err != nil {
		return errTransport, err.Error(), time.Since(start)
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	lat := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return errTransport, "reading response: " + err.Error(), lat
	}
	kind, detail := classify(resp.StatusCode, w.buf.Bytes())
	return kind, detail, lat
}

// classify decides whether a complete response is a success. Only the
// "errors" member is decoded: that is all a failure check needs.
func classify(status int, body []byte) (errKind, string) {
	if status != http.StatusOK {
		return errHTTP, fmt.Sprintf("HTTP %d: %s", status, snippet(body))
	}
	var r struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return errDecode, fmt.Sprintf("decoding response: %v: %s", err, snippet(body))
	}
	if len(r.Errors) > 0 {
		return errGraphQL, fmt.Sprintf("GraphQL error %s (%d in the response)", snippet(r.Errors[0]), len(r.Errors))
	}
	return errNone, ""
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const limit = 200
	b = bytes.TrimSpace(b)
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}

// newLoadClient returns the client every worker shares. Its pool keeps an
// idle connection per worker: with the default of two per host, most
// requests would dial a new TCP connection and the test would measure that.
func newLoadClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: newTransport(concurrency)}
}

func newTransport(idle int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // go straight to the target; a proxy would be measured too
	tr.MaxIdleConns = idle
	tr.MaxIdleConnsPerHost = idle
	return tr
}
