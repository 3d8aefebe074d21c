package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Sink stores records. Write is called from one goroutine at a time.
type Sink interface {
	Write(Record) error
}

// Failure modes: what a Trail does when a record cannot be kept.
const (
	// FailOpen logs the loss (no values) and counts it; the response goes
	// out as it is.
	FailOpen = "open"
	// FailClosed also reports it to the caller of Write, which withholds
	// the audited data.
	FailClosed = "closed"
)

// ErrUnavailable is the error Write returns in closed mode when the record
// cannot be kept: the buffer is full, the sink's last write failed, or the
// trail is closed.
var ErrUnavailable = errors.New("audit trail unavailable")

// Options configure a Trail.
type Options struct {
	// Buffer is how many records may wait for the sink; more are lost (the
	// failure mode applies). At least 1.
	Buffer int
	// Mode is FailOpen (the default) or FailClosed.
	Mode   string
	Logger *slog.Logger
}

// Trail hands records to a sink through a bounded buffer drained by one
// goroutine, so a slow sink costs a query nothing until the buffer is full.
// Close drains what is buffered and stops the goroutine.
type Trail struct {
	sink    Sink
	ch      chan Record
	closed  bool
	mu      sync.RWMutex // guards closed and sends on ch against Close
	mode    string
	log     *slog.Logger
	lost    atomic.Int64
	written atomic.Int64
	failing atomic.Bool
	done    chan struct{}
}

// New starts a trail writing to sink.
func New(sink Sink, o Options) *Trail {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Trail{sink: sink, ch: make(chan Record, max(o.Buffer, 1)), mode: o.Mode, log: log, done: make(chan struct{})}
	if t.mode == "" {
		t.mode = FailOpen
	}
	go t.drain()
	return t
}

func (t *Trail) drain() {
	defer close(t.done)
	for r := range t.ch {
		if err := t.sink.Write(r); err != nil {
			t.failing.Store(true)
			t.lose(r, "the sink failed: "+err.Error())
			continue
		}
		t.failing.Store(false)
		t.written.Add(1)
	}
}

// lose logs and counts a record that was not kept. The line names the
// request and operation, never a value.
func (t *Trail) lose(r Record, why string) {
	n := t.lost.Add(1)
	t.log.Error("AUDIT RECORD LOST: access to personal data went unrecorded",
		"reason", why, "request_id", r.RequestID, "operation", r.OperationName, "lost_total", n, "fail_mode", t.mode)
}

// Write queues r for the sink without waiting. In open mode it returns nil
// always; in closed mode ErrUnavailable when r could not be queued or the
// sink is failing (r is still queued then, so the trail learns when it
// recovers).
func (t *Trail) Write(r Record) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		t.lose(r, "the trail is closed")
		return t.failure()
	}
	select {
	case t.ch <- r:
	default:
		t.lose(r, "the buffer is full")
		return t.failure()
	}
	if t.failing.Load() {
		return t.failure()
	}
	return nil
}

func (t *Trail) failure() error {
	if t.mode == FailClosed {
		return ErrUnavailable
	}
	return nil
}

// Lost is how many records were not kept (buffer full, sink failed, or
// written after Close).
func (t *Trail) Lost() int64 { return t.lost.Load() }

// Written is how many records the sink took.
func (t *Trail) Written() int64 { return t.written.Load() }

// Refusing reports whether a closed-mode trail cannot keep a record now:
// its sink's last write failed, its buffer is full, or it is closed. The
// resolvers then withhold audited fields before resolving them, field by
// field, instead of refusing a whole response once it is made. An
// open-mode trail never refuses.
func (t *Trail) Refusing() bool {
	if t == nil || t.mode != FailClosed {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.closed || t.failing.Load() || len(t.ch) == cap(t.ch)
}

// Close stops accepting records, waits for the buffered ones to be written,
// and closes the sink when it is an io.Closer.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.done
		return nil
	}
	t.closed = true
	close(t.ch)
	t.mu.Unlock()
	<-t.done
	if c, ok := t.sink.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Encode is a record as every sink writes it: one JSON object, no newline.
func Encode(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode: %w", err)
	}
	return b, nil
}

// LineSink writes each record as one line of JSON.
type LineSink struct {
	w  *bufio.Writer
	c  io.Closer
	mu sync.Mutex
}

// NewLineSink writes JSON lines to w; Close closes w when it is an
// io.Closer other than os.Stderr or os.Stdout.
func NewLineSink(w io.Writer) *LineSink {
	s := &LineSink{w: bufio.NewWriter(w)}
	if c, ok := w.(io.Closer); ok && w != os.Stderr && w != os.Stdout {
		s.c = c
	}
	return s
}

func (s *LineSink) Write(r Record) error {
	b, err := Encode(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b = append(b, '\n')
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	// One record, one flush: a record in a buffer is lost in a crash.
	return s.w.Flush()
}

// Close closes the underlying file, if any.
func (s *LineSink) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}
