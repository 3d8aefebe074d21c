package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/authz"
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
