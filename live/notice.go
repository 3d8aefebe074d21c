package live

import (
	"context"
	"sync"
)

// WebSocket close codes Stacker closes connections with. Both are codes the
// graphql-ws client treats as worth a reconnect.
const (
	CloseServiceRestart = 1012 // shutdown: reconnect, to another replica
	CloseTryAgainLater  = 1013 // the client fell behind its events
)

// CloseNotice is the code and reason a connection is to be closed with;
// the WebSocket layer reads it when the transport closes the connection.
type CloseNotice struct {
	mu     sync.Mutex
	code   int
	reason string
	done   chan struct{} // closed by the first Set
}

// Set records why the connection is closing (first reason wins).
func (n *CloseNotice) Set(code int, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.code == 0 {
		n.code, n.reason = code, reason
		close(n.doneLocked())
	}
}

// Done is closed once a reason is set: the WebSocket layer closes the
// connection then, even while the transport is stuck writing to it.
func (n *CloseNotice) Done() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.doneLocked()
}

func (n *CloseNotice) doneLocked() chan struct{} {
	if n.done == nil {
		n.done = make(chan struct{})
	}
	return n.done
}

// Get returns the recorded code and reason, or ok false.
func (n *CloseNotice) Get() (code int, reason string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.code, n.reason, n.code != 0
}

type noticeKey struct{}

// WithCloseNotice gives a WebSocket request a notice the resolvers can fill.
func WithCloseNotice(ctx context.Context) (context.Context, *CloseNotice) {
	n := &CloseNotice{}
	return context.WithValue(ctx, noticeKey{}, n), n
}

// CloseNoticeFrom returns the notice of the connection ctx belongs to.
func CloseNoticeFrom(ctx context.Context) (*CloseNotice, bool) {
	n, ok := ctx.Value(noticeKey{}).(*CloseNotice)
	return n, ok
}
