package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/stacker/stacker/internal/testsync"
)

// wsClient speaks graphql-transport-ws, as the graphql-ws npm client does.
type wsClient struct {
	t    testing.TB
	conn *coderws.Conn
	ctx  context.Context
}

func dialWS(t *testing.T, base string) *wsClient { return dialWSB(t, base) }

func dialWSB(t testing.TB, base string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	conn, _, err := coderws.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/graphql", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &wsClient{t: t, conn: conn, ctx: ctx}
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"client": "test"}})
	if m := c.next(); m["type"] != "connection_ack" {
		t.Fatalf("want connection_ack, got %v", m)
	}
	return c
}

func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	if err := c.conn.Write(c.ctx, coderws.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next message that is not a keep-alive ping or pong.
func (c *wsClient) next() map[string]any {
	c.t.Helper()
	for {
		_, b, err := c.conn.Read(c.ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		switch m["type"] {
		case "ping":
			c.send(map[string]any{"type": "pong"})
		case "pong", "ka":
		default:
			return m
		}
	}
}

func (c *wsClient) subscribe(id, query string) {
	c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}})
}

const updateCaseStatus = `mutation($id: ID!, $s: CaseStatus!) { updateCase(input: {id: $id, status: $s}) { case { id } userErrors { message } } }`

// A subscriber gets the event a mutation causes, with the fields it selected
// resolved fresh through the loaders.
func TestSubscriptionOverWebSocket(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseUpdated(id: 42) { caseId changed case { id status patient { fullName } } } }`)
	c.subscribe("2", `subscription { caseActivity(caseId: 42) { __typename caseId ... on AppointmentScheduledEvent { appointment { doctor { name } } } ... on DocumentUploadedEvent { document { title kind } } } }`)
	testsync.WaitFor(t, "two subscriptions", func() bool { return e.liveSubs() == 2 })

	e.mustDo(t, updateCaseStatus, map[string]any{"id": 42, "s": "CLOSED"}, nil)
	e.mustDo(t, `mutation { scheduleAppointment(input: {caseId: 42, doctorId: 7, startsAt: "2099-05-01T09:00:00Z"}) { appointment { id } } }`, nil, nil)
	// An upload goes to the documents service directly, as in production.
	resp, err := http.Post(e.URLs["documents"]+"/documents", "application/json",
		strings.NewReader(`{"document":{"case_id":42,"kind":"lab_result","title":"Blood panel 2099-05-01","size_bytes":2048}}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", err, resp)
	}
	resp.Body.Close()

	c42, _ := e.Store.Case(42)
	p, _ := e.Store.Patient(c42.PatientID)
	doc, _ := e.Store.Doctor(7)
	got := map[string][]string{}
	for len(got["1"]) < 1 || len(got["2"]) < 3 {
		m := c.next()
		if m["type"] != "next" {
			t.Fatalf("unexpected message %v", m)
		}
		got[m["id"].(string)] = append(got[m["id"].(string)], jsonString(m["payload"]))
	}
	want1 := fmt.Sprintf(`{"data":{"caseUpdated":{"caseId":"42","changed":["status"],"case":{"id":"42","status":"CLOSED","patient":{"fullName":%q}}}}}`, p.FirstName+" "+p.LastName)
	if got["1"][0] != canonical(want1) {
		t.Errorf("caseUpdated:\n got %s\nwant %s", got["1"][0], want1)
	}
	if !strings.Contains(got["2"][0], `"__typename":"CaseUpdatedEvent"`) || !strings.Contains(got["2"][1], doc.Name) ||
		!strings.Contains(got["2"][2], `"document":{"kind":"LAB_RESULT","title":"Blood panel 2099-05-01"}`) {
		t.Errorf("caseActivity: %v", got["2"])
	}
	c.send(map[string]any{"id": "1", "type": "complete"})
	testsync.WaitFor(t, "the subscription to end", func() bool { return e.liveSubs() == 1 })
}

// liveSubs is how many subscriptions the gateway has open, from its debug log.
func (e *testEnv) liveSubs() int {
	logs := e.Logs.String()
	return strings.Count(logs, "subscription started") - strings.Count(logs, "subscription ended")
}

// Across replicas: a subscriber on replica B gets the event caused by a
// mutation sent to replica A, over a real NATS and a real Redis.
func TestSubscriptionAcrossReplicas(t *testing.T) {
	for _, bus := range []struct{ name, url string }{
		{"nats", natsTopic(t)},
		{"redis", "redis://127.0.0.1:6379/0?topic=" + uniqueTopic()},
	} {
		t.Run(bus.name, func(t *testing.T) {
			env := map[string]string{"STACKER_EVENTS_URL": bus.url}
			a := startStacker(t, env)
			b := startReplica(t, a, env)
			c := dialWS(t, b.Base)
			c.subscribe("s", `subscription { casesChanged(status: [IN_REVIEW]) { caseId case { status } } }`)
			testsync.WaitFor(t, "the subscription on B", func() bool { return b.liveSubs() == 1 })
			a.mustDo(t, updateCaseStatus, map[string]any{"id": 7, "s": "CLOSED"}, nil)    // filtered out
			a.mustDo(t, updateCaseStatus, map[string]any{"id": 8, "s": "IN_REVIEW"}, nil) // delivered
			m := c.next()
			if got := jsonString(m["payload"]); got != canonical(`{"data":{"casesChanged":{"caseId":"8","case":{"status":"IN_REVIEW"}}}}`) {
				t.Errorf("B got %s", got)
			}
		})
	}
}

// GraphQL over Server-Sent Events.
func TestSubscriptionOverSSE(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	body := `{"query":"subscription { caseUpdated { caseId case { priority } } }"}`
	req, _ := http.NewRequest("POST", e.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	testsync.WaitFor(t, "the SSE subscription", func() bool { return e.liveSubs() == 1 })
	e.mustDo(t, `mutation { updateCase(input: {id: 5, priority: URGENT}) { case { id } } }`, nil, nil)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(line, "caseUpdated") {
			if line != `{"data":{"caseUpdated":{"caseId":"5","case":{"priority":"URGENT"}}}}` {
				t.Errorf("event %s", line)
			}
			return
		}
	}
	t.Fatalf("stream ended: %v", sc.Err())
}

// canonical re-encodes JSON with sorted keys, as jsonString does.
func canonical(s string) string {
	var v any
	json.Unmarshal([]byte(s), &v)
	return jsonString(v)
}

func uniqueTopic() string { return fmt.Sprintf("stacker.test.%d", time.Now().UnixNano()) }

func natsTopic(t *testing.T) string {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second); err != nil {
		needTool(t, "/nonexistent-nats", "start nats-server on 127.0.0.1:4222 (./test.sh does)")
	} else {
		c.Close()
	}
	return "nats://127.0.0.1:4222?topic=" + uniqueTopic()
}

func natsTopicB(b *testing.B) string {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second); err != nil {
		b.Skip("no nats-server on 127.0.0.1:4222")
	} else {
		c.Close()
	}
	return "nats://127.0.0.1:4222?topic=" + uniqueTopic()
}

// Many subscribers of one event: its payload is resolved once, with one call
// per service, not one per subscriber.
func TestSubscribersShareOneFetch(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	const n = 20
	var clients []*wsClient
	for i := range n {
		c := dialWS(t, e.Base)
		c.subscribe(fmt.Sprint(i), `subscription { caseUpdated { case { status patient { fullName } assignee { name } } } }`)
		clients = append(clients, c)
	}
	testsync.WaitFor(t, "all subscriptions", func() bool { return e.liveSubs() == n })
	e.Demo.ResetCounts()
	e.mustDo(t, `mutation { updateCase(input: {id: 3, assigneeId: "4"}) { userErrors { message } } }`, nil, nil)
	for _, c := range clients {
		if m := c.next(); m["type"] != "next" || !strings.Contains(jsonString(m["payload"]), "patient") {
			t.Fatalf("got %v", m)
		}
	}
	// The mutation itself: one PATCH; the event: one call each for the case,
	// its patient and its assignee, whatever the number of subscribers.
	if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 2, "patients": 1, "staff": 1}); diff != "" {
		t.Error(diff)
	}
}

// The real npm clients, graphql-ws and graphql-sse, subscribe; a mutation is
// sent; both get the event with the selected fields resolved.
func TestRealClientsSubscribe(t *testing.T) {
	needTool(t, "../e2e/node_modules/graphql-ws", "run ./test.sh, or npm ci in e2e/")
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	cmd := exec.Command("node", "../e2e/subscriptions.mjs", e.URL, "77")
	stdout, _ := cmd.StdoutPipe()
	var stderr testsync.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "subscribing" {
		t.Fatalf("script: %q %s", lines.Text(), stderr.String())
	}
	testsync.WaitFor(t, "both clients' subscriptions", func() bool { return e.liveSubs() == 2 })
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 77, "s": "WAITING_FOR_DOCUMENTS"}, nil)
	if !lines.Scan() {
		t.Fatalf("no result: %s", stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("script: %v %s", err, stderr.String())
	}
	var got struct{ WS, SSE map[string]any }
	if err := json.Unmarshal(lines.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", lines.Text(), err)
	}
	c, _ := e.Store.Case(77)
	p, _ := e.Store.Patient(c.PatientID)
	want := canonical(fmt.Sprintf(`{"data":{"caseUpdated":{"caseId":"77","changed":["status"],"case":{"id":"77","status":"WAITING_FOR_DOCUMENTS","patient":{"fullName":%q}}}}}`, p.FirstName+" "+p.LastName))
	for name, v := range map[string]map[string]any{"graphql-ws": got.WS, "graphql-sse": got.SSE} {
		if jsonString(v) != want {
			t.Errorf("%s got %s\nwant %s", name, jsonString(v), want)
		}
	}
}

func TestSubscriptionLimitsAndShutdown(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t), "STACKER_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2"})
	c := dialWS(t, e.Base)
	for i := range 3 {
		c.subscribe(fmt.Sprint(i), `subscription { caseUpdated { caseId } }`)
	}
	// The three are started concurrently: whichever comes third is refused.
	m := c.next()
	if !strings.Contains(jsonString(m["payload"]), "TOO_MANY_SUBSCRIPTIONS") || !strings.Contains(jsonString(m["payload"]), "maximum of subscriptions") {
		t.Fatalf("third subscription: %v", m)
	}
	testsync.WaitFor(t, "two live subscriptions", func() bool { return e.liveSubs() == 2 })

	// Shutdown closes the connection, telling the client to reconnect.
	stopped := make(chan error, 1)
	go func() { stopped <- e.Stop() }()
	var closeErr error
	for closeErr == nil {
		_, b, err := c.conn.Read(c.ctx)
		if err != nil {
			closeErr = err
		} else if !strings.Contains(string(b), "ping") && !strings.Contains(string(b), "reconnect") && !strings.Contains(string(b), "complete") {
			t.Logf("before close: %s", b)
		}
	}
	if status := coderws.CloseStatus(closeErr); status != 1012 || !strings.Contains(closeErr.Error(), "reconnect") {
		t.Errorf("closed with %d (%v), want 1012 Service Restart asking to reconnect", status, closeErr)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run = %v", err)
	}
}

// A malformed event on the broker is skipped; the subscription lives on and
// gets the next good one.
func TestMalformedEventIsSkipped(t *testing.T) {
	url := natsTopic(t)
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": url})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseUpdated(id: 9) { caseId } }`)
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	topic := url[strings.Index(url, "topic=")+len("topic="):]
	for _, bad := range []string{`not json`, `{"type":"case.updated"}`, `{"type":"case.exploded","case_id":9,"occurred_at":"2026-01-01T00:00:00Z"}`} {
		if err := nc.Publish(topic, []byte(bad)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	e.mustDo(t, updateCaseStatus, map[string]any{"id": 9, "s": "NEW"}, nil)
	if m := c.next(); jsonString(m["payload"]) != canonical(`{"data":{"caseUpdated":{"caseId":"9"}}}`) {
		t.Errorf("got %v", m)
	}
}
