// Package idempotency makes mutations safe to retry. A client sends an
// Idempotency-Key header with a mutation; the first request with a key runs
// and its response is kept (Store: in Redis, shared by the replicas, or in
// memory); a retry with the same key and the same request gets that
// response again without running anything, a concurrent one waits for it,
// and the same key with a different request is refused. The services take
// no key of their own, so this is what stops a double-click from booking
// two appointments.
//
// It plugs into gqlgen as one handler extension. Queries and subscriptions
// ignore the header: they change nothing.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/auth"
)

// The request header that carries the key, and the response header that
// marks a replayed response.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// Codes of the errors this package makes, in extensions.code. They are
// request errors: nothing ran, so the response has no data and, with
// application/graphql-response+json, a 400 status (the transport's rule).
const (
	CodeBadKey     = "BAD_IDEMPOTENCY_KEY"
	CodeKeyReused  = "IDEMPOTENCY_KEY_REUSED"
	CodeInProgress = "IDEMPOTENCY_KEY_IN_PROGRESS"
)

// MaxKeyLength is the longest key accepted (Stripe's limit too).
const MaxKeyLength = 255

// Options configures the extension.
type Options struct {
	Store Store
	// TTL is how long a result is replayed (24 hours).
	TTL time.Duration
	// Lease is how long an unfinished request holds its key: longer than
	// an operation may run, so the key of a replica that crashed mid-way
	// frees itself.
	Lease time.Duration
	// Wait is how long a request waits for a concurrent one with its key
	// to finish (the operation timeout) before answering
	// IDEMPOTENCY_KEY_IN_PROGRESS.
	Wait time.Duration
	// Longer, when set, reports a request that may run longer than an
	// operation (a file upload): it waits LongWait and holds its key for
	// LongLease instead.
	Longer              func(context.Context) bool
	LongWait, LongLease time.Duration
	// Transient reports a response not worth keeping (a service was down
	// or too slow): its key is released and a retry runs again.
	Transient func(*graphql.Response) bool
	Log       *slog.Logger
}

// Extension is the gqlgen handler extension. Use it after every other
// extension that may refuse an operation (a key is claimed only for an
// operation that will run) and before the operation middlewares a replay
// should skip (loaders, execution).
type Extension struct{ opts Options }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
} = (*Extension)(nil)

// New returns the extension.
func New(o Options) *Extension {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Transient == nil {
		o.Transient = func(*graphql.Response) bool { return false }
	}
	return &Extension{opts: o}
}

// ExtensionName implements graphql.HandlerExtension.
func (x *Extension) ExtensionName() string { return "IdempotencyKey" }

// Validate implements graphql.HandlerExtension.
func (x *Extension) Validate(graphql.ExecutableSchema) error {
	if x.opts.Store == nil || x.opts.TTL <= 0 || x.opts.Lease <= 0 {
		return errors.New("idempotency: a store, a TTL and a lease are needed")
	}
	return nil
}

// request is what the HTTP layer saw: the key and where the response's
// headers go.
type request struct {
	key    string
	header http.Header
}

type requestKey struct{}

// Requests passes a POST's Idempotency-Key (and its response headers, to
// mark a replay) to the extension. Only POST: GET never carries a
// mutation, and a WebSocket's upgrade headers would apply one key to every
// mutation of the connection.
func Requests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if vs := r.Header.Values(Header); r.Method == http.MethodPost && len(vs) > 0 {
			key := vs[0]
			if len(vs) > 1 {
				key = "" // several keys: refused as a bad key
			}
			r = r.WithContext(context.WithValue(r.Context(), requestKey{}, request{key: key, header: w.Header()}))
		}
		next.ServeHTTP(w, r)
	})
}

// state is the extension's decision for one operation, kept in its stats
// between the mutator and the interceptor.
type state struct {
	key    string  // the scoped key this request owns, or ""
	fp     string  // its fingerprint
	replay *Record // a finished record to answer with instead of running
	header http.Header
}

const stateStat = "stacker.idempotency"

// MutateOperationContext claims the key of a mutation that is about to
// run, or finds its finished result, or refuses it.
func (x *Extension) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	req, ok := ctx.Value(requestKey{}).(request)
	if !ok || oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	if err := CheckKey(req.key); err != nil {
		return codeError(CodeBadKey, err.Error())
	}
	key, fp := scopedKey(ctx, req.key), fingerprint(oc)
	rec, err := x.claim(ctx, key, fp)
	switch {
	case errors.Is(err, errInProgress):
		return codeError(CodeInProgress, "a request with this Idempotency-Key is still running; retry later to get its result")
	case err != nil:
		// Failing open: a case manager may still book while the store is
		// down, at the risk a key was meant to prevent.
		x.opts.Log.Warn("idempotency: the store failed; the mutation runs unprotected", "error", err)
		return nil
	case rec != nil && rec.Fingerprint != fp:
		return codeError(CodeKeyReused, "this Idempotency-Key was used for a different request (operation or variables); send a new key for a new request")
	case rec != nil:
		oc.Stats.SetExtension(stateStat, state{replay: rec, header: req.header})
	default:
		oc.Stats.SetExtension(stateStat, state{key: key, fp: fp, header: req.header})
	}
	return nil
}

var errInProgress = errors.New("in progress")

// claim claims key or returns its finished record, waiting with backoff
// while another request holds it; the wait ends early on a different
// fingerprint (nothing to wait for).
func (x *Extension) claim(ctx context.Context, key, fp string) (*Record, error) {
	wait, lease := x.opts.Wait, x.opts.Lease
	if x.opts.Longer != nil && x.opts.Longer(ctx) {
		wait, lease = max(wait, x.opts.LongWait), max(lease, x.opts.LongLease)
	}
	deadline := time.Now().Add(wait)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		rec, err := x.opts.Store.Claim(ctx, key, fp, lease)
		if err != nil || rec == nil || rec.Done || rec.Fingerprint != fp {
			return rec, err
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, errInProgress
		}
		select {
		case <-ctx.Done():
			return nil, errInProgress
		case <-time.After(pause):
		}
	}
}

// InterceptOperation answers a replay with the stored response, and keeps
// an owner's response once it is complete.
func (x *Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	st, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(stateStat).(state)
	switch {
	case !ok:
		return next(ctx)
	case st.replay != nil:
		var resp graphql.Response
		if err := json.Unmarshal(st.replay.Response, &resp); err != nil {
			return graphql.OneShot(graphql.ErrorResponse(ctx, "idempotency: the stored response is unreadable"))
		}
		st.header.Set(ReplayedHeader, "true")
		return graphql.OneShot(&resp)
	}
	responses := next(ctx)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if first {
			first = false
			x.finish(ctx, st, resp)
		}
		return resp
	}
}

// finish keeps the owner's response for TTL, or releases the key when the
// response is transient (or there is none).
func (x *Extension) finish(ctx context.Context, st state, resp *graphql.Response) {
	ctx = context.WithoutCancel(ctx)
	if resp == nil || x.opts.Transient(resp) {
		if err := x.opts.Store.Release(ctx, st.key); err != nil {
			x.opts.Log.Warn("idempotency: releasing a key failed; retries wait for its lease", "error", err)
		}
		return
	}
	b, err := json.Marshal(resp)
	if err == nil {
		err = x.opts.Store.Complete(ctx, st.key, Record{Fingerprint: st.fp, Done: true, Response: b}, x.opts.TTL)
	}
	if err != nil {
		x.opts.Log.Warn("idempotency: keeping a result failed; a retry will wait for its lease, then run again", "error", err)
	}
}

// CheckKey accepts 1 to MaxKeyLength printable ASCII characters (a UUID
// is the usual choice).
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return fmt.Errorf("the %s header must be one key of 1 to %d characters", Header, MaxKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return fmt.Errorf("the %s header must be printable ASCII", Header)
		}
	}
	return nil
}

// scopedKey puts the key under its caller's subject, so two callers' keys
// never meet; anonymous callers (authentication off) share one space.
func scopedKey(ctx context.Context, key string) string {
	subject := ""
	if id, ok := auth.FromContext(ctx); ok {
		subject = id.Subject
	}
	sum := sha256.Sum256([]byte(subject + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// fingerprint identifies a request: its document, operation name and
// coerced variables (encoding/json sorts map keys, so the JSON is
// canonical).
func fingerprint(oc *graphql.OperationContext) string {
	vars, _ := json.Marshal(oc.Variables)
	h := sha256.New()
	for _, part := range [][]byte{[]byte(oc.RawQuery), []byte(oc.OperationName), vars} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func codeError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}
