package rehearsal

// Subscribers: graphql-transport-ws clients through haproxy that reconnect
// and resubscribe whenever their connection ends (close 1012 when a replica
// shuts down, or a dropped connection), as the graphql-ws npm client does
// with retries on.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	coderws "github.com/coder/websocket"
)

// subscriptionQueries alternate among subscribers: both deliver every case
// change, so every mutation is an event every subscriber should receive.
var subscriptionQueries = []string{
	`subscription { casesChanged { caseId occurredAt } }`,
	`subscription { caseUpdated { caseId occurredAt } }`,
}

// epoch is one connection of a subscriber, from dial to its end.
//
// The marker is the first event the subscription delivers. Receiving it
// proves the subscription was registered on its replica before the event
// reached the replica; events reach a replica in the order they were
// published (one publisher connection in the demo process, one consumer
// per replica, NATS keeps that order), so every event published after the
// marker arrived (a mutation sent after it) reaches the subscription too.
// graphql-transport-ws acknowledges the connection but not a subscription,
// so a fixed settle time after subscribing would be a guess; the marker
// is proof.
type epoch struct {
	replica    string    // X-Stacker-Replica of the upgrade answer
	dialed     time.Time // when the dial began
	acked      time.Time // connection_ack
	marker     time.Time // the first event; zero when none came
	ended      time.Time // zero while open
	closeCode  int       // the WebSocket close code, -1 for a connection lost without one
	closeCause string
	events     map[string]time.Time // "caseId occurredAt" -> when received
}

// subscriber is one client; epochs grows by one per connection.
type subscriber struct {
	id     int
	query  string
	mu     sync.Mutex
	epochs []*epoch
	fails  []string // dial or protocol failures, each followed by a retry
}

func (s *subscriber) snapshot() []epoch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]epoch, len(s.epochs))
	for i, e := range s.epochs {
		out[i] = *e
		out[i].events = make(map[string]time.Time, len(e.events))
		for k, v := range e.events {
			out[i].events[k] = v
		}
	}
	return out
}

// run connects, subscribes and reads until ctx ends, reconnecting at once
// after each connection ends (then every 100ms while dials fail).
func (s *subscriber) run(ctx context.Context, wsURL string) {
	for ctx.Err() == nil {
		if err := s.connection(ctx, wsURL); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.fails = append(s.fails, fmt.Sprintf("%s %v", time.Now().Format("15:04:05.000"), err))
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// connection is one epoch; it returns an error only when it could not
// start (dial, connection_ack).
func (s *subscriber) connection(ctx context.Context, wsURL string) error {
	e := &epoch{dialed: time.Now(), events: map[string]time.Time{}}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := coderws.Dial(dctx, wsURL, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	if resp != nil {
		e.replica = resp.Header.Get("X-Stacker-Replica")
	}
	write := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return conn.Write(ctx, coderws.MessageText, b)
	}
	if err := write(map[string]any{"type": "connection_init", "payload": map[string]any{}}); err != nil {
		return fmt.Errorf("connection_init: %w", err)
	}
	if m, err := readMessage(dctx, conn, write); err != nil || m.Type != "connection_ack" {
		return fmt.Errorf("want connection_ack, got %+v (%v)", m, err)
	}
	e.acked = time.Now()
	if err := write(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": s.query}}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	s.mu.Lock()
	s.epochs = append(s.epochs, e)
	s.mu.Unlock()
	for {
		m, err := readMessage(ctx, conn, write)
		now := time.Now()
		if err != nil {
			s.mu.Lock()
			e.ended, e.closeCode, e.closeCause = now, int(coderws.CloseStatus(err)), err.Error()
			s.mu.Unlock()
			return nil
		}
		if m.Type != "next" {
			// error or complete: the subscription ended while the
			// connection stays; count it and start over.
			s.mu.Lock()
			e.ended, e.closeCode, e.closeCause = now, -2, fmt.Sprintf("%s: %s", m.Type, m.Payload)
			s.mu.Unlock()
			return nil
		}
		var p struct {
			Data map[string]struct {
				CaseID     string `json:"caseId"`
				OccurredAt string `json:"occurredAt"`
			} `json:"data"`
		}
		json.Unmarshal(m.Payload, &p)
		s.mu.Lock()
		for _, ev := range p.Data {
			e.events[ev.CaseID+" "+ev.OccurredAt] = now
		}
		if e.marker.IsZero() {
			e.marker = now
		}
		s.mu.Unlock()
	}
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// readMessage returns the next message that is not a keep-alive, answering
// the server's pings.
func readMessage(ctx context.Context, conn *coderws.Conn, write func(map[string]any) error) (wsMessage, error) {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("not JSON: %.100s", b)
		}
		switch m.Type {
		case "ping":
			if err := write(map[string]any{"type": "pong"}); err != nil {
				return m, err
			}
		case "pong":
		default:
			return m, nil
		}
	}
}

// wsURL is the WebSocket address of an http one.
func wsURL(httpURL string) string { return strings.Replace(httpURL, "http", "ws", 1) }
