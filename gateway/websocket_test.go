package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	coderws "github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/resolvers"
)

// dialRaw opens a WebSocket on base's /graphql with a subprotocol and extra
// request headers, without sending anything.
func dialRaw(t testing.TB, ctx context.Context, base, subprotocol string, header http.Header, host string) (*coderws.Conn, *http.Response, error) {
	t.Helper()
	conn, resp, err := coderws.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/graphql",
		&coderws.DialOptions{Subprotocols: []string{subprotocol}, HTTPHeader: header, Host: host})
	if err == nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return conn, resp, err
}

// sendAll writes each message as one text frame; a write may fail once the
// server has closed, which the caller finds out by reading.
func sendAll(ctx context.Context, conn *coderws.Conn, msgs ...string) {
	for _, m := range msgs {
		if conn.Write(ctx, coderws.MessageText, []byte(m)) != nil {
			return
		}
	}
}

// readUntilClose reads, skipping messages, until the server closes the
// connection, and returns the code and reason it closed with.
func readUntilClose(t testing.TB, ctx context.Context, conn *coderws.Conn) (coderws.StatusCode, string) {
	t.Helper()
	for {
		_, _, err := conn.Read(ctx)
		if err != nil {
			var ce coderws.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			t.Fatalf("the connection ended without a close frame: %v", err)
		}
	}
}

const (
	msgInit      = `{"type":"connection_init"}`
	msgSubscribe = `{"id":"1","type":"subscribe","payload":{"query":"subscription { caseUpdated { caseId } }"}}`
)

// Breaking the graphql-transport-ws protocol closes the connection with the
// code the protocol gives for it (gqlgen alone closes with 1000 or 1002, or
// not at all).
func TestWebSocketProtocolErrors(t *testing.T) {
	e := startStacker(t, nil)
	for _, tc := range []struct {
		name   string
		msgs   []string
		code   coderws.StatusCode
		reason string
	}{
		{"not JSON", []string{`hello`}, 4400, "Invalid message"},
		{"not an object", []string{`[1,2]`}, 4400, "Invalid message"},
		{"type not a string", []string{`{"type":1}`}, 4400, "type"},
		{"unknown type", []string{msgInit, `{"type":"subscribe_all"}`}, 4400, "subscribe_all"},
		{"a server's message", []string{msgInit, `{"id":"1","type":"next","payload":{}}`}, 4400, "next"},
		{"init payload not an object", []string{`{"type":"connection_init","payload":"token"}`}, 4400, "payload"},
		{"subscribe without id", []string{msgInit, `{"type":"subscribe","payload":{"query":"subscription { caseUpdated { caseId } }"}}`}, 4400, "id"},
		{"subscribe with a number for id", []string{msgInit, `{"id":1,"type":"subscribe","payload":{"query":"subscription { caseUpdated { caseId } }"}}`}, 4400, "id"},
		{"subscribe payload not an object", []string{msgInit, `{"id":"1","type":"subscribe","payload":"subscription { caseUpdated { caseId } }"}`}, 4400, "payload"},
		{"subscribe query not a string", []string{msgInit, `{"id":"1","type":"subscribe","payload":{"query":1}}`}, 4400, "query"},
		{"complete without id", []string{msgInit, `{"type":"complete"}`}, 4400, "id"},
		{"subscribe before connection_init", []string{msgSubscribe}, 4401, "Unauthorized"},
		{"second connection_init", []string{msgInit, msgInit}, 4429, "Too many initialisation requests"},
		{"second subscribe with an id in use", []string{msgInit, msgSubscribe, msgSubscribe}, 4409, "Subscriber for 1 already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := dialRaw(t, ctx, e.Base, "graphql-transport-ws", nil, "")
			if err != nil {
				t.Fatal(err)
			}
			sendAll(ctx, conn, tc.msgs...)
			if code, reason := readUntilClose(t, ctx, conn); code != tc.code || !strings.Contains(reason, tc.reason) {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
	testsync.WaitFor(t, "the subscriptions to end with their connections", func() bool { return e.liveSubs() == 0 })
}

// The protocol allows ping before connection_init; gqlgen alone closes the
// connection for it.
func TestWebSocketPingBeforeInit(t *testing.T) {
	e := startStacker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := dialRaw(t, ctx, e.Base, "graphql-transport-ws", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	sendAll(ctx, conn, `{"type":"ping"}`, `{"type":"pong"}`, msgInit)
	for _, want := range []string{`{"type":"pong"}`, `{"type":"connection_ack"}`} {
		if _, b, err := conn.Read(ctx); err != nil || string(b) != want {
			t.Fatalf("got %s %v, want %s", b, err, want)
		}
	}
}

// The security review's case: a second subscribe with id "1" used to start
// another subscription that no complete could stop. Now it closes the
// connection, and every subscription with it.
func TestWebSocketDuplicateSubscriptionID(t *testing.T) {
	e := startStacker(t, nil)
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseUpdated { caseId } }`)
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	c.subscribe("1", `subscription { caseUpdated { caseId } }`)
	if code, reason := readUntilClose(t, c.ctx, c.conn); code != 4409 || reason != "Subscriber for 1 already exists" {
		t.Errorf("closed with %d %q, want 4409 Subscriber for 1 already exists", code, reason)
	}
	testsync.WaitFor(t, "the subscription to end", func() bool { return e.liveSubs() == 0 })
}

// Once the client completes an id, it may use it again at once, as the
// protocol allows: the new subscription gets its events, not the old one's
// final complete, and a complete stops it.
func TestWebSocketIDReusedAfterComplete(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	c := dialWS(t, e.Base)
	for i := range 20 { // several rounds, to give the old subscription's end time to race the new one's start
		c.subscribe("a", fmt.Sprintf(`subscription { caseUpdated(id: %d) { caseId } }`, 100+i))
		c.send(map[string]any{"id": "a", "type": "complete"})
	}
	c.subscribe("a", `subscription { caseUpdated(id: 42) { caseId } }`)
	testsync.WaitFor(t, "only the last subscription", func() bool {
		return strings.Count(e.Logs.String(), "subscription started") == 21 && e.liveSubs() == 1
	})
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 42, "s": "CLOSED"}, nil)
	if m := c.next(); m["type"] != "next" || m["id"] != "a" || jsonString(m["payload"]) != canonical(`{"data":{"caseUpdated":{"caseId":"42"}}}`) {
		t.Fatalf("got %v, want the event of case 42", m)
	}
	c.send(map[string]any{"id": "a", "type": "complete"})
	testsync.WaitFor(t, "the subscription to end", func() bool { return e.liveSubs() == 0 })
}

// Without connection_init in time the connection closes with 4408; the
// legacy protocol keeps gqlgen's 1002.
func TestWebSocketInitTimeout(t *testing.T) {
	res, err := resolvers.New(resolvers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: res}))
	srv.AddTransport(newWebsocketTransport(res, originPolicy{}, 50*time.Millisecond, nil))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, tc := range []struct {
		subprotocol string
		code        coderws.StatusCode
	}{{"graphql-transport-ws", 4408}, {"graphql-ws", 1002}} {
		t.Run(tc.subprotocol, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := dialRaw(t, ctx, ts.URL, tc.subprotocol, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if code, reason := readUntilClose(t, ctx, conn); code != tc.code || !strings.Contains(strings.ToLower(reason), "initialisation timeout") {
				t.Errorf("closed with %d %q, want %d", code, reason, tc.code)
			}
		})
	}
}

// The legacy graphql-ws protocol works as before: start, data, stop.
func TestWebSocketLegacyProtocol(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := dialRaw(t, ctx, e.Base, "graphql-ws", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, conn: conn, ctx: ctx}
	c.send(map[string]any{"type": "connection_init"})
	if m := c.next(); m["type"] != "connection_ack" {
		t.Fatalf("got %v, want connection_ack", m)
	}
	c.send(map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": `subscription { caseUpdated(id: 4) { caseId } }`}})
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 4, "s": "CLOSED"}, nil)
	if m := c.next(); m["type"] != "data" || m["id"] != "1" || jsonString(m["payload"]) != canonical(`{"data":{"caseUpdated":{"caseId":"4"}}}`) {
		t.Fatalf("got %v", m)
	}
	c.send(map[string]any{"id": "1", "type": "stop"})
	if m := c.next(); m["type"] != "complete" || m["id"] != "1" {
		t.Fatalf("got %v, want complete", m)
	}
	testsync.WaitFor(t, "the subscription to end", func() bool { return e.liveSubs() == 0 })
}

// A client that stops reading is disconnected while it is stalled: the
// server lets go of the connection and its goroutines without the client
// reading again.
func TestWebSocketStalledClientIsDisconnected(t *testing.T) {
	url := natsTopic(t)
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": url})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseUpdated(id: 3) { caseId changed } }`)
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	if n := wsConnGoroutines(); n == 0 {
		t.Fatal("no goroutine of gqlgen's WebSocket connection found: has the transport changed?")
	}
	// From here on the client reads nothing. Events of 64 kB fill the
	// socket buffers (a few MB), then the subscription's buffer (64
	// deliveries). One at a time, so that each is a delivery of its own
	// rather than part of a burst.
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	topic := url[strings.Index(url, "topic=")+len("topic="):]
	event := []byte(`{"type":"case.updated","case_id":3,"occurred_at":"2026-01-01T00:00:00Z","changed":["` + strings.Repeat("x", 64<<10) + `"]}`)
	start := time.Now()
	for !strings.Contains(e.Logs.String(), "dropped a subscription that could not keep up") {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the stalled subscriber was not dropped")
		}
		if err := nc.Publish(topic, event); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	testsync.WaitFor(t, "the server to let go of the connection", func() bool { return wsConnGoroutines() == 0 })
	t.Logf("dropped and disconnected after %v", time.Since(start))
}

// wsConnGoroutines counts the goroutines in this process that serve a
// WebSocket connection: gqlgen's, the wrapper's and the subscriptions'.
func wsConnGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "handler/transport.(*wsConnection)") || strings.Contains(g, "main.(*noticedConn)") ||
			strings.Contains(g, "stacker/resolvers.stream[") {
			n++
		}
	}
	return n
}

func TestOriginPolicy(t *testing.T) {
	console := []string{"https://console.example.com", "http://localhost:3000"}
	prod := websocketOrigins(config.Config{Env: "production", FrontDoor: config.FrontDoor{CORSOrigins: console}})
	dev := websocketOrigins(config.Config{FrontDoor: config.FrontDoor{CORSOrigins: console}})
	anyOrigin := websocketOrigins(config.Config{Env: "production", FrontDoor: config.FrontDoor{CORSOrigins: []string{"*"}}})
	for _, tc := range []struct {
		name   string
		policy originPolicy
		origin string
		want   bool
	}{
		{"no Origin: not a browser", prod, "", true},
		{"listed", prod, "https://console.example.com", true},
		{"listed, default port spelled out", prod, "https://console.example.com:443", true},
		{"listed, host in capitals", prod, "https://CONSOLE.example.com", true},
		{"listed origin's host over http", prod, "http://console.example.com", false},
		{"listed host on another port", prod, "https://console.example.com:8443", false},
		{"listed with its port", prod, "http://localhost:3000", true},
		{"listed host, other port", prod, "http://localhost:3001", false},
		{"foreign", prod, "https://evil.example", false},
		{"foreign over http (DNS rebinding)", prod, "http://evil.example", false},
		{"subdomain of a listed host", prod, "https://a.console.example.com", false},
		{"listed host as a prefix", prod, "https://console.example.com.evil.example", false},
		{"opaque origin", prod, "null", false},
		{"with a path", prod, "https://console.example.com/app", false},
		{"with user info", prod, "https://me@console.example.com", false},
		{"not http", prod, "ws://console.example.com", false},
		{"garbage", prod, "::", false},
		{"loopback in production", prod, "http://127.0.0.1:8080", false},
		{"localhost in development", dev, "http://localhost:5173", true},
		{"localhost over https in development", dev, "https://localhost", true},
		{"127.0.0.0/8 in development", dev, "http://127.1.2.3:9000", true},
		{"IPv6 loopback in development", dev, "http://[::1]:8080", true},
		{"listed in development", dev, "https://console.example.com", true},
		{"foreign in development", dev, "http://evil.example", false},
		{"loopback-looking name in development", dev, "http://localhost.evil.example", false},
		{"loopback-looking address in development", dev, "http://127.0.0.1.evil.example", false},
		{"opaque origin in development", dev, "null", false},
		{"any origin", anyOrigin, "https://anything.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.allows(tc.origin); got != tc.want {
				t.Errorf("allows(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}

// The origin check through a real WebSocket dial: refused before the
// upgrade with 403, whatever Host says.
func TestWebSocketOrigins(t *testing.T) {
	cors := "https://console.example.com"
	prod := startStacker(t, map[string]string{"STACKER_CORS_ORIGINS": cors, "STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"})
	dev := startStacker(t, map[string]string{"STACKER_CORS_ORIGINS": cors})
	for _, tc := range []struct {
		name, origin, host string
		env                *testEnv
		want               int
	}{
		{"listed", cors, "", prod, http.StatusSwitchingProtocols},
		{"no Origin", "", "", prod, http.StatusSwitchingProtocols},
		{"listed host over http", "http://console.example.com", "", prod, http.StatusForbidden},
		{"DNS rebinding: Host and Origin agree", "http://evil.example", "evil.example", prod, http.StatusForbidden},
		{"foreign", "https://evil.example", "", prod, http.StatusForbidden},
		{"local front end in production", "http://localhost:5173", "", prod, http.StatusForbidden},
		{"local front end in development", "http://localhost:5173", "", dev, http.StatusSwitchingProtocols},
		{"the playground in development", dev.Base, "", dev, http.StatusSwitchingProtocols},
		{"DNS rebinding in development", "http://evil.example", "evil.example", dev, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			conn, resp, err := dialRaw(t, ctx, tc.env.Base, "graphql-transport-ws", h, tc.host)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%v), want %d", resp.StatusCode, err, tc.want)
			}
			if conn != nil {
				sendAll(ctx, conn, msgInit)
				if _, b, err := conn.Read(ctx); err != nil || string(b) != `{"type":"connection_ack"}` {
					t.Errorf("after the upgrade: %s %v", b, err)
				}
			}
		})
	}
}
