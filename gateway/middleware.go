package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/tracing"
	"github.com/stacker/stacker/upstream"
)

// withDeadlines bounds the time a request may hold its connection: its
// headers and body must arrive within ReadTimeout (a client that sends one
// byte of body and stalls is cut off), and its answer must be written
// within WriteTimeout of the operation's deadline (a client that never reads
// a large answer does not pin it in memory). WebSockets and Server-Sent
// Events live as long as their subscriptions and get neither; their
// connection may have served a plain request before, so any deadline left
// from it is cleared. A file upload gets longer ones once its file part is
// reached (graphqlhttp's Options.UploadTimeout).
func withDeadlines(next http.Handler, cfg config.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if streaming(r) {
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		} else {
			now := time.Now()
			_ = rc.SetReadDeadline(now.Add(cfg.ReadTimeout))
			_ = rc.SetWriteDeadline(now.Add(cfg.ReadTimeout + cfg.OperationTimeout + cfg.WriteTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// streaming reports whether a request opens a subscription stream.
func streaming(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// noSniff keeps browsers from reading an answer as anything but what its
// Content-Type says.
func noSniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// withTracing makes each request's server span, continuing the client's
// trace; the upstream calls then carry their own spans' traceparent. With
// tracing off (tr nil) it adds nothing, and withRequestID passes the
// client's traceparent on unchanged instead.
func withTracing(next http.Handler, tr *tracing.Tracer) http.Handler {
	if tr == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tr.Request(r)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.EndHTTP(rec.status, nil)
	})
}

// withRequestID gives every request an id: the client's X-Request-ID when it
// sent a sane one, a random one otherwise. It is echoed in the response,
// logged, and forwarded to every upstream call the request makes, as is the
// client's traceparent when forwardTraceparent (tracing is off).
func withRequestID(next http.Handler, forwardTraceparent bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !saneRequestID(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := upstream.WithRequestID(r.Context(), id)
		if tp := r.Header.Get("traceparent"); forwardTraceparent && tp != "" && len(tp) <= 64 {
			ctx = upstream.WithTraceparent(ctx, tp)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush keeps Server-Sent Events streaming through the recorder: gqlgen
// asserts http.Flusher on the writer it is given.
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func withAccessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		id, _ := upstream.RequestID(r.Context())
		log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", id),
			slog.String("trace_id", tracing.TraceID(r.Context())),
		)
	})
}
