package graphqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
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

// File uploads follow the GraphQL multipart request specification
// (jaydenseric/graphql-multipart-request-spec), what apollo-upload-client
// and urql send: a multipart/form-data POST whose first part, operations,
// is the usual JSON request with null where the file goes, whose second
// part, map, says which variable each file part fills, and whose file
// parts follow.
//
// Unlike gqlgen's MultipartForm transport, the file is not spooled to
// memory or disk: as Apollo Router does, the resolver gets a reader over
// the request body positioned at the file part and streams it onward while
// it is still arriving. That has consequences a client sees:
//   - one file per request (the map names one file, for one variable):
//     the next file's part only becomes readable once the one before has
//     been read to its end, and a second file has no resolver to read it;
//   - only mutations take files;
//   - the file can be read once, from start to end; it cannot seek.

// Codes of the upload errors, in extensions.code.
const (
	CodeUploadIncomplete = "UPLOAD_INCOMPLETE"
	// CodeTooManyUploads: MaxUploads files are streaming already (503).
	CodeTooManyUploads = "TOO_MANY_UPLOADS"
)

// The upload errors a resolver may get from reading the file (possibly
// wrapped by the client that streamed it onward). The error presenter
// turns UploadError into its Code.
var (
	// ErrUploadTooLarge: the file crossed Options.MaxUploadBytes.
	ErrUploadTooLarge = &UploadError{Code: CodeRequestTooLarge, Msg: "the file exceeds the upload limit"}
	// ErrUploadIncomplete: the request body broke off inside the file
	// (the client went away, or the multipart body is truncated).
	ErrUploadIncomplete = &UploadError{Code: CodeUploadIncomplete, Msg: "the file was cut short: the request body ended before the file did"}
	// ErrUploadTimedOut: the file did not arrive within the upload timeout.
	// The same code as a cut-off file: the client may send it again.
	ErrUploadTimedOut = &UploadError{Code: CodeUploadIncomplete, Msg: "the file did not arrive in time: the upload took longer than the gateway allows (STACKER_UPLOAD_TIMEOUT)"}
	// ErrUploadConsumed: the file was read again after its end, or after
	// the operation finished.
	ErrUploadConsumed = &UploadError{Code: CodeBadRequest, Msg: "the file has already been read: an upload is streamed and can be read once"}
)

// UploadError is what reading an upload failed with, safe to show.
type UploadError struct {
	Code string
	Msg  string
}

func (e *UploadError) Error() string { return e.Msg }

// uploadSlack bounds the multipart framing around the parts: boundaries and
// part headers.
const uploadSlack = 64 << 10

// drainUploadBytes is how much of a file part nobody read is discarded
// after the operation so the connection can serve the next request; past
// that the connection is closed instead.
const drainUploadBytes = 1 << 20

// multipartPost serves a multipart/form-data POST (the CSRF rule has let it
// through: it carries a preflight header).
func (t *Transport) multipartPost(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string, ctParams map[string]string) {
	boundary := ctParams["boundary"]
	if boundary == "" {
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, "multipart/form-data needs a boundary parameter in Content-Type")
		return
	}
	limit := t.opts.MaxBodyBytes + t.opts.MaxUploadBytes + uploadSlack
	if r.ContentLength > limit {
		t.fail(w, media, http.StatusRequestEntityTooLarge, CodeRequestTooLarge, t.tooLarge())
		return
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	mr := multipart.NewReader(body, boundary)

	// operations and map share the JSON body limit: together they are the
	// request a JSON POST would have sent.
	budget := t.opts.MaxBodyBytes
	ops, status, msg := readField(mr, "operations", &budget, t.opts.MaxBodyBytes)
	var m []byte
	if msg == "" {
		m, status, msg = readField(mr, "map", &budget, t.opts.MaxBodyBytes)
	}
	if msg != "" {
		drain(w, body)
		t.fail(w, media, status, codeFor(status), msg)
		return
	}
	params, key, path, msg := parseUpload(ops, m)
	if msg != "" {
		drain(w, body)
		t.fail(w, media, http.StatusBadRequest, CodeBadRequest, msg)
		return
	}
	var file *uploadFile
	if key != "" {
		part, err := mr.NextPart()
		switch {
		case err != nil:
			drain(w, body)
			t.fail(w, media, partStatus(err), codeFor(partStatus(err)), partError(err, "the file part "+strconv.Quote(clip(key))))
			return
		case part.FormName() != key:
			drain(w, body)
			t.fail(w, media, http.StatusBadRequest, CodeBadRequest,
				fmt.Sprintf("the map names the file part %q, but the part after map is %q: file parts follow map, in the map's order", clip(key), clip(part.FormName())))
			return
		}
		select {
		case t.uploads <- struct{}{}:
			defer func() { <-t.uploads }()
		default:
			// The file is not read: the connection closes rather than
			// take the whole of it in.
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "5")
			t.fail(w, media, http.StatusServiceUnavailable, CodeTooManyUploads,
				fmt.Sprintf("%d uploads are already streaming through this gateway; retry in a few seconds", cap(t.uploads)))
			return
		}
		if t.opts.UploadTimeout > 0 {
			// The file arrives while the operation runs: both get an
			// upload's time, from here (see Options.UploadTimeout).
			rc := http.NewResponseController(w)
			now := time.Now()
			_ = rc.SetReadDeadline(now.Add(t.opts.UploadTimeout))
			_ = rc.SetWriteDeadline(now.Add(t.opts.UploadTimeout + t.opts.OperationTimeout + t.opts.WriteTimeout))
		}
		file = &uploadFile{part: part, limit: t.opts.MaxUploadBytes}
		setPath(params.Variables, path, graphql.Upload{
			File:        file,
			Filename:    part.FileName(),
			ContentType: part.Header.Get("Content-Type"),
			Size:        -1, // unknown until the file has been read
		})
	}
	params.Headers = r.Header
	resp, status := t.runUpload(r, exec, media, params, file != nil)
	if file != nil {
		file.finish()
	}
	drain(w, body)
	t.write(w, media, status, resp)
}

func (t *Transport) tooLarge() string {
	return fmt.Sprintf("the request body exceeds the upload limit: operations and map up to %d bytes, the file up to %d bytes",
		t.opts.MaxBodyBytes, t.opts.MaxUploadBytes)
}

// runUpload executes the operation of a multipart request: a mutation
// only, its deferred fragments inlined (the answer is never streamed).
func (t *Transport) runUpload(r *http.Request, exec graphql.GraphExecutor, media string, params *graphql.RawParams, withFile bool) (*graphql.Response, int) {
	ctx := r.Context()
	if withFile {
		ctx = context.WithValue(ctx, uploadingKey{}, true)
	}
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		return exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs), requestErrorStatus(media, errs)
	}
	if rc.Operation.Operation != ast.Mutation {
		err := gqlerror.Errorf("a multipart request (a file upload) must be a mutation, not a %s", rc.Operation.Operation)
		errcode.Set(err, CodeBadRequest)
		return exec.DispatchError(graphql.WithOperationContext(ctx, rc), gqlerror.List{err}), http.StatusBadRequest
	}
	inlineDefers(rc)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if resp == nil {
		resp = &graphql.Response{Data: []byte("null")}
	}
	return resp, http.StatusOK
}

type uploadingKey struct{}

// Uploading reports whether ctx is that of an operation whose file streams
// in while it runs, and so needs an upload's time rather than a query's.
func Uploading(ctx context.Context) bool {
	v, _ := ctx.Value(uploadingKey{}).(bool)
	return v
}

func codeFor(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return CodeRequestTooLarge
	}
	return CodeBadRequest
}

// readField reads the next part, which must be the form field name, within
// *budget bytes (what is left of limit), and takes what it read from the
// budget.
func readField(mr *multipart.Reader, name string, budget *int64, limit int64) ([]byte, int, string) {
	part, err := mr.NextPart()
	if err != nil {
		return nil, partStatus(err), partError(err, "the "+name+" part")
	}
	if part.FormName() != name {
		return nil, http.StatusBadRequest, fmt.Sprintf("expected the %s part, got %q: a multipart request starts with operations, then map, then the files", name, clip(part.FormName()))
	}
	data, err := io.ReadAll(io.LimitReader(part, *budget+1))
	if err != nil {
		return nil, partStatus(err), partError(err, "the "+name+" part")
	}
	if int64(len(data)) > *budget {
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("the operations and map parts exceed %d bytes", limit)
	}
	*budget -= int64(len(data))
	return data, 0, ""
}

// partStatus is the status of a failure to read the multipart body.
func partStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// partError says what went wrong reading a part, without echoing the body.
func partError(err error, what string) string {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "the request body exceeds the upload limit"
	case errors.Is(err, io.EOF):
		return "the multipart body ends before " + what
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the multipart body is truncated in " + what
	default:
		return "the multipart body is malformed at " + what + ": check the boundary and the part headers"
	}
}

// parseUpload checks operations and map and returns the request, the map's one file key (empty when the map names no
// file) and the variables path that file fills.
func parseUpload(ops, m []byte) (*graphql.RawParams, string, []string, string) {
	ops, m = bytes.TrimSpace(ops), bytes.TrimSpace(m)
	switch {
	case len(ops) == 0:
		return nil, "", nil, "the operations part is empty"
	case !utf8.Valid(ops) || !utf8.Valid(m):
		return nil, "", nil, "the operations and map parts must be UTF-8"
	case ops[0] == '[':
		return nil, "", nil, "batched operations (a JSON array) are not accepted in a multipart request: send one operation per upload"
	}
	params, err := decodeParams(ops)
	if err != nil {
		return nil, "", nil, "operations: " + err.Error()
	}
	files, err := decodeMap(m)
	if err != nil {
		return nil, "", nil, "map: " + err.Error()
	}
	switch len(files) {
	case 0:
		return params, "", nil, ""
	case 1:
	default:
		return nil, "", nil, fmt.Sprintf("the map names %d files: Stacker takes one file per request (the file is streamed, not stored)", len(files))
	}
	f := files[0]
	if len(f.paths) != 1 {
		return nil, "", nil, fmt.Sprintf("map: the file %q must fill exactly one variable, not %d", clip(f.key), len(f.paths))
	}
	path, err := variablePath(params.Variables, f.paths[0])
	if err != nil {
		return nil, "", nil, fmt.Sprintf("map: the path %q of file %q %v", clip(f.paths[0]), clip(f.key), err)
	}
	return params, f.key, path, ""
}

type mapEntry struct {
	key   string
	paths []string
}

// decodeMap reads map, {"<file key>": ["variables.<path>", ...], ...}, in
// its order, refusing duplicate keys (which json.Unmarshal would merge
// silently).
func decodeMap(m []byte) ([]mapEntry, error) {
	if len(m) == 0 || m[0] != '{' {
		return nil, errors.New(`it must be a JSON object of file keys to lists of variable paths, like {"0": ["variables.input.file"]}`)
	}
	dec := json.NewDecoder(bytes.NewReader(m))
	if _, err := dec.Token(); err != nil {
		return nil, errors.New(jsonError(err))
	}
	var out []mapEntry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New(jsonError(err))
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("the file key %q appears twice", clip(key))
		}
		seen[key] = true
		var paths []string
		if err := dec.Decode(&paths); err != nil {
			return nil, fmt.Errorf("the paths of file %q must be a list of strings", clip(key))
		}
		out = append(out, mapEntry{key: key, paths: paths})
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New(jsonError(err))
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// variablePath checks that path ("variables.input.file",
// "variables.files.0") leads through the variables to a null slot, the
// placeholder the client left for the file, and splits it.
func variablePath(vars map[string]any, path string) ([]string, error) {
	rest, ok := strings.CutPrefix(path, "variables.")
	if !ok || rest == "" {
		return nil, errors.New(`must start with "variables." (batched paths such as "0.variables..." are not accepted)`)
	}
	steps := strings.Split(rest, ".")
	var cur any = vars
	for i, step := range steps {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[step]
			if !ok {
				return nil, errors.New("points at no variable")
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n < 0 || n >= len(c) {
				return nil, errors.New("points at no variable")
			}
			cur = c[n]
		default:
			return nil, fmt.Errorf("goes through a value that is not an object or a list at %q", clip(strings.Join(steps[:i], ".")))
		}
	}
	if cur != nil {
		return nil, errors.New("points at a variable that is not null: the client must send null where the file goes")
	}
	return steps, nil
}

// setPath puts v at path, which variablePath has checked.
func setPath(vars map[string]any, path []string, v any) {
	var cur any = vars
	for i, step := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[step] = v
				return
			}
			cur = c[step]
		case []any:
			n, _ := strconv.Atoi(step)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		}
	}
}

// drain discards what is left of the body, up to drainUploadBytes, so the
// connection can serve the next request; a body with more left has its
// connection closed after the answer.
func drain(w http.ResponseWriter, body io.Reader) {
	n, err := io.CopyN(io.Discard, body, drainUploadBytes)
	if n == drainUploadBytes || (err != nil && err != io.EOF) {
		w.Header().Set("Connection", "close")
	}
}

// uploadFile is graphql.Upload's File: the request body's file part, read
// once, from start to end, within the upload limit. It satisfies
// io.ReadSeeker only as far as gqlgen's type asks: Seek fails, but for
// asking the position.
//
// The mutex matters: the HTTP client that streams the file onward may
// still be reading it from its own goroutine when the service has already
// answered (early, with a 422), and the transport drains the rest of the
// body after the operation; finish closes the file under the same lock.
type uploadFile struct {
	mu     sync.Mutex
	part   *multipart.Part
	limit  int64
	n      int64
	err    error // sticky: the first failure, or ErrUploadConsumed once done
	closed bool
}

func (f *uploadFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, ErrUploadConsumed
	}
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read at most one byte past the limit: that byte is the proof of
	// overflow, and nothing more is taken from the client.
	if room := f.limit + 1 - f.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := f.part.Read(p)
	f.n += int64(n)
	var tooBig *http.MaxBytesError
	switch {
	case f.n > f.limit || errors.As(err, &tooBig):
		f.err = ErrUploadTooLarge
		return 0, f.err
	case err == io.EOF:
		f.err = ErrUploadConsumed // the next read is a second use
		return n, io.EOF
	case isTimeout(err):
		f.err = ErrUploadTimedOut
		return n, f.err
	case err != nil:
		f.err = ErrUploadIncomplete
		return n, f.err
	}
	return n, nil
}

// isTimeout reports whether err is the connection's read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (f *uploadFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if offset == 0 && whence == io.SeekCurrent {
		return f.n, nil
	}
	return f.n, errors.New("the upload is streamed from the request: it cannot seek")
}

// finish ends the file's use: later reads (by a client still streaming it
// onward) fail.
func (f *uploadFile) finish() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}
