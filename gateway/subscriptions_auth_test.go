package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/live"
)

// dialWSWithToken opens a graphql-transport-ws connection whose upgrade
// request carries token (none when empty, as from a browser, which cannot
// set headers on an upgrade but sends its Origin), and sends
// connection_init with payload.
func dialWSWithToken(t *testing.T, base, token string, payload map[string]any) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	h := http.Header{"Origin": {base}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, _, err := coderws.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/graphql", &coderws.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   h,
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &wsClient{t: t, conn: conn, ctx: ctx}
	c.send(map[string]any{"type": "connection_init", "payload": payload})
	return c
}

// closeStatus reads until the connection closes and returns its close
// code; messages before it are returned too.
func (c *wsClient) closeStatus() (coderws.StatusCode, string, []string) {
	var msgs []string
	for {
		_, b, err := c.conn.Read(c.ctx)
		if err != nil {
			var ce coderws.CloseError
			errors.As(err, &ce)
			return coderws.CloseStatus(err), ce.Reason, msgs
		}
		msgs = append(msgs, string(b))
	}
}

// shortToken is a token of p's for subject that expires in about a
// second (exp has whole seconds).
func shortToken(t *testing.T, p *authtest.Provider, k *authtest.Key) (string, time.Time) {
	c := allScopes(p, "alice")
	exp := time.Now().Add(2 * time.Second).Truncate(time.Second)
	c["exp"] = exp.Unix()
	return k.Sign(t, c), exp
}

// connection_init's token is checked too: a bad one closes the connection
// with 4403 Forbidden, a good one (under any of the accepted keys) is
// acknowledged, and none leaves the upgrade's token in charge. An upgrade
// without a token, as a browser's (GraphiQL's), is let through, and its
// connection_init must then carry one.
func TestConnectionInitToken(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	good := p.Token(t, k, "alice")
	expired := k.Sign(t, map[string]any{"iss": p.Issuer, "aud": authtest.Audience, "sub": "alice", "exp": 1})
	other := authtest.RSAKey(t, "k1") // same kid, another key: a bad signature
	for _, tc := range []struct {
		name    string
		upgrade string // the upgrade request's token; none when empty
		payload map[string]any
		refused string // the close reason; empty: acknowledged
	}{
		{"no token", good, map[string]any{"client": "test"}, ""},
		{"Authorization", good, map[string]any{"Authorization": "Bearer " + good}, ""},
		{"authorization", good, map[string]any{"authorization": "Bearer " + good}, ""},
		{"token", good, map[string]any{"token": good}, ""},
		{"expired", good, map[string]any{"Authorization": "Bearer " + expired}, "Forbidden: token expired"},
		{"bad signature", good, map[string]any{"token": other.Sign(t, allScopes(p, "mallory"))}, "Forbidden: token signature invalid"},
		{"garbage", good, map[string]any{"authorization": "Bearer not-a-token"}, "Forbidden: malformed token"},
		{"not a string", good, map[string]any{"token": 42}, "Forbidden: malformed token"},
		{"two tokens", good, map[string]any{"token": good, "Authorization": "Bearer " + good}, "Forbidden: malformed token"},
		{"browser, token at init", "", map[string]any{"Authorization": "Bearer " + good}, ""},
		{"browser, no token", "", map[string]any{"client": "test"}, "Forbidden: no bearer token"},
		{"browser, empty payload", "", nil, "Forbidden: no bearer token"},
		{"browser, expired at init", "", map[string]any{"token": expired}, "Forbidden: token expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWSWithToken(t, e.Base, tc.upgrade, tc.payload)
			if tc.refused == "" {
				if m := c.next(); m["type"] != "connection_ack" {
					t.Fatalf("want connection_ack, got %v", m)
				}
				return
			}
			code, reason, msgs := c.closeStatus()
			if code != live.CloseForbidden || reason != tc.refused {
				t.Fatalf("closed with %d %q after %v, want 4403 %q", code, reason, msgs, tc.refused)
			}
		})
	}
}

// When the caller's token expires, a WebSocket connection is closed with
// 4403 and a Server-Sent Events stream ends with a last result carrying
// UNAUTHENTICATED, so the client re-authenticates.
func TestSubscriptionEndsWhenTokenExpires(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	const sub = `subscription { caseUpdated { caseId } }`

	t.Run("WebSocket", func(t *testing.T) {
		tok, exp := shortToken(t, p, k)
		c := dialWSWithToken(t, e.Base, tok, map[string]any{"token": tok})
		if m := c.next(); m["type"] != "connection_ack" {
			t.Fatalf("want connection_ack, got %v", m)
		}
		c.subscribe("1", sub)
		code, reason, msgs := c.closeStatus()
		if code != live.CloseForbidden || reason != "Forbidden: token expired" {
			t.Fatalf("closed with %d %q after %v, want 4403 Forbidden: token expired", code, reason, msgs)
		}
		if time.Now().Before(exp) {
			t.Errorf("closed before the token expired")
		}
	})

	t.Run("SSE", func(t *testing.T) {
		tok, exp := shortToken(t, p, k)
		req, _ := http.NewRequest("POST", e.URL, strings.NewReader(`{"query":"`+sub+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body) // until the stream ends
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().Before(exp) {
			t.Errorf("ended before the token expired")
		}
		var events []string
		var last map[string]any
		sc := bufio.NewScanner(strings.NewReader(string(body)))
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events = append(events, ev)
			}
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && data != "" {
				last = nil
				json.Unmarshal([]byte(data), &last)
			}
		}
		if strings.Join(events, ",") != "next,complete" || firstCode(last) != "UNAUTHENTICATED" {
			t.Fatalf("stream %v, last result %v, want next (UNAUTHENTICATED), complete:\n%s", events, last, body)
		}
	})
}

// The real graphql-ws client, whose upgrade carries a good token and whose
// connectionParams a bad one, is refused with 4403 and does not retry.
func TestRealClientRefusedAtConnectionInit(t *testing.T) {
	needTool(t, "../e2e/node_modules/graphql-ws", "run ./test.sh, or npm ci in e2e/")
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	expired := k.Sign(t, map[string]any{"iss": p.Issuer, "aud": authtest.Audience, "sub": "alice", "exp": 1})
	cmd := exec.Command("node", "../e2e/auth.mjs", e.URL, p.Token(t, k, "alice"), expired)
	var stderr testsync.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v %s", err, stderr.String())
	}
	var got struct {
		Code   int
		Reason string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if got.Code != live.CloseForbidden || got.Reason != "Forbidden: token expired" {
		t.Fatalf("got %s, want code 4403, reason Forbidden: token expired", out)
	}
}

// allScopes are p's claims for subject with every scope, so that what these
// tests watch is authentication, not authorization.
func allScopes(p *authtest.Provider, subject string) map[string]any {
	c := p.Claims(subject)
	c["scope"] = strings.Join(authz.Scopes(), " ")
	return c
}

// Every event is resolved with its subscriber's scopes and policies, and
// audited under its subscriber's subject: a case manager receives the
// email of the patient of a case assigned to them and not of another
// (null with UNAUTHORIZED_FIELD_OR_TYPE); a document uploaded to a closed
// case reaches a medical advisor and not the case manager; each event that
// returned personal data leaves one record naming the subscriber's subject
// and what that event returned, never a value.
func TestSubscriptionEventsAuthorizedAndAudited(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	e := startStacker(t, authEnv(p, map[string]string{"STACKER_EVENTS_URL": natsTopic(t), "STACKER_AUDIT": "file:" + path}))
	s := e.Store

	// A case manager; an open case assigned to them (mine) and an open one
	// whose patient has no case of theirs (other); a closed case.
	open, _ := s.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, 100)
	assignedTo := func(c demo.Case, staff int64) bool { return c.AssigneeID != nil && *c.AssigneeID == staff }
	var manager int64
	var mine, other demo.Case
	for _, c := range open {
		if m, ok := s.StaffMember(derefOr(c.AssigneeID)); ok && m.Role == "case_manager" && manager == 0 {
			manager, mine = m.ID, c
		}
	}
	for _, c := range open {
		if manager != 0 && !slices.ContainsFunc(s.CasesByPatients([]int64{c.PatientID}), func(c demo.Case) bool { return assignedTo(c, manager) }) {
			other = c
			break
		}
	}
	closed, _ := s.ListCases([]string{demo.StatusClosed}, nil, 1, 1)
	if manager == 0 || other.ID == 0 || len(closed) == 0 {
		t.Fatalf("seed lacks a manager's case, another case or a closed case")
	}
	managerTok := staffToken(t, p, k, "case_manager", strconv.FormatInt(manager, 10))
	advisorTok := staffToken(t, p, k, "medical_advisor", "")

	subscriber := func(token string, subs map[string]string) *wsClient {
		c := dialWSWithToken(t, e.Base, "", map[string]any{"Authorization": "Bearer " + token})
		if m := c.next(); m["type"] != "connection_ack" {
			t.Fatalf("want connection_ack, got %v", m)
		}
		for id, q := range subs {
			c.subscribe(id, q)
		}
		return c
	}
	patientSub := func(op string, id int64) string {
		return fmt.Sprintf(`subscription %s { caseUpdated(id: %d) { case { patient { id fullName email } } } }`, op, id)
	}
	docSub := func(op string) string {
		return fmt.Sprintf(`subscription %s { caseActivity(caseId: %d) { ... on DocumentUploadedEvent { document { id title } } } }`, op, closed[0].ID)
	}
	m := subscriber(managerTok, map[string]string{
		"mine": patientSub("ManagerMine", mine.ID), "other": patientSub("ManagerOther", other.ID), "closed": docSub("ManagerClosedDocs"),
	})
	a := subscriber(advisorTok, map[string]string{"closed": docSub("AdvisorClosedDocs")})
	testsync.WaitFor(t, "four subscriptions", func() bool { return e.liveSubs() == 4 })

	admin := authHeader(staffToken(t, p, k, "admin", ""), "admin-mutation")
	for _, c := range []demo.Case{mine, other} {
		if errs := e.doWith(t, admin, `mutation($id: ID!) { updateCase(input: {id: $id, priority: HIGH}) { case { id } } }`, map[string]any{"id": c.ID}, nil); len(errs) > 0 {
			t.Fatal(jsonString(errs))
		}
	}
	const title = "Discharge letter 2099-06-01"
	resp, err := http.Post(e.URLs["documents"]+"/documents", "application/json",
		strings.NewReader(fmt.Sprintf(`{"document":{"case_id":%d,"kind":"medical_report","title":%q,"size_bytes":100}}`, closed[0].ID, title)))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", err, resp)
	}
	var doc struct{ Document struct{ ID int64 } }
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()

	events := func(c *wsClient, n int) map[string]string {
		got := map[string]string{}
		for len(got) < n {
			msg := c.next()
			if msg["type"] != "next" {
				t.Fatalf("unexpected message %v", msg)
			}
			payload, _ := msg["payload"].(map[string]any)
			errs, _ := payload["errors"].([]any)
			for _, e := range errs {
				delete(e.(map[string]any), "locations") // columns of the documents above
			}
			got[msg["id"].(string)] = jsonString(payload)
		}
		return got
	}
	pm, _ := s.Patient(mine.PatientID)
	po, _ := s.Patient(other.PatientID)
	denied := func(path, field, rule string) string {
		return fmt.Sprintf(`"errors":[{"message":"not authorized to see %s: it needs the policies %s","path":%s,"extensions":{"code":"UNAUTHORIZED_FIELD_OR_TYPE"}}]`, field, rule, path)
	}
	got := events(m, 3)
	want := map[string]string{
		"mine": fmt.Sprintf(`{"data":{"caseUpdated":{"case":{"patient":{"id":"%d","fullName":%q,"email":%q}}}}}`, pm.ID, pm.FirstName+" "+pm.LastName, pm.Email),
		"other": fmt.Sprintf(`{"data":{"caseUpdated":{"case":{"patient":null}}},%s}`,
			denied(`["caseUpdated","case","patient","email"]`, "Patient.email", "assignedToCaller, or admin")),
		"closed": fmt.Sprintf(`{"data":{"caseActivity":{"document":null}},%s}`,
			denied(`["caseActivity","document"]`, "DocumentUploadedEvent.document", "caseOpen, or medicalAdvisor")),
	}
	for id, w := range want {
		if !jsonEqual(got[id], w) {
			t.Errorf("case manager's %s event:\n%s\nwant\n%s", id, got[id], w)
		}
	}
	if got := events(a, 1)["closed"]; !jsonEqual(got, fmt.Sprintf(`{"data":{"caseActivity":{"document":{"id":"%d","title":%q}}}}`, doc.Document.ID, title)) {
		t.Errorf("medical advisor's closed-case document event: %s", got)
	}

	// The audit, one record per event under its subscriber's subject: the
	// manager's own patient (every field returned); the other patient's
	// name, which was resolved before the denied non-null email nulled the
	// patient (the trail errs towards recording, see docs/audit.md); the
	// advisor's document. The closed case's document was withheld from the
	// manager: no record.
	for op, w := range map[string]struct {
		subject string
		fields  map[string]map[string][]string
	}{
		"ManagerMine":       {"user-case_manager", map[string]map[string][]string{"Patient": {strconv.FormatInt(pm.ID, 10): {"email", "fullName"}}}},
		"ManagerOther":      {"user-case_manager", map[string]map[string][]string{"Patient": {strconv.FormatInt(po.ID, 10): {"fullName"}}}},
		"AdvisorClosedDocs": {"user-medical_advisor", map[string]map[string][]string{"Document": {strconv.FormatInt(doc.Document.ID, 10): {"title"}}}},
	} {
		rs := waitRecord(t, path, op)
		if len(rs) != 1 || rs[0].Subject != w.subject || !reflect.DeepEqual(rs[0].Fields, w.fields) || rs[0].RequestID == "" {
			t.Errorf("%s: records %+v, want one for %s naming %v", op, rs, w.subject, w.fields)
		}
	}
	if rs := auditRecords(t, path)["ManagerClosedDocs"]; len(rs) != 0 {
		t.Errorf("the withheld document was audited: %+v", rs)
	}
	trail, _ := os.ReadFile(path)
	for _, v := range []string{pm.Email, pm.Phone, pm.LastName, po.Email, po.LastName, title} {
		if strings.Contains(string(trail), v) || strings.Contains(e.Logs.String(), v) {
			t.Errorf("a personal value reached the audit trail or the logs: %q", v)
		}
	}
}

func derefOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
