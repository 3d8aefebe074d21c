// Package graphqlhttp is Stacker's front door: GraphQL over HTTP as the
// GraphQL-over-HTTP specification says (the draft the graphql-http audit
// checks), with the protections an internal API full of patient data needs:
// body and document limits, CSRF prevention, CORS, automatic persisted
// queries, trusted documents and optional batching. It plugs into gqlgen as
// a transport and as handler extensions; it knows nothing of Stacker's schema.
package graphqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The media types of the specification.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// Codes of the errors this package makes, in extensions.code.
const (
	CodeBadRequest       = "BAD_REQUEST"
	CodeRequestTooLarge  = "REQUEST_TOO_LARGE"
	CodeCSRF             = "CSRF_PREVENTION"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeNotAcceptable    = "NOT_ACCEPTABLE"
	CodeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
	CodeBatchTooLarge    = "BATCH_TOO_LARGE"
	CodeBatchingDisabled = "BATCHING_DISABLED"
)

// Options configures the transport. The zero value is safe: 1 MiB bodies,
// no batching.
type Options struct {
	// MaxBodyBytes caps a POST body (default 1 MiB); larger is 413.
	MaxBodyBytes int64
	// MaxBatch is the largest JSON array of operations one POST may carry;
	// 0 turns batching off.
	MaxBatch int
	// MaxUploadBytes caps the file of a multipart upload (see upload.go);
	// 0 refuses multipart requests (415).
	MaxUploadBytes int64
	// MaxUploads is how many uploads may stream at once (default 16); one
	// more is refused with 503 and Retry-After. Uploads take no slot of
	// the documents service's bulkhead, which quick reads need.
	MaxUploads int
	// UploadTimeout, when set, replaces the connection's deadlines once a
	// request's file part is reached: its body may take UploadTimeout to
	// arrive and its answer OperationTimeout and WriteTimeout more to be
	// written (the operation runs on after the file has arrived). Before that a
	// multipart request has a query's deadlines, like any other.
	UploadTimeout, OperationTimeout, WriteTimeout time.Duration
}

// Transport serves GraphQL over HTTP GET and POST. It claims every request
// that is not a WebSocket upgrade, so that unsupported methods and media
// types get the specification's status codes rather than gqlgen's generic
// "transport not supported".
type Transport struct {
	opts    Options
	bufs    sync.Pool
	uploads chan struct{} // a slot per upload streaming now
}

var _ graphql.Transport = (*Transport)(nil)

// New returns the transport.
func New(o Options) *Transport {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxUploads <= 0 {
		o.MaxUploads = 16
	}
	return &Transport{opts: o, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}, uploads: make(chan struct{}, o.MaxUploads)}
}

// Supports claims everything but WebSocket upgrades and Server-Sent Events
// requests (as gqlgen's SSE transport accepts them), which the subscription
// transports serve: a request no transport claims would get gqlgen's bare
// "transport not supported" in text/plain.
func (t *Transport) Supports(r *http.Request) bool {
	return !webSocketUpgrade(r) && !serverSentEvents(r)
}

func webSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "websocket") {
				return true
			}
		}
	}
	return false
}

func serverSentEvents(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

// Do serves one request.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		t.fail(w, mediaJSON, http.StatusNotAcceptable, CodeNotAcceptable,
			"none of the media types in Accept can be served; accept application/graphql-response+json or application/json")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		t.get(w, r, exec, media)
	case http.MethodPost:
		t.post(w, r, exec, media)
	default:
		w.Header().Set("Allow", "GET, POST")
		t.fail(w, media, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GraphQL is served over GET (queries) and POST")
	}
}

// negotiate picks the response media type from Accept: the
// graphql-response type when the client asks for it (and prefers it at
// least as much as JSON), JSON for JSON, wildcards or no Accept at all
// (legacy clients), and nothing when only other types are acceptable. A
// client that accepts only multipart/mixed gets JSON for the answers that
// are not streamed (see multipart.go).
func negotiate(accept []string) (string, bool) {
	if len(accept) == 0 {
		return mediaJSON, true
	}
	bestQ, best := -1.0, ""
	for mt, params := range mediaRanges(accept) {
		var candidate string
		switch mt {
		case mediaGraphQLResponse:
			candidate = mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			candidate = mediaJSON
		default:
			continue
		}
		q := quality(params)
		if q > bestQ || (q == bestQ && candidate == mediaGraphQLResponse) {
			bestQ, best = q, candidate
		}
	}
	if best == "" && acceptsMultipart(accept) {
		return mediaJSON, true
	}
	return best, best != ""
}

// mediaRanges yields the media ranges of Accept headers that the client
// accepts at all (q above 0), with their parameters.
func mediaRanges(accept []string) iter.Seq2[string, map[string]string] {
	return func(yield func(string, map[string]string) bool) {
		for _, header := range accept {
			for part := range strings.SplitSeq(header, ",") {
				mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
				if err != nil || quality(params) <= 0 {
					continue
				}
				if !yield(mt, params) {
					return
				}
			}
		}
	}
}

// quality is a media range's q parameter, 1 when absent or malformed.
func quality(params map[string]string) float64 {
	if v, ok := params["q"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return 1
}

func (t *Transport) get(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string) {
	if int64(len(r.URL.RawQuery)) > t.opts.MaxBodyBytes {
		// The same bound as a POST body: the operation is the same size
		// whichever way it travels.
		t.fail(w, media, http.StatusRequestURITooLong, CodeRequestTooLarge,
			fmt.Sprintf("the query string exceeds %d bytes; send large operations with POST", t.opts.MaxBodyBytes))
		return
	}
	q := r.URL.Query()
	params := &graphql.RawParams{
		Query:         q.Get("query"),
		OperationName: q.Get("operationName"),
		Headers:       r.Header,
	}
	for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if v := q.Get(name); v != "" {
			if err := decodeObject([]byte(v), dst); err != nil {
				t.fail(w, media, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("%s must be a JSON object: %v", name, err))
				return
			}
		}
	}
	if !utf8.ValidString(params.Query) || !utf8.ValidString(params.OperationName) {
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "parameters must be UTF-8")
		return
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "missing query parameter")
		return
	}
	t.execute(w, r, exec, media, params, true)
}

func (t *Transport) post(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string) {
	ct := r.Header.Get("Content-Type")
	mt, ctParams, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		t.fail(w, media, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "POST needs Content-Type: application/json")
		return
	}
	if simpleContentType(mt) && !preflighted(r) {
		// A browser sends these cross-site without a CORS preflight, so
		// whatever they carry could be a forged request from another site.
		t.fail(w, media, http.StatusBadRequest, CodeCSRF,
			"this request has been blocked as a potential cross-site request forgery: send Content-Type: application/json, "+
				"or a non-empty Apollo-Require-Preflight or X-Apollo-Operation-Name header")
		return
	}
	if mt == "multipart/form-data" && t.opts.MaxUploadBytes > 0 {
		t.multipartPost(w, r, exec, media, ctParams)
		return
	}
	if mt != mediaJSON {
		t.fail(w, media, http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			fmt.Sprintf("unsupported Content-Type %q: send application/json", mt))
		return
	}
	if cs, ok := ctParams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		t.fail(w, media, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "only the utf-8 charset is supported")
		return
	}

	buf := t.getBuf()
	defer t.putBuf(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, t.opts.MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			t.fail(w, media, http.StatusRequestEntityTooLarge, CodeRequestTooLarge,
				fmt.Sprintf("the request body exceeds %d bytes", t.opts.MaxBodyBytes))
			return
		}
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "could not read the request body")
		return
	}
	body := bytes.TrimSpace(buf.Bytes())
	switch {
	case len(body) == 0:
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "the request body is empty")
		return
	case !utf8.Valid(body):
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "the request body is not valid UTF-8")
		return
	case body[0] == '[':
		t.batch(w, r, exec, media, body)
		return
	}
	params, err := decodeParams(body)
	if err != nil {
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	params.Headers = r.Header
	t.execute(w, r, exec, media, params, false)
}

// simpleContentType reports whether a browser may send this content type
// cross-site without a preflight.
func simpleContentType(mt string) bool {
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

// preflighted reports whether the request carries a header that a browser
// only sends cross-site after a CORS preflight.
func preflighted(r *http.Request) bool {
	return r.Header.Get("Apollo-Require-Preflight") != "" || r.Header.Get("X-Apollo-Operation-Name") != ""
}

// rawParams is the JSON shape of a request; fields are decoded loosely so
// each can be checked with a clear message.
type rawParams struct {
	Query         json.RawMessage `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

func decodeParams(body []byte) (*graphql.RawParams, error) {
	var raw rawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("the request body is not a JSON object: %s", jsonError(err))
	}
	if dec.More() {
		return nil, errors.New("the request body has data after the JSON object")
	}
	p := &graphql.RawParams{}
	if err := decodeString(raw.Query, &p.Query); err != nil {
		return nil, fmt.Errorf("query must be a string")
	}
	if err := decodeString(raw.OperationName, &p.OperationName); err != nil {
		return nil, fmt.Errorf("operationName must be a string or null")
	}
	if err := decodeObject(raw.Variables, &p.Variables); err != nil {
		return nil, fmt.Errorf("variables must be an object or null")
	}
	if err := decodeObject(raw.Extensions, &p.Extensions); err != nil {
		return nil, fmt.Errorf("extensions must be an object or null")
	}
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, errors.New("missing query")
	}
	return p, nil
}

func decodeString(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// decodeObject decodes a JSON object (or null) keeping numbers exact, as
// gqlgen expects of variables.
func decodeObject(raw []byte, dst *map[string]any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// jsonError describes a JSON syntax error without echoing the body back.
func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "it is a JSON " + te.Value
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "malformed JSON"
}

// execute runs one operation and writes its response: a deferred query's
// payloads as multipart/mixed when the client reads that, any other answer
// whole.
func (t *Transport) execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string, params *graphql.RawParams, viaGET bool) {
	resp, next, status := t.run(r, exec, media, params, viaGET, acceptsMultipart(r.Header.Values("Accept")))
	if next != nil {
		t.stream(w, resp, next)
		return
	}
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST")
	}
	t.write(w, media, status, resp)
}

// run executes one operation and returns its response and status code.
// When streaming is allowed and the operation has deferred payloads to
// come, next returns them, then nil; otherwise next is nil and @defer has
// been ignored (see defer.go).
func (t *Transport) run(r *http.Request, exec graphql.GraphExecutor, media string, params *graphql.RawParams, viaGET, streaming bool) (resp *graphql.Response, next func() *graphql.Response, status int) {
	ctx := r.Context()
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		return exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs), nil, requestErrorStatus(media, errs)
	}
	if viaGET && rc.Operation.Operation != ast.Query {
		// GET is safe and cacheable by definition; it must never change data.
		err := gqlerror.Errorf("%s operations are only accepted over POST", rc.Operation.Operation)
		errcode.Set(err, CodeMethodNotAllowed)
		return exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{err}), nil, http.StatusMethodNotAllowed
	}
	if !streaming {
		inlineDefers(rc)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp = responses(ctx)
	if resp == nil {
		return &graphql.Response{Data: []byte("null")}, nil, http.StatusOK
	}
	if more(resp) {
		next = func() *graphql.Response { return responses(ctx) }
	}
	return resp, next, http.StatusOK
}

// requestErrorStatus is the status of a request that never executed: a
// document that does not parse or validate, variables that do not coerce,
// a limit. application/json keeps 200 for them (legacy clients read the
// body whatever the status); application/graphql-response+json uses 4xx.
func requestErrorStatus(media string, errs gqlerror.List) int {
	for _, e := range errs {
		if code, _ := e.Extensions["code"].(string); code == CodeRequestTooLarge {
			return http.StatusRequestEntityTooLarge
		}
	}
	if media == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// batch runs a JSON array of operations, one after the other, and answers
// with an array of responses.
func (t *Transport) batch(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string, body []byte) {
	if t.opts.MaxBatch <= 0 {
		t.fail(w, media, http.StatusBadRequest, CodeBatchingDisabled, "batched requests (a JSON array of operations) are not accepted")
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "the request body is not a JSON array: "+jsonError(err))
		return
	}
	if len(items) == 0 || len(items) > t.opts.MaxBatch {
		t.fail(w, media, http.StatusBadRequest, CodeBatchTooLarge, fmt.Sprintf("a batch holds 1 to %d operations, got %d", t.opts.MaxBatch, len(items)))
		return
	}
	out := t.getBuf()
	defer t.putBuf(out)
	out.WriteByte('[')
	for i, item := range items {
		if i > 0 {
			out.WriteByte(',')
		}
		if r.Context().Err() != nil {
			// The client has gone or the deadline passed: the rest of the
			// batch runs for nobody.
			writeResponse(out, errorResponse(CodeCancelled, "the request was cancelled or ran out of time before this operation ran"))
			continue
		}
		params, err := decodeParams(item)
		if err != nil {
			writeResponse(out, errorResponse(CodeBadRequest, err.Error()))
			continue
		}
		params.Headers = r.Header
		resp, _, _ := t.run(r, exec, media, params, false, false)
		writeResponse(out, resp)
	}
	out.WriteByte(']')
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(out.Bytes())
}

func errorResponse(code, msg string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}}
}

// fail answers a request that cannot be executed.
func (t *Transport) fail(w http.ResponseWriter, media string, status int, code, msg string) {
	t.write(w, media, status, errorResponse(code, msg))
}

func (t *Transport) write(w http.ResponseWriter, media string, status int, resp *graphql.Response) {
	buf := t.getBuf()
	defer t.putBuf(buf)
	writeResponse(buf, resp)
	h := w.Header()
	h.Set("Content-Type", media+"; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (t *Transport) getBuf() *bytes.Buffer {
	buf := t.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

// putBuf keeps small buffers for reuse; a large answer's buffer is left to
// the garbage collector, or the pool would pin megabytes between requests.
func (t *Transport) putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		t.bufs.Put(buf)
	}
}

// writeResponse writes resp as JSON. The data is already JSON (gqlgen
// marshalled it), so it is copied as it is rather than re-encoded, which
// would scan and copy the whole answer again. A response without data (a
// request error) has no data entry at all, as the specification asks.
func writeResponse(buf *bytes.Buffer, resp *graphql.Response) {
	o := jsonObject{buf: buf}
	o.errors(resp.Errors)
	if resp.Data != nil {
		o.raw("data", resp.Data)
	}
	o.tail(resp)
	o.close()
}
