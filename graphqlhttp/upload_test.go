package graphqlhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// part is one part of a hand-made multipart body.
type part struct{ name, filename, contentType, body string }

// multipartBody frames parts with boundary "B"; closed adds the closing
// boundary.
func multipartBody(closed bool, parts ...part) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--B\r\nContent-Disposition: form-data; name=\"" + p.name + "\"")
		if p.filename != "" {
			b.WriteString("; filename=\"" + p.filename + "\"")
		}
		b.WriteString("\r\n")
		if p.contentType != "" {
			b.WriteString("Content-Type: " + p.contentType + "\r\n")
		}
		b.WriteString("\r\n" + p.body + "\r\n")
	}
	if closed {
		b.WriteString("--B--\r\n")
	}
	return b.String()
}

const (
	mutationOps = `{"query":"mutation { name }","variables":{"f":null}}`
	fileMap     = `{"0":["variables.f"]}`
)

func ops(body string) part  { return part{name: "operations", body: body} }
func fmap(body string) part { return part{name: "map", body: body} }
func file(name, b string) part {
	return part{name: name, filename: "a.pdf", contentType: "application/pdf", body: b}
}

// TestMultipartRequest: the GraphQL multipart request specification, and a
// clear 4xx for every way a body can break it.
func TestMultipartRequest(t *testing.T) {
	h := newTestHandler(t, Options{MaxBodyBytes: 4096, MaxUploadBytes: 1 << 20})
	const ct = "multipart/form-data; boundary=B"
	preflight := map[string]string{"Apollo-Require-Preflight": "true"}
	tests := []struct {
		name   string
		ct     string
		body   string
		header map[string]string
		status int
		code   string
		msg    string // a part of the message
	}{
		{"a mutation with a file it does not read", ct, multipartBody(true, ops(mutationOps), fmap(fileMap), file("0", "%PDF")), preflight, 200, "", ""},
		{"a mutation without files", ct, multipartBody(true, ops(`{"query":"mutation { name }"}`), fmap(`{}`)), preflight, 200, "", ""},
		{"no preflight header", ct, multipartBody(true, ops(mutationOps), fmap(fileMap), file("0", "x")), nil, 400, CodeCSRF, "cross-site request forgery"},
		{"a query", ct, multipartBody(true, ops(`{"query":"{ name }","variables":{"f":null}}`), fmap(fileMap), file("0", "x")), preflight, 400, CodeBadRequest, "must be a mutation"},
		{"no boundary", "multipart/form-data", multipartBody(true, ops(mutationOps)), preflight, 400, CodeBadRequest, "boundary"},
		{"an empty body", ct, "", preflight, 400, CodeBadRequest, "before the operations part"},
		{"only the closing boundary", ct, "--B--\r\n", preflight, 400, CodeBadRequest, "before the operations part"},
		{"map before operations", ct, multipartBody(true, fmap(fileMap), ops(mutationOps)), preflight, 400, CodeBadRequest, "expected the operations part"},
		{"no map", ct, multipartBody(true, ops(mutationOps), file("0", "x")), preflight, 400, CodeBadRequest, "expected the map part"},
		{"operations not JSON", ct, multipartBody(true, ops(`{"query":`), fmap(fileMap)), preflight, 400, CodeBadRequest, "operations: the request body is not a JSON object"},
		{"batched operations", ct, multipartBody(true, ops(`[`+mutationOps+`]`), fmap(`{"0":["0.variables.f"]}`)), preflight, 400, CodeBadRequest, "batched operations"},
		{"map not JSON", ct, multipartBody(true, ops(mutationOps), fmap(`{"0":`), file("0", "x")), preflight, 400, CodeBadRequest, "map:"},
		{"map an array", ct, multipartBody(true, ops(mutationOps), fmap(`["variables.f"]`)), preflight, 400, CodeBadRequest, "map: it must be a JSON object"},
		{"map paths not strings", ct, multipartBody(true, ops(mutationOps), fmap(`{"0":[1]}`)), preflight, 400, CodeBadRequest, "list of strings"},
		{"a file key twice", ct, multipartBody(true, ops(mutationOps), fmap(`{"0":["variables.f"],"0":["variables.f"]}`)), preflight, 400, CodeBadRequest, "appears twice"},
		{"two files", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"f":null,"g":null}}`), fmap(`{"0":["variables.f"],"1":["variables.g"]}`), file("0", "x"), file("1", "y")), preflight, 400, CodeBadRequest, "one file per request"},
		{"one file for two variables", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"f":null,"g":null}}`), fmap(`{"0":["variables.f","variables.g"]}`), file("0", "x")), preflight, 400, CodeBadRequest, "exactly one variable"},
		{"a path to nothing", ct, multipartBody(true, ops(mutationOps), fmap(`{"0":["variables.nope"]}`), file("0", "x")), preflight, 400, CodeBadRequest, "points at no variable"},
		{"a path past a list's end", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"fs":[null]}}`), fmap(`{"0":["variables.fs.1"]}`), file("0", "x")), preflight, 400, CodeBadRequest, "points at no variable"},
		{"a path to a value", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"f":"x"}}`), fmap(fileMap), file("0", "x")), preflight, 400, CodeBadRequest, "not null"},
		{"a path through a value", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"f":"x"}}`), fmap(`{"0":["variables.f.g"]}`), file("0", "x")), preflight, 400, CodeBadRequest, "not an object or a list"},
		{"a path outside variables", ct, multipartBody(true, ops(mutationOps), fmap(`{"0":["query"]}`), file("0", "x")), preflight, 400, CodeBadRequest, `must start with "variables."`},
		{"a map key with no file part", ct, multipartBody(true, ops(mutationOps), fmap(fileMap)), preflight, 400, CodeBadRequest, `ends before the file part "0"`},
		{"the wrong file part", ct, multipartBody(true, ops(mutationOps), fmap(fileMap), file("1", "x")), preflight, 400, CodeBadRequest, `the part after map is "1"`},
		{"truncated in operations", ct, multipartBody(false, ops(mutationOps))[:30], preflight, 400, CodeBadRequest, "operations part"},
		{"no closing boundary", ct, multipartBody(false, ops(mutationOps), fmap(fileMap)), preflight, 400, CodeBadRequest, "truncated in the map part"},
		{"operations and map over the body limit", ct, multipartBody(true, ops(`{"query":"mutation { name }","variables":{"f":null,"pad":"`+strings.Repeat("x", 4096)+`"}}`), fmap(fileMap), file("0", "x")), preflight, 413, CodeRequestTooLarge, "exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := send(t, h, "POST", "/graphql", tt.ct, tt.body, tt.header)
			if ex.status != tt.status || ex.code() != tt.code || !strings.Contains(ex.message(), tt.msg) {
				t.Errorf("got %d %s, want %d %s with %q", ex.status, ex.raw, tt.status, tt.code, tt.msg)
			}
		})
	}
}

// TestMultipartTooLarge: a declared length over the limits is refused before
// a byte is read.
func TestMultipartTooLarge(t *testing.T) {
	h := newTestHandler(t, Options{MaxBodyBytes: 4096, MaxUploadBytes: 1 << 20})
	body := &countingReader{r: strings.NewReader(multipartBody(true, ops(mutationOps), fmap(fileMap), file("0", "x")))}
	req := httptest.NewRequest("POST", "/graphql", body)
	req.ContentLength = 4096 + 1<<20 + uploadSlack + 1
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	req.Header.Set("Apollo-Require-Preflight", "true")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), CodeRequestTooLarge) {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	if body.n != 0 {
		t.Errorf("%d bytes read before refusing", body.n)
	}
}

func (ex exchange) message() string {
	errs, _ := ex.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	m, _ := errs[0].(map[string]any)["message"].(string)
	return m
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestUploadFile: the reader a resolver gets reads the part once, within
// the limit, and cannot seek.
func TestUploadFile(t *testing.T) {
	newFile := func(body string, limit int64) *uploadFile {
		t.Helper()
		req := httptest.NewRequest("POST", "/", strings.NewReader(multipartBody(true, file("0", body))))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		mr, err := req.MultipartReader()
		if err != nil {
			t.Fatal(err)
		}
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		return &uploadFile{part: p, limit: limit}
	}
	t.Run("read once", func(t *testing.T) {
		f := newFile("hello", 5)
		b, err := io.ReadAll(f)
		if string(b) != "hello" || err != nil {
			t.Fatalf("read %q, %v", b, err)
		}
		if _, err := f.Read(make([]byte, 1)); !errors.Is(err, ErrUploadConsumed) {
			t.Errorf("second read: %v", err)
		}
		if pos, err := f.Seek(0, io.SeekCurrent); pos != 5 || err != nil {
			t.Errorf("position %d, %v", pos, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			t.Error("rewound a streamed file")
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		_, err := io.ReadAll(newFile("hello!", 5))
		if !errors.Is(err, ErrUploadTooLarge) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("after the operation", func(t *testing.T) {
		f := newFile("hello", 5)
		f.finish()
		if _, err := f.Read(make([]byte, 1)); !errors.Is(err, ErrUploadConsumed) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(multipartBody(false, file("0", "hello"))))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		mr, _ := req.MultipartReader()
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(&uploadFile{part: p, limit: 100})
		if !errors.Is(err, ErrUploadIncomplete) {
			t.Errorf("err = %v", err)
		}
	})
}

// FuzzMultipartRequest throws arbitrary multipart bodies (and boundaries) at
// the transport: it must never panic, and must always answer 2xx or 4xx
// with a JSON body. Run: go test -fuzz=FuzzMultipartRequest ./graphqlhttp
func FuzzMultipartRequest(f *testing.F) {
	seeds := []string{
		multipartBody(true, ops(mutationOps), fmap(fileMap), file("0", "%PDF")),
		multipartBody(true, ops(`{"query":"mutation { name }"}`), fmap(`{}`)),
		multipartBody(true, ops(`{"query":"mutation { name }","variables":{"fs":[null,{"a":null}]}}`), fmap(`{"0":["variables.fs.1.a"]}`), file("0", "x")),
		multipartBody(true, ops(`[{"query":"mutation { name }"}]`), fmap(`{}`)),
		multipartBody(false, ops(mutationOps), fmap(fileMap), file("0", "%PDF")),
		multipartBody(true, fmap(fileMap), ops(mutationOps)),
		"--B\r\nContent-Disposition: form-data; name=\"operations\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{=22query=22:=22{ name }=22}\r\n--B--\r\n",
		"--B\r\n\r\n\r\n--B--",
	}
	for _, s := range seeds {
		f.Add("B", s)
	}
	// The operation reads every file it is given, twice, as a resolver
	// streaming it onward would (and a buggy one might), so the file's
	// reader, its limit and what follows it are fuzzed too.
	srv := testserver.New()
	srv.AddTransport(New(Options{MaxBodyBytes: 4096, MaxUploadBytes: 8192}))
	srv.Use(uploadReader{})
	var h http.Handler = srv
	f.Fuzz(func(t *testing.T, boundary, body string) {
		req := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=\""+strings.ReplaceAll(boundary, `"`, "")+"\"")
		req.Header.Set("Apollo-Require-Preflight", "true")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var resp map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("body is not JSON: %q", rec.Body.String())
		}
		if rec.Code != http.StatusOK && resp["errors"] == nil {
			t.Fatalf("a %d without errors: %s", rec.Code, rec.Body)
		}
	})
}

// uploadReader reads the uploads of every request before the operation is
// validated (which would drop variables the test schema does not declare).
type uploadReader struct{}

func (uploadReader) ExtensionName() string                   { return "uploadReader" }
func (uploadReader) Validate(graphql.ExecutableSchema) error { return nil }
func (uploadReader) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	readUploads(p.Variables)
	return nil
}

// readUploads reads each graphql.Upload in v to its end, and once more.
func readUploads(v any) {
	switch v := v.(type) {
	case graphql.Upload:
		io.Copy(io.Discard, v.File)
		io.Copy(io.Discard, v.File)
	case map[string]any:
		for _, x := range v {
			readUploads(x)
		}
	case []any:
		for _, x := range v {
			readUploads(x)
		}
	}
}
