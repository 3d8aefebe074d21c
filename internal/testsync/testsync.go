// Package testsync holds the two helpers the tests of several packages need
// to watch a server's goroutines without sleeping: a log buffer they can read
// while the server writes to it, and a poll with a deadline.
package testsync

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Buffer is an io.Writer safe for a server's goroutines to log into while a
// test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// WaitFor polls cond until it holds, failing the test after 10 seconds. It
// polls every millisecond: the conditions tests wait for are reached within
// microseconds to a few seconds, and a sleep of a fixed length would be too
// short on a loaded machine or waste time on an idle one.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
