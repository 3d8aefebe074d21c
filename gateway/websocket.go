package gateway

// Subscriptions over WebSocket: which pages may open a connection (the
// origin check), and the connection wrapper that holds gqlgen's transport to
// the graphql-transport-ws protocol and closes connections the resolvers
// give up on.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/resolvers"
)

// Close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const (
	closeBadRequest          = 4400 // a message the protocol does not allow
	closeUnauthorized        = 4401 // subscribe before connection_ack
	closeInitTimeout         = 4408 // no connection_init in time
	closeSubscriberExists    = 4409 // subscribe with an id still in use
	closeTooManyInitRequests = 4429 // a second connection_init
)

const transportWSProtocol = "graphql-transport-ws"

// newWebsocketTransport serves graphql-transport-ws and the legacy
// graphql-ws to the origins the policy allows.
func newWebsocketTransport(res *resolvers.Resolver, origins originPolicy, initTimeout time.Duration) graphql.Transport {
	return originChecked{origins: origins, Websocket: transport.Websocket{
		// The origin check is originChecked's: coder/websocket's compares
		// hosts only and trusts the Host header for same-origin requests.
		Implementation: noticedWebsockets{transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}}},
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			return res.WithConnection(ctx), nil, nil
		},
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           initTimeout,
	}}
}

// originChecked refuses the upgrade, with 403, to a page whose origin the
// policy does not allow. Browsers do not apply CORS to WebSockets: without
// this, any site a user visits could subscribe with the user's cookies or
// from inside the user's network.
type originChecked struct {
	transport.Websocket
	origins originPolicy
}

func (t originChecked) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if !t.origins.allows(r.Header.Get("Origin")) {
		http.Error(w, "this origin may not open a WebSocket here", http.StatusForbidden)
		return
	}
	t.Websocket.Do(w, r, exec)
}

// originPolicy says which Origin headers may open a WebSocket: the
// configured origins, compared by scheme, host and port; in development also
// pages on this machine. Requests without an Origin (servers, scripts,
// native apps) are not made by a page and are allowed. The Host header is
// never consulted: a DNS-rebinding page controls the name it was loaded from.
type originPolicy struct {
	origins  []string // normalised by normalOrigin
	any      bool     // "*"
	loopback bool     // http(s) on localhost, 127.0.0.0/8 or [::1], any port
}

// websocketOrigins is the policy for a configuration: STACKER_CORS_ORIGINS,
// plus loopback origins outside production so the playground and local
// front ends work.
func websocketOrigins(cfg config.Config) originPolicy {
	p := originPolicy{loopback: cfg.Env != "production"}
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			p.any = true
		} else if n, _, ok := normalOrigin(o); ok {
			p.origins = append(p.origins, n)
		}
	}
	return p
}

func (p originPolicy) allows(origin string) bool {
	if origin == "" || p.any {
		return true
	}
	n, host, ok := normalOrigin(origin)
	if !ok {
		return false // "null" (sandboxed pages, files) and anything malformed
	}
	if slices.Contains(p.origins, n) {
		return true
	}
	if !p.loopback {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// normalOrigin returns an http(s) origin as scheme://host:port, lower case,
// with the scheme's default port made explicit, and its host.
func normalOrigin(origin string) (normal, host string, ok bool) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), host, true
}

// noticedWebsockets wraps every connection in a noticedConn.
type noticedWebsockets struct {
	transport.WebsocketImplementation
}

func (n noticedWebsockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := n.WebsocketImplementation.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	notice, ok := resolvers.CloseNoticeFrom(r.Context())
	if !ok {
		_, notice = resolvers.WithCloseNotice(r.Context())
	}
	c := &noticedConn{
		WebsocketConn: conn, notice: notice, strict: conn.Subprotocol() == transportWSProtocol,
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
	notice *resolvers.CloseNotice
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
		code, msg = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, truncate(msg, 123)) // a close frame holds 123 bytes of reason
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
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
		return nil, closeBadRequest, problem
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if c.inited {
			return nil, closeTooManyInitRequests, "Too many initialisation requests"
		}
		c.inited = true
	case "ping", "pong":
		if !c.inited {
			return nil, 0, m.Type
		}
	case "subscribe":
		if !c.acked {
			return nil, closeUnauthorized, "Unauthorized"
		}
		if _, ok := c.byClient[m.ID]; ok {
			return nil, closeSubscriberExists, "Subscriber for " + m.ID + " already exists"
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
		return nil, closeBadRequest, "Invalid message received"
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

// withCloseNotice gives WebSocket upgrade requests a close notice.
func withCloseNotice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			ctx, _ := resolvers.WithCloseNotice(r.Context())
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}
