package rehearsal

// The closed-loop load: workers that each keep one case-board query or one
// updateCase mutation in flight through haproxy, recording every outcome.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/stacker/stacker/operations"
)

// caseBoardVars keeps the board at 20 cases: each query still makes the
// board's full fan-out (eight services), but leaves the two shared cores
// room for the replicas' restarts.
var caseBoardVars = map[string]any{"first": 20}

const updateCasePriority = `mutation Rehearsal($id: ID!, $p: CasePriority!) {
  updateCase(input: {id: $id, priority: $p}) { case { id updatedAt } userErrors { field message } }
}`

// call is one query or mutation as the client saw it.
type call struct {
	sent, answered time.Time
	err            string // empty when it succeeded
	replica        string // X-Stacker-Replica of the answer
	// A mutation's case and its updatedAt after the change: the event it
	// publishes carries the same pair (caseId, occurredAt).
	caseID, updatedAt string
}

// recorder collects the calls of all workers.
type recorder struct {
	mu        sync.Mutex
	queries   []call
	mutations []call
	apqMisses int // persisted-query hashes a replica did not know (Redis shares them)
}

func (r *recorder) add(mutation bool, c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mutation {
		r.mutations = append(r.mutations, c)
	} else {
		r.queries = append(r.queries, c)
	}
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// post sends one GraphQL request; the error says why it failed (transport,
// status, GraphQL errors).
func post(ctx context.Context, hc *http.Client, url string, body map[string]any) (*gqlResponse, string, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	replica := resp.Header.Get("X-Stacker-Replica")
	if err != nil {
		return nil, replica, fmt.Errorf("reading the answer: %w", err)
	}
	var g gqlResponse
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, replica, fmt.Errorf("status %d, not JSON: %.200s", resp.StatusCode, raw)
	}
	return &g, replica, nil
}

func (g *gqlResponse) code() string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

// queryWorker loads the case board with automatic persisted queries: the
// hash alone, then the document when the replica answers
// PERSISTED_QUERY_NOT_FOUND. Replicas share the hashes through Redis, so
// after the first miss a restarted replica should know them too.
func queryWorker(ctx context.Context, hc *http.Client, url string, rec *recorder) {
	doc := operations.CaseBoard
	sum := sha256.Sum256([]byte(doc))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	for ctx.Err() == nil {
		c := call{sent: time.Now()}
		g, replica, err := post(ctx, hc, url, map[string]any{"variables": caseBoardVars, "extensions": ext})
		if err == nil && g.code() == "PERSISTED_QUERY_NOT_FOUND" {
			rec.mu.Lock()
			rec.apqMisses++
			rec.mu.Unlock()
			g, replica, err = post(ctx, hc, url, map[string]any{"query": doc, "variables": caseBoardVars, "extensions": ext})
		}
		c.answered, c.replica = time.Now(), replica
		switch {
		case ctx.Err() != nil:
			return // the run ended mid-request: not the gateway's failure
		case err != nil:
			c.err = err.Error()
		case len(g.Errors) > 0:
			c.err = "errors: " + g.Errors[0].Message
		case len(g.Data["cases"]) == 0 || string(g.Data["cases"]) == "null":
			c.err = "no data"
		}
		rec.add(false, c)
	}
}

// mutationWorker w of n changes the priority of cases w+1, w+1+n, ... up
// to maxCase, round and round. A case's updatedAt has whole seconds, so
// a case must not change twice in one second for (caseId, updatedAt) to
// name one mutation: with maxCase cases a case comes round again only
// after maxCase/n mutations of this worker (the check counts any
// duplicate anyway).
//
// pause is the think time between a worker's mutations: without one, two
// workers send about 500 a second here, each an event to every
// subscriber, and a replica's one consumer of the bus can fall 256 events
// behind and be dropped by the bus (docs/operating.md).
func mutationWorker(ctx context.Context, hc *http.Client, url string, w, n, maxCase int, pause time.Duration, rec *recorder) {
	priorities := []string{"LOW", "NORMAL", "HIGH"}
	for i := 0; ctx.Err() == nil; i++ {
		id := (w + i*n) % maxCase
		c := call{sent: time.Now(), caseID: fmt.Sprint(id + 1)}
		g, replica, err := post(ctx, hc, url, map[string]any{
			"query":     updateCasePriority,
			"variables": map[string]any{"id": c.caseID, "p": priorities[(i+w)%len(priorities)]},
		})
		c.answered, c.replica = time.Now(), replica
		if ctx.Err() != nil {
			return
		}
		var out struct {
			Case *struct {
				ID        string `json:"id"`
				UpdatedAt string `json:"updatedAt"`
			} `json:"case"`
			UserErrors []struct{ Message string } `json:"userErrors"`
		}
		switch {
		case err != nil:
			c.err = err.Error()
		case len(g.Errors) > 0:
			c.err = "errors: " + g.Errors[0].Message
		case json.Unmarshal(g.Data["updateCase"], &out) != nil || out.Case == nil:
			c.err = "no case in the answer"
		case len(out.UserErrors) > 0:
			c.err = "userErrors: " + out.UserErrors[0].Message
		default:
			c.updatedAt = out.Case.UpdatedAt
		}
		rec.add(true, c)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}
