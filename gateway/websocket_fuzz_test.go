package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/live"
)

// FuzzWebSocketMessages sends arbitrary sequences of graphql-transport-ws
// messages (one per line) to a live gateway. The server must not panic; it
// must either still answer a ping or have closed the connection with one of
// the protocol's codes; and once the client hangs up, nothing of the
// connection may be left running.
//
//	go test -run '^$' -fuzz FuzzWebSocketMessages -fuzztime 60s .
func FuzzWebSocketMessages(f *testing.F) {
	for _, seed := range []string{
		msgInit + "\n" + msgSubscribe + "\n" + msgSubscribe,
		msgInit + "\n" + msgSubscribe + "\n" + `{"id":"1","type":"complete"}` + "\n" + msgSubscribe,
		msgSubscribe,
		msgInit + "\n" + msgInit,
		`{"type":"ping"}` + "\n" + msgInit + "\n" + `{"id":"2","type":"subscribe","payload":{"query":"{ case(id: 1) { id } }"}}`,
		msgInit + "\n" + `{"id":"1","type":"subscribe","payload":{"query":1}}`,
		msgInit + "\n" + `{"id":"1","type":"next","payload":{}}`,
		`{`,
	} {
		f.Add(seed)
	}
	e := startStacker(f, nil)
	allowed := []coderws.StatusCode{live.CloseBadRequest, live.CloseUnauthorized, live.CloseSubscriberExists, live.CloseTooManyInitRequests}

	f.Fuzz(func(t *testing.T, script string) {
		lines := strings.Split(script, "\n")
		if len(script) > 64<<10 || len(lines) > 100 {
			t.Skip("larger than this target explores")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, _, err := dialRaw(t, ctx, e.Base, live.TransportWSProtocol, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		sendAll(ctx, conn, append(lines, `{"type":"ping"}`)...)
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				if code := coderws.CloseStatus(err); !slices.Contains(allowed, code) {
					t.Fatalf("the server neither answered the ping nor closed with a protocol code: %v", err)
				}
				break
			}
			if string(b) == `{"type":"pong"}` {
				break
			}
		}
		conn.CloseNow()
		testsync.WaitFor(t, "the connection's goroutines to end", func() bool { return wsConnGoroutines() == 0 })
	})
}
