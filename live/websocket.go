package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/stacker/stacker/graphqlhttp"
)

// Close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const (
	CloseBadRequest          = 4400 // a message the protocol does not allow
	CloseUnauthorized        = 4401 // subscribe before connection_ack
	CloseForbidden           = 4403 // a refused connection_init, or the caller's token expired
	CloseInitTimeout         = 4408 // no connection_init in time
	CloseSubscriberExists    = 4409 // subscribe with an id still in use
	CloseTooManyInitRequests = 4429 // a second connection_init
)

// TransportWSProtocol is the WebSocket subprotocol of graphql-ws.
const TransportWSProtocol = "graphql-transport-ws"

// Websockets wraps every connection of a WebSocket implementation in a
// noticedConn.
type Websockets struct {
	transport.WebsocketImplementation
}

// Accept implements transport.WebsocketImplementation.
func (n Websockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := n.WebsocketImplementation.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	notice, ok := CloseNoticeFrom(r.Context())
	if !ok {
		_, notice = WithCloseNotice(r.Context())
	}
	c := &noticedConn{
		WebsocketConn: conn, notice: notice, strict: conn.Subprotocol() == TransportWSProtocol,
		byClient: map[string]string{}, byServer: map[string]*wsOperation{},
	}
	// The request's context ends when the transport is done with the
	// connection, so this goroutine ends with it.
	go c.closeOnNotice(r.Context().Done())
	return c, nil
}

// noticedConn is one WebSocket connection as gqlgen's transport sees it. It
// closes the connection with the code and reason recorded in its notice
// (by the resolvers: shutdown, a client that fell behind; or by itself: a
// protocol error) instead of the transport's plain "1000 terminated", so
// clients know why and whether to reconnect.
//
// On graphql-transport-ws it also enforces what the transport does not:
// messages are validated (4400), subscribe needs connection_ack (4401),
// connection_init comes once (4429) and in time (4408), and an id names one
// operation at a time (4409). The transport keys operations by the client's
// id and would let a second subscribe with that id orphan the first, so
// every subscribe is renamed to an id of the connection's own and renamed
// back on the way out. The legacy graphql-ws passes through unchanged.
type noticedConn struct {
	transport.WebsocketConn
	notice *CloseNotice
	strict bool // graphql-transport-ws

	mu       sync.Mutex
	inited   bool                    // connection_init received
	acked    bool                    // connection_ack sent
	seq      int                     // last server-side id handed out
	byClient map[string]string       // client id -> server id, while the client may use it
	byServer map[string]*wsOperation // server id -> operation, until the transport ends it
}

// wsOperation is one subscribe as the transport runs it.
type wsOperation struct {
	clientID  string
	completed bool // by the client: the transport's last messages for it are not sent
}

// wireMessage is a graphql-transport-ws message.
type wireMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// gqlgenInitTimeout is the reason gqlgen closes with (1002) when
// connection_init does not arrive within its InitTimeout.
const gqlgenInitTimeout = "connection initialisation timeout"

// closeOnNotice closes the connection as soon as its notice is set, without
// waiting for the transport: a transport blocked writing to a client that
// stopped reading would never get to close it.
func (c *noticedConn) closeOnNotice(done <-chan struct{}) {
	select {
	case <-c.notice.Done():
		_ = c.WriteClose(transport.WebsocketCloseNormalClosure, "")
	case <-done:
	}
}

func (c *noticedConn) WriteClose(code int, msg string) error {
	if nc, reason, ok := c.notice.Get(); ok {
		code, msg = nc, reason
	} else if c.strict && code == transport.WebsocketCloseProtocolError && msg == gqlgenInitTimeout {
		code, msg = CloseInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, graphqlhttp.Clip(msg, 120)) // a close frame holds 123 bytes of reason
}

// NextReader returns the client's next message for the transport; on
// graphql-transport-ws, validated and with its id renamed. A message that
// breaks the protocol records the close code and ends the connection.
func (c *noticedConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		if err != nil || !c.strict {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		out, code, reason := c.inbound(data)
		switch {
		case code != 0:
			c.notice.Set(code, reason)
			return typ, nil, fmt.Errorf("graphql-transport-ws: closing with %d: %s", code, reason)
		case out != nil:
			return typ, bytes.NewReader(out), nil
		case reason == "ping":
			// The protocol allows ping at any time; the transport, only
			// after connection_init. Answer here.
			if err := c.WebsocketConn.WriteJSON(wireMessage{Type: "pong"}); err != nil {
				return typ, nil, fmt.Errorf("graphql-transport-ws: answering a ping: %w", err)
			}
		}
	}
}

// inbound checks one client message against the protocol and the
// connection's state. It returns the message to hand to the transport; or
// the close code and reason; or neither, with reason "ping" for a ping to
// answer before connection_init.
func (c *noticedConn) inbound(data []byte) (out []byte, code int, reason string) {
	m, problem := parseClientMessage(data)
	if problem != "" {
		return nil, CloseBadRequest, problem
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if c.inited {
			return nil, CloseTooManyInitRequests, "Too many initialisation requests"
		}
		c.inited = true
	case "ping", "pong":
		if !c.inited {
			return nil, 0, m.Type
		}
	case "subscribe":
		if !c.acked {
			return nil, CloseUnauthorized, "Unauthorized"
		}
		if _, ok := c.byClient[m.ID]; ok {
			return nil, CloseSubscriberExists, "Subscriber for " + m.ID + " already exists"
		}
		c.seq++
		id := strconv.Itoa(c.seq)
		c.byClient[m.ID] = id
		c.byServer[id] = &wsOperation{clientID: m.ID}
		m.ID = id
	case "complete":
		id, ok := c.byClient[m.ID]
		if !ok {
			return nil, 0, "" // already over: nothing to stop
		}
		// The id is the client's again at once, as the protocol says; the
		// transport finishes the operation under its own id.
		delete(c.byClient, m.ID)
		c.byServer[id].completed = true
		m.ID = id
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, CloseBadRequest, "Invalid message received"
	}
	return out, 0, ""
}

// parseClientMessage validates a message a client may send, as the
// graphql-ws reference implementation does, and returns it with only the
// fields the transport needs; problem says what is wrong with it.
func parseClientMessage(data []byte) (m wireMessage, problem string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return m, "Invalid message received: not a JSON object"
	}
	if err := json.Unmarshal(fields["type"], &m.Type); err != nil || jsonKind(fields["type"]) != '"' {
		return m, "Invalid message received: type is missing or not a string"
	}
	id, payload := fields["id"], fields["payload"]
	switch m.Type {
	case "connection_init", "ping", "pong":
		if k := jsonKind(payload); k != 0 && k != 'n' && k != '{' {
			return m, `Invalid message received: "payload" must be an object or null`
		}
		if jsonKind(payload) == '{' {
			m.Payload = payload
		}
		return m, ""
	case "subscribe", "complete":
		if jsonKind(id) != '"' || json.Unmarshal(id, &m.ID) != nil || m.ID == "" {
			return m, `Invalid message received: "id" must be a non-empty string`
		}
		if m.Type == "complete" {
			return m, ""
		}
		// The payload as the transport reads it (encoding/json matches
		// names case-insensitively). The query may be absent: persisted
		// queries send only its hash.
		var p struct {
			Query, OperationName, Variables, Extensions json.RawMessage
		}
		if jsonKind(payload) != '{' || json.Unmarshal(payload, &p) != nil {
			return m, `Invalid message received: "payload" must be an object`
		}
		for _, f := range []struct {
			name  string
			value json.RawMessage
			kind  byte
		}{{"query", p.Query, '"'}, {"operationName", p.OperationName, '"'}, {"variables", p.Variables, '{'}, {"extensions", p.Extensions, '{'}} {
			if k := jsonKind(f.value); k != 0 && k != 'n' && k != f.kind {
				return m, fmt.Sprintf(`Invalid message received: "payload.%s" has the wrong type`, f.name)
			}
		}
		m.Payload = payload
		return m, ""
	}
	return m, "Invalid message received: unknown type " + strconv.Quote(m.Type)
}

// jsonKind is the first byte of a JSON value ('"', '{', '[', 'n', ...), 0
// when absent.
func jsonKind(v json.RawMessage) byte {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// WriteJSON sends the transport's message; on graphql-transport-ws, with
// the client's id, and not at all for an operation the client completed.
func (c *noticedConn) WriteJSON(v any) error {
	if !c.strict {
		return c.WebsocketConn.WriteJSON(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a graphql-transport-ws message: %w", err)
	}
	var m wireMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("decoding a graphql-transport-ws message: %w", err)
	}
	if !c.outbound(&m) {
		return nil
	}
	return c.WebsocketConn.WriteJSON(m)
}

// outbound notes what m means for the connection's state and gives it the
// client's id; false means it is not to be sent.
func (c *noticedConn) outbound(m *wireMessage) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Type == "connection_ack" {
		c.acked = true
	}
	if m.ID == "" {
		return true
	}
	op, ok := c.byServer[m.ID]
	if !ok {
		return false // a second final message (error, then complete)
	}
	if m.Type == "complete" || m.Type == "error" {
		delete(c.byServer, m.ID)
		if !op.completed {
			delete(c.byClient, op.clientID)
		}
	}
	m.ID = op.clientID
	return !op.completed
}

// The transport looks for these on the connection; pass them through.
func (c *noticedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *noticedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// CloseNotices gives WebSocket upgrade requests a close notice.
func CloseNotices(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			ctx, _ := WithCloseNotice(r.Context())
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}
