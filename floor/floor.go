// Package floor is the measuring floor under the gateway: a hand-written
// aggregator, run as `stacker floor`, that answers the case board
// (operations/CaseBoard.graphql) with the same upstream calls and the same
// JSON bytes as the gateway, but with no GraphQL, no dataloaders and no
// resilience plumbing: net/http, encoding/json and one marshal of plain
// structs. The load command measures it like the gateway (its CPU time and
// peak RSS on /debug/stats), so every figure of the gateway can be quoted as
// a ratio to the floor measured in the same run; no gateway answers the case
// board for less.
//
// It must stay honest to be a floor: nothing is cached between requests,
// every request makes all the calls, and it takes no shortcut the gateway
// could not take. It must also stay small: it measures, it is not a second
// gateway. It reads only variables.first (default 50, at most one page of
// 100 cases) and answers every POST as the case board, whatever the document.
package floor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/upstream"
)

const (
	// defaultFirst is the case board's $first default.
	defaultFirst = 50
	// maxBodyBytes bounds a request body; the case board's is half a KB.
	maxBodyBytes = 1 << 20
	// maxUpstreamBody bounds an upstream answer, as the gateway's clients do.
	maxUpstreamBody = 32 << 20
)

// Handler answers the case board. It is safe for concurrent use.
type Handler struct {
	urls    map[string]string // base URL by service, without a trailing slash
	hc      *http.Client
	timeout time.Duration
}

// New returns a handler calling the services at urls (by name, all of
// config.Services()) through hc, each request bounded by timeout (0: by the
// request's own context only).
func New(urls map[string]string, hc *http.Client, timeout time.Duration) (*Handler, error) {
	var missing []string
	for _, s := range config.Services() {
		if urls[s] == "" {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("floor: no URL for %q", missing)
	}
	return &Handler{urls: urls, hc: hc, timeout: timeout}, nil
}

// ServeHTTP answers a POST with the case board for variables.first: 200
// with {"data": ...}, 400 for a body it cannot read, 502 when a service
// fails. Errors are GraphQL-shaped ({"errors": [{"message": ...}]}), so the
// load command counts them as it would the gateway's.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, errors.New("POST the case board"))
		return
	}
	first, err := readFirst(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx := r.Context()
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	var a answer
	a.Data.Cases, err = h.caseBoard(ctx, first)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	body, err := marshal(a)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// readFirst reads variables.first from a GraphQL request body; the
// document itself is not read.
func readFirst(body io.Reader) (int, error) {
	var req struct {
		Variables struct {
			First *int `json:"first"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		return 0, fmt.Errorf("reading the request: %w", err)
	}
	first := defaultFirst
	if req.Variables.First != nil {
		first = *req.Variables.First
	}
	// One page of the cases service: more would be several list calls, and
	// the floor is for the case board as the console sends it.
	if first < 1 || first > upstream.MaxIDs {
		return 0, fmt.Errorf("first must be between 1 and %d, got %d", upstream.MaxIDs, first)
	}
	return first, nil
}

// marshal is the one encoding of the answer. HTML escaping is off because
// gqlgen writes "&", "<" and ">" as they are; with it on, the bytes would
// differ (and the floor would do work the gateway does not).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func writeError(w http.ResponseWriter, status int, err error) {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// get sends GET base+pathQuery to service and decodes its 200 answer into
// out. Any other status, or a body that does not decode, is an error naming
// the service.
func (h *Handler) get(ctx context.Context, service, pathQuery string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.urls[service]+pathQuery, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keeps the connection
		return fmt.Errorf("%s: HTTP %d", service, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", service, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", service, err)
	}
	return nil
}
