package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/internal/testsync"
)

const uploadDocument = `mutation($caseId: ID!, $kind: DocumentKind!, $title: String!, $file: Upload!) {
	uploadDocument(input: {caseId: $caseId, kind: $kind, title: $title, file: $file}) {
		document { id kind title sizeBytes case { id } }
		userErrors { field message }
	} }`

// upload is one multipart request as apollo-upload-client sends it:
// operations, map, then the file, streamed from file.
type upload struct {
	query       string
	vars        map[string]any // the file variable is set to null here
	filename    string
	contentType string
	file        io.Reader
	size        int64 // the file's size for Content-Length; -1 sends chunked
	header      http.Header
}

// uploadVars are the variables of uploadDocument for a file of case id.
func uploadVars(caseID any, title string) map[string]any {
	return map[string]any{"caseId": caseID, "kind": "LAB_RESULT", "title": title, "file": nil}
}

// request builds the request; the body is the multipart framing around u.file,
// which is read as the request is sent.
func (u upload) request(t testing.TB, url string) *http.Request {
	t.Helper()
	ops, _ := json.Marshal(map[string]any{"query": u.query, "variables": u.vars})
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("operations", string(ops))
	mw.WriteField("map", `{"0":["variables.file"]}`)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "0", "filename": u.filename}))
	h.Set("Content-Type", u.contentType)
	mw.CreatePart(h)
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	req, err := http.NewRequest("POST", url, io.MultiReader(bytes.NewReader(head.Bytes()), u.file, strings.NewReader(tail)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	if u.size >= 0 {
		req.ContentLength = int64(head.Len()) + u.size + int64(len(tail))
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true")
	for k, v := range u.header {
		req.Header[k] = v
	}
	return req
}

type uploadResult struct {
	status int
	data   struct {
		UploadDocument *struct {
			Document *struct {
				ID, Kind, Title string
				SizeBytes       int64
				Case            *struct{ ID string }
			}
			UserErrors []struct {
				Field   []string
				Message string
			}
		}
	}
	errors []gqlError
	raw    string
}

func (e *testEnv) upload(t testing.TB, u upload) uploadResult {
	t.Helper()
	resp, err := e.HTTP.Do(u.request(t, e.URL))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := uploadResult{status: resp.StatusCode, raw: string(raw)}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	if len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, &res.data); err != nil {
			t.Fatalf("decoding data %s: %v", r.Data, err)
		}
	}
	res.errors = r.Errors
	return res
}

func (r uploadResult) code() string {
	if len(r.errors) == 0 {
		return ""
	}
	c, _ := r.errors[0].Extensions["code"].(string)
	return c
}

// patternFile yields n bytes made up as they are read: a large file with no
// buffer behind it. Its sum is the SHA-256 of what it yielded.
type patternFile struct {
	n, off int64
	h      interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newPatternFile(n int64) *patternFile { return &patternFile{n: n, h: sha256.New()} }

func (f *patternFile) Read(p []byte) (int, error) {
	if f.off >= f.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), f.n-f.off)]
	for i := range p {
		p[i] = byte((f.off + int64(i)) * 7 % 251)
	}
	f.off += int64(len(p))
	f.h.Write(p)
	return len(p), nil
}

func (f *patternFile) sum() string { return hex.EncodeToString(f.h.Sum(nil)) }

// TestUploadDocument: a file sent by a browser client reaches the documents
// service whole, in one call; the service stores its size and hash (not its
// bytes), and the new document reaches a caseActivity subscriber.
func TestUploadDocument(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_EVENTS_URL": natsTopic(t)})
	c := dialWS(t, e.Base)
	c.subscribe("1", `subscription { caseActivity(caseId: 42) { __typename caseId ... on DocumentUploadedEvent { document { title sizeBytes } } } }`)
	testsync.WaitFor(t, "the subscription", func() bool { return e.liveSubs() == 1 })
	e.Demo.ResetCounts()

	body := []byte("%PDF-1.4\nBlood panel\n%%EOF\n")
	sum := sha256.Sum256(body)
	res := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Blood panel"),
		filename: "bloods.pdf", contentType: "application/pdf", file: bytes.NewReader(body), size: int64(len(body))})
	p := res.data.UploadDocument
	if res.status != 200 || len(res.errors) > 0 || p == nil || p.Document == nil || len(p.UserErrors) != 0 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	d := p.Document
	if d.Kind != "LAB_RESULT" || d.Title != "Blood panel" || d.SizeBytes != int64(len(body)) || d.Case == nil || d.Case.ID != "42" {
		t.Errorf("document %+v", d)
	}
	// By endpoint: the subscriber's reads of the event's document may
	// already have begun.
	if n := e.Demo.EndpointSnapshot()["documents POST /documents"]; n != 1 {
		t.Errorf("POST /documents sent %d times, want 1: %v", n, e.Demo.EndpointSnapshot())
	}
	if n := e.Demo.EndpointSnapshot()["cases GET /cases?ids"]; n != 1 {
		t.Errorf("cases read %d times, want 1 (document.case): %v", n, e.Demo.EndpointSnapshot())
	}
	var id int64
	fmt.Sscan(d.ID, &id)
	stored, ok := e.Store.Document(id)
	if !ok || stored.CaseID != 42 || stored.Title != "Blood panel" || stored.SizeBytes != int64(len(body)) ||
		stored.SHA256 != hex.EncodeToString(sum[:]) || stored.ContentType != "application/pdf" {
		t.Errorf("stored %+v", stored)
	}
	m := c.next()
	if got := jsonString(m["payload"]); m["type"] != "next" ||
		!strings.Contains(got, `"__typename":"DocumentUploadedEvent"`) || !strings.Contains(got, `"title":"Blood panel"`) {
		t.Errorf("caseActivity got %v", m)
	}
}

// TestUploadMemory: a 50 MB upload passes through the gateway without the
// gateway holding it. The gateway runs in this process, beside the demo
// services and the client, so what is measured bounds all three together:
// bytes allocated over the whole upload, and the heap's peak.
func TestUploadMemory(t *testing.T) {
	const size = 50 << 20
	e := startStacker(t, map[string]string{"STACKER_MAX_UPLOAD_BYTES": fmt.Sprint(size)})
	// Warm up: connections, the parsed-query cache.
	e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Warm-up"), filename: "w.txt", contentType: "text/plain", file: strings.NewReader("w"), size: 1})

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	f := newPatternFile(size)
	start := time.Now()
	res := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Scan"), filename: "scan.dcm", contentType: "application/dicom", file: f, size: size})
	elapsed := time.Since(start)
	close(stop)
	sampling.Wait()
	runtime.ReadMemStats(&after)
	if p := res.data.UploadDocument; p == nil || p.Document == nil || p.Document.SizeBytes != size {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	var id int64
	fmt.Sscan(res.data.UploadDocument.Document.ID, &id)
	if d, _ := e.Store.Document(id); d.SHA256 != f.sum() {
		t.Errorf("stored sha256 %s, sent %s", d.SHA256, f.sum())
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("50 MiB upload in %v: %d KiB allocated (%.1f KiB per MiB sent), heap in use %d KiB before, peak %d KiB",
		elapsed.Round(time.Millisecond), alloc>>10, float64(alloc>>10)/50, before.HeapInuse>>10, peak.Load()>>10)
	// The process's peak resident set (Linux), for the record: it includes
	// whatever tests ran before in this process.
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(status)) {
			if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
				t.Log(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	// Holding the file anywhere would allocate at least its size.
	if alloc > 8<<20 {
		t.Errorf("%d bytes allocated for a %d byte upload: something holds the file", alloc, size)
	}
	if peak.Load() > before.HeapInuse+16<<20 {
		t.Errorf("heap peaked at %d bytes, %d above where it started", peak.Load(), peak.Load()-before.HeapInuse)
	}
}

// TestUploadRefused: every refused upload is a clear error and leaves
// nothing in the documents service.
func TestUploadRefused(t *testing.T) {
	const limit = 1 << 20
	e := startStacker(t, map[string]string{"STACKER_MAX_UPLOAD_BYTES": fmt.Sprint(limit)})
	pdf := func(n int64) io.Reader { return newPatternFile(n) }
	tests := []struct {
		name  string
		u     upload
		calls int64 // documents calls
		check func(t *testing.T, r uploadResult)
	}{
		{
			name:  "over the limit by Content-Length",
			u:     upload{vars: uploadVars("42", "Big"), contentType: "application/pdf", file: pdf(3 * limit), size: 3 * limit},
			calls: 0,
			check: func(t *testing.T, r uploadResult) {
				if r.status != 413 || r.code() != "REQUEST_TOO_LARGE" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "over the limit while streaming",
			u:     upload{vars: uploadVars("42", "Big"), contentType: "application/pdf", file: pdf(2 * limit), size: -1},
			calls: 1, // aborted mid-way
			check: func(t *testing.T, r uploadResult) {
				if r.data.UploadDocument != nil || r.code() != "REQUEST_TOO_LARGE" || r.errors[0].pathString() != "uploadDocument" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "a content type the service refuses",
			u:     upload{vars: uploadVars("42", "Setup"), contentType: "application/x-msdownload", file: pdf(1000), size: 1000},
			calls: 1,
			check: func(t *testing.T, r uploadResult) {
				p := r.data.UploadDocument
				if len(r.errors) > 0 || p == nil || p.Document != nil || len(p.UserErrors) != 1 ||
					strings.Join(p.UserErrors[0].Field, ".") != "input.file" ||
					p.UserErrors[0].Message != "content type application/x-msdownload is not accepted" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "a large file of a refused type",
			u:     upload{vars: uploadVars("42", "Setup"), contentType: "application/x-msdownload", file: pdf(limit), size: -1},
			calls: 1,
			check: func(t *testing.T, r uploadResult) {
				if p := r.data.UploadDocument; p == nil || len(p.UserErrors) != 1 {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "an unknown case",
			u:     upload{vars: uploadVars("999999", "Lost"), contentType: "application/pdf", file: pdf(1000), size: 1000},
			calls: 1,
			check: func(t *testing.T, r uploadResult) {
				if r.data.UploadDocument != nil || r.code() != "NOT_FOUND" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "a malformed case id",
			u:     upload{vars: uploadVars("abc", "Lost"), contentType: "application/pdf", file: pdf(1000), size: 1000},
			calls: 0,
			check: func(t *testing.T, r uploadResult) {
				if r.data.UploadDocument != nil || r.code() != "BAD_USER_INPUT" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name:  "no preflight header",
			u:     upload{vars: uploadVars("42", "Forged"), contentType: "application/pdf", file: pdf(1000), size: 1000, header: http.Header{"Apollo-Require-Preflight": {""}}},
			calls: 0,
			check: func(t *testing.T, r uploadResult) {
				if r.status != 400 || r.code() != "CSRF_PREVENTION" {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
		{
			name: "a query",
			u: upload{query: `query { case(id: 42) { id } }`, vars: map[string]any{"file": nil},
				contentType: "application/pdf", file: pdf(1000), size: 1000},
			calls: 0,
			check: func(t *testing.T, r uploadResult) {
				if r.status != 400 || r.code() != "BAD_REQUEST" || !strings.Contains(r.raw, "must be a mutation") {
					t.Errorf("status %d: %s", r.status, r.raw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.u.query == "" {
				tt.u.query = uploadDocument
			}
			tt.u.filename = "file"
			before := len(e.Store.DocumentsByCase(42))
			e.Demo.ResetCounts()
			r := e.upload(t, tt.u)
			tt.check(t, r)
			if n := e.Demo.Requests("documents"); n != tt.calls {
				t.Errorf("documents calls = %d, want %d", n, tt.calls)
			}
			if n := len(e.Store.DocumentsByCase(42)); n != before {
				t.Errorf("case 42 has %d documents, had %d: the refused upload was stored", n, before)
			}
			// The connection is still usable: the next request on it works.
			e.mustDo(t, `{ case(id: 42) { id } }`, nil, nil)
		})
	}
}

// TestUploadInterrupted: a client that goes away mid-upload, and a documents
// service that goes away mid-upload, leave nothing stored and nothing
// running (goleak checks the second).
func TestUploadInterrupted(t *testing.T) {
	e := startStacker(t, nil)
	t.Run("client disconnects", func(t *testing.T) {
		before := len(e.Store.DocumentsByCase(42))
		e.Demo.ResetCounts()
		ctx, cancel := context.WithCancel(context.Background())
		f := &stallingFile{Reader: newPatternFile(256 << 10), stalled: make(chan struct{}), gone: ctx.Done()}
		go func() {
			<-f.stalled
			cancel()
		}()
		req := upload{query: uploadDocument, vars: uploadVars("42", "Cut"), filename: "cut.pdf", contentType: "application/pdf", file: f, size: -1}.request(t, e.URL)
		_, err := e.HTTP.Do(req.WithContext(ctx))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		testsync.WaitFor(t, "the upstream request to end", func() bool {
			return strings.Contains(e.Logs.String(), "UPLOAD_INCOMPLETE")
		})
		if n := len(e.Store.DocumentsByCase(42)); n != before {
			t.Errorf("case 42 has %d documents, had %d", n, before)
		}
		if n := e.Demo.Requests("documents"); n != 1 {
			t.Errorf("documents calls = %d, want 1", n)
		}
	})
	t.Run("documents service drops the connection mid-stream", func(t *testing.T) {
		e.Inject.Set("documents", demo.Faults{Drop: 1})
		defer e.Inject.Set("documents", demo.Faults{})
		before := len(e.Store.DocumentsByCase(42))
		r := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Dropped"), filename: "d.pdf", contentType: "application/pdf", file: newPatternFile(2 << 20), size: -1})
		if r.data.UploadDocument != nil || r.code() != "UPSTREAM_UNAVAILABLE" {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
		if n := len(e.Store.DocumentsByCase(42)); n != before {
			t.Errorf("case 42 has %d documents, had %d", n, before)
		}
		e.mustDo(t, `{ case(id: 42) { id } }`, nil, nil)
	})
	t.Run("documents service answers 503 mid-stream", func(t *testing.T) {
		e.Faults.set("documents", http.StatusServiceUnavailable)
		defer e.Faults.set("documents", 0)
		r := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Down"), filename: "d.pdf", contentType: "application/pdf", file: newPatternFile(512 << 10), size: -1})
		if r.data.UploadDocument != nil || r.code() != "UPSTREAM_UNAVAILABLE" {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
		e.mustDo(t, `{ case(id: 42) { id } }`, nil, nil)
	})
}

// stallingFile yields its Reader, then blocks (as a client whose network
// stalled) until the request is cancelled.
type stallingFile struct {
	io.Reader
	stalled chan struct{}
	gone    <-chan struct{} // the request's context's Done
	once    sync.Once
}

func (f *stallingFile) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	if err == io.EOF {
		f.once.Do(func() { close(f.stalled) })
		<-f.gone
		return 0, errors.New("the client went away")
	}
	return n, err
}

// TestApolloUploadClient: the real apollo-upload-client (19, for Apollo
// Client 4) uploads through Stacker: an accepted file is stored whole, a
// refused type comes back as a userError on the file, and a file over the
// limit (whose length the client declares) is refused with 413 before the
// documents service hears of it.
func TestApolloUploadClient(t *testing.T) {
	needTool(t, "../e2e/node_modules/apollo-upload-client", "run ./test.sh, or npm ci in e2e/")
	const limit = 1 << 20
	e := startStacker(t, map[string]string{"STACKER_MAX_UPLOAD_BYTES": fmt.Sprint(limit)})
	before := len(e.Store.DocumentsByCase(42))
	e.Demo.ResetCounts()
	out, err := exec.Command("node", "../e2e/upload.mjs", e.URL, "42", fmt.Sprint(3*limit)).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("upload.mjs: %v\n%s\n%s", err, out, stderr)
	}
	type result struct {
		Data *struct {
			UploadDocument *struct {
				Document *struct {
					ID, Kind, Title string
					SizeBytes       int
				}
				UserErrors []struct {
					Field   []string
					Message string
				}
			}
		}
		Error *struct {
			Name       string
			StatusCode int
			Codes      []string
		}
	}
	var got struct{ Accepted, Refused, TooLarge result }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	letter := "%PDF-1.4\nDischarge letter\n%%EOF\n"
	if a := got.Accepted; a.Error != nil || a.Data == nil || a.Data.UploadDocument == nil || a.Data.UploadDocument.Document == nil ||
		a.Data.UploadDocument.Document.SizeBytes != len(letter) || a.Data.UploadDocument.Document.Kind != "MEDICAL_REPORT" {
		t.Errorf("accepted: %s", out)
	}
	if r := got.Refused; r.Data == nil || r.Data.UploadDocument == nil || len(r.Data.UploadDocument.UserErrors) != 1 ||
		strings.Join(r.Data.UploadDocument.UserErrors[0].Field, ".") != "input.file" {
		t.Errorf("refused: %s", out)
	}
	// Apollo Client reads the 413's GraphQL errors (CombinedGraphQLErrors);
	// the POST count below shows the documents service never saw it.
	if l := got.TooLarge; l.Error == nil || len(l.Error.Codes) != 1 || l.Error.Codes[0] != "REQUEST_TOO_LARGE" {
		t.Errorf("too large: %s", out)
	}
	docs := e.Store.DocumentsByCase(42)
	if len(docs) != before+1 {
		t.Fatalf("case 42 has %d documents, had %d: want the accepted one only", len(docs), before)
	}
	sum := sha256.Sum256([]byte(letter))
	if d := docs[len(docs)-1]; d.Title != "Discharge letter" || d.SHA256 != hex.EncodeToString(sum[:]) || d.ContentType != "application/pdf" {
		t.Errorf("stored %+v", d)
	}
	if n := e.Demo.EndpointSnapshot()["documents POST /documents"]; n != 2 {
		t.Errorf("POST /documents sent %d times, want 2 (the accepted and the refused file)", n)
	}
}

// TestUploadAuthorization: uploading needs documents:write. A medical
// advisor's upload is refused without a call to the documents service (its
// file is discarded unread); a case manager's is stored.
func TestUploadAuthorization(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, nil))
	tests := []struct {
		role   string
		stored int
		code   string
	}{
		{"medical_advisor", 0, "UNAUTHORIZED_FIELD_OR_TYPE"},
		{"case_manager", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			before := len(e.Store.DocumentsByCase(42))
			e.Demo.ResetCounts()
			r := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Bloods"), filename: "b.pdf", contentType: "application/pdf",
				file: newPatternFile(64 << 10), size: -1,
				header: http.Header{"Authorization": {"Bearer " + roleToken(t, p, k, "user-"+tt.role, tt.role)}}})
			if r.code() != tt.code {
				t.Errorf("status %d: %s", r.status, r.raw)
			}
			if n := len(e.Store.DocumentsByCase(42)) - before; n != tt.stored {
				t.Errorf("%d documents stored, want %d", n, tt.stored)
			}
			if n := e.Demo.EndpointSnapshot()["documents POST /documents"]; n != int64(tt.stored) {
				t.Errorf("POST /documents sent %d times, want %d", n, tt.stored)
			}
		})
	}
}

// TestUrqlUpload: the real urql (@urql/core 6) uploads through Stacker with
// its own multipart support, the file nested in an input object
// (variables.input.file).
func TestUrqlUpload(t *testing.T) {
	needTool(t, "../e2e/node_modules/@urql/core", "run ./test.sh, or npm ci in e2e/")
	e := startStacker(t, nil)
	out, err := exec.Command("node", "../e2e/upload-urql.mjs", e.URL, "42").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("upload-urql.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var got struct {
		Data *struct {
			UploadDocument *struct {
				Document *struct {
					ID, Kind, Title string
					SizeBytes       int
				}
			}
		}
		Error *string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	const content = "an image, as far as this test is concerned"
	if got.Error != nil || got.Data == nil || got.Data.UploadDocument == nil || got.Data.UploadDocument.Document == nil ||
		got.Data.UploadDocument.Document.SizeBytes != len(content) || got.Data.UploadDocument.Document.Kind != "IMAGING" {
		t.Fatalf("%s", out)
	}
	var id int64
	fmt.Sscan(got.Data.UploadDocument.Document.ID, &id)
	sum := sha256.Sum256([]byte(content))
	if d, _ := e.Store.Document(id); d.Title != "Chest X-ray" || d.ContentType != "image/png" || d.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("stored %+v", d)
	}
}

// TestUploadTimeout: a file that takes longer to arrive than a query may
// run (a slow uplink) is bounded by STACKER_UPLOAD_TIMEOUT, not by the read,
// operation and attempt timeouts of queries; past the upload timeout it is
// cut off and nothing is stored.
func TestUploadTimeout(t *testing.T) {
	const gap, chunks = 100 * time.Millisecond, 10 // the file takes about a second
	tight := map[string]string{
		"STACKER_READ_TIMEOUT": "300ms", "STACKER_OPERATION_TIMEOUT": "300ms", "STACKER_UPSTREAM_TIMEOUT": "300ms",
	}
	tests := []struct {
		name          string
		uploadTimeout string
		stored        bool
	}{
		{name: "within the upload timeout", uploadTimeout: "30s", stored: true},
		{name: "past the upload timeout", uploadTimeout: "400ms", stored: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"STACKER_UPLOAD_TIMEOUT": tc.uploadTimeout}
			for k, v := range tight {
				env[k] = v
			}
			e := startStacker(t, env)
			before := len(e.Store.DocumentsByCase(42))
			f := &trickleFile{Reader: newPatternFile(chunks * 4096), gap: gap}
			u := upload{query: uploadDocument, vars: uploadVars("42", "Scan"), filename: "scan.pdf",
				contentType: "application/pdf", file: f, size: -1}
			if !tc.stored {
				// The gateway answers and closes the connection while the
				// client is still sending: the client sees the answer, or
				// (depending on the moment) only its failed write.
				resp, err := e.HTTP.Do(u.request(t, e.URL))
				switch {
				case err == nil:
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !strings.Contains(string(raw), `"code":"UPLOAD_INCOMPLETE"`) || !strings.Contains(string(raw), "did not arrive in time") {
						t.Errorf("cut off with %d %s", resp.StatusCode, raw)
					}
				case !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET):
					t.Fatalf("POST: %v", err)
				}
				testsync.WaitFor(t, "the upload to end", func() bool { return strings.Contains(e.Logs.String(), "UPLOAD_INCOMPLETE") })
				if n := len(e.Store.DocumentsByCase(42)) - before; n != 0 {
					t.Errorf("stored %d documents", n)
				}
				return
			}
			r := e.upload(t, u)
			n := len(e.Store.DocumentsByCase(42)) - before
			if n != 1 || r.data.UploadDocument == nil || r.data.UploadDocument.Document == nil ||
				r.data.UploadDocument.Document.SizeBytes != chunks*4096 {
				t.Fatalf("stored %d documents; status %d: %s", n, r.status, r.raw)
			}
			// The connection's deadlines went back to a query's.
			e.mustDo(t, `{ case(id: 42) { id } }`, nil, nil)
		})
	}
}

// trickleFile yields at most 4 KiB a read, gap apart: a slow uplink.
type trickleFile struct {
	io.Reader
	gap time.Duration
}

func (f *trickleFile) Read(p []byte) (int, error) {
	time.Sleep(f.gap)
	return f.Reader.Read(p[:min(len(p), 4096)])
}

// TestUploadFromBrowser: a file chosen in an <input type="file"> in headless
// Chromium (playground/web/upload-test.mjs) is sent as the browser sends
// FormData, the way apollo-upload-client and urql build it, and reaches the
// documents service whole; the same request without the preflight header
// is refused as a possible cross-site forgery and reaches no service.
func TestUploadFromBrowser(t *testing.T) {
	node, webDir := browserTools(t)
	e := startStacker(t, nil)

	// A 3 MiB file on disk: big enough to cross several reads on its way.
	f := newPatternFile(3 << 20)
	path := filepath.Join(t.TempDir(), "scan.png")
	content, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(e.Store.DocumentsByCase(42))
	e.Demo.ResetCounts()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, errOut, err := runBrowserScript(ctx, node, webDir, "upload-test.mjs", "PAGE_URL="+e.Base+"/", "UPLOAD_FILE="+path)
	if err != nil {
		t.Fatalf("upload-test.mjs: %v\n%s%s", err, out, errOut)
	}
	type answer struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Size   int64  `json:"size"`
		Body   struct {
			Data struct {
				UploadDocument *struct {
					Document   *struct{ ID, Title string }
					UserErrors []any
				}
			}
			Errors []gqlError
		}
	}
	var got struct{ WithPreflight, WithoutPreflight answer }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %q: %v\n%s", out, err, errOut)
	}

	ok := got.WithPreflight
	if ok.Status != 200 || len(ok.Body.Errors) > 0 || ok.Body.Data.UploadDocument == nil || ok.Body.Data.UploadDocument.Document == nil {
		t.Fatalf("with the preflight header: %+v", ok)
	}
	if ok.Type != "image/png" || ok.Size != int64(len(content)) {
		t.Errorf("the browser sent %s of %d bytes, want image/png of %d", ok.Type, ok.Size, len(content))
	}
	var id int64
	fmt.Sscan(ok.Body.Data.UploadDocument.Document.ID, &id)
	stored, found := e.Store.Document(id)
	if !found || stored.SizeBytes != int64(len(content)) || stored.SHA256 != f.sum() || stored.ContentType != "image/png" {
		t.Errorf("stored %+v, want %d bytes of sha256 %s", stored, len(content), f.sum())
	}

	refused := got.WithoutPreflight
	if refused.Status != 400 || len(refused.Body.Errors) != 1 || refused.Body.Errors[0].Extensions["code"] != "CSRF_PREVENTION" {
		t.Errorf("without the preflight header: %+v", refused)
	}
	if n := len(e.Store.DocumentsByCase(42)) - before; n != 1 {
		t.Errorf("case 42 gained %d documents, want 1", n)
	}
	if n := e.Demo.EndpointSnapshot()["documents POST /documents"]; n != 1 {
		t.Errorf("POST /documents sent %d times, want 1", n)
	}
}

// TestUploadIdempotencyKey: an upload retried with its Idempotency-Key (the
// answer was lost, the client sends it again) is replayed, not stored
// twice; the retry's file is never read onward. The key covers the
// operation, the variables and the file's name and type, not its bytes,
// which are only known once streamed (docs/uploads.md).
func TestUploadIdempotencyKey(t *testing.T) {
	e := startStacker(t, nil)
	before := len(e.Store.DocumentsByCase(42))
	e.Demo.ResetCounts()
	h := http.Header{"Idempotency-Key": {"upload-7f3a"}}
	send := func() (*http.Response, string) {
		req := upload{query: uploadDocument, vars: uploadVars("42", "Echo"), filename: "echo.pdf", contentType: "application/pdf",
			file: newPatternFile(256 << 10), size: 256 << 10, header: h}.request(t, e.URL)
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	first, firstBody := send()
	second, secondBody := send()
	if first.StatusCode != 200 || !strings.Contains(firstBody, `"sizeBytes":262144`) || first.Header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("first: %d %s", first.StatusCode, firstBody)
	}
	if second.Header.Get("Idempotent-Replayed") != "true" || secondBody != firstBody {
		t.Errorf("retry: %d replayed=%q %s", second.StatusCode, second.Header.Get("Idempotent-Replayed"), secondBody)
	}
	if n := len(e.Store.DocumentsByCase(42)) - before; n != 1 {
		t.Errorf("case 42 gained %d documents, want 1", n)
	}
	if n := e.Demo.EndpointSnapshot()["documents POST /documents"]; n != 1 {
		t.Errorf("POST /documents sent %d times, want 1", n)
	}
}

// TestUploadsSpareTheDocumentsService: an upload's failures that are its
// client's (a file over the limit, a client gone) do not count against the
// documents service's breaker, and a slow upload holds none of its
// bulkhead's slots, so the documents of every screen still load; uploads
// are capped by STACKER_MAX_UPLOADS instead.
func TestUploadsSpareTheDocumentsService(t *testing.T) {
	const limit = 64 << 10
	e := startStacker(t, map[string]string{
		"STACKER_MAX_UPLOAD_BYTES": fmt.Sprint(limit), "STACKER_BREAKER_FAILURES": "2",
		"STACKER_UPSTREAM_MAX_IN_FLIGHT": "1", "STACKER_MAX_UPLOADS": "1",
	})
	documents := func(t *testing.T) {
		t.Helper()
		var got struct {
			Case struct{ Documents []struct{ ID string } }
		}
		if errs := e.do(t, `{ case(id: 42) { documents { id } } }`, nil, &got); len(errs) > 0 {
			t.Fatalf("the case's documents: %s", jsonString(errs))
		}
	}

	t.Run("client failures do not open the breaker", func(t *testing.T) {
		for range 4 {
			r := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Big"), filename: "big.pdf",
				contentType: "application/pdf", file: newPatternFile(2 * limit), size: -1})
			if r.code() != "REQUEST_TOO_LARGE" {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
		}
		// Two failures open it (STACKER_BREAKER_FAILURES): then this read
		// would be UPSTREAM_UNAVAILABLE.
		documents(t)
	})

	t.Run("a slow upload leaves the bulkhead to reads, and is the only one", func(t *testing.T) {
		release := make(chan struct{})
		done := make(chan uploadResult, 1)
		slow := &gatedFile{Reader: newPatternFile(8 << 10), gate: release}
		go func() {
			done <- e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Slow"), filename: "slow.pdf",
				contentType: "application/pdf", file: slow, size: -1})
		}()
		testsync.WaitFor(t, "the slow upload to reach the documents service", func() bool {
			return slow.started.Load()
		})
		documents(t) // one slot, and the upload does not hold it
		second := e.upload(t, upload{query: uploadDocument, vars: uploadVars("42", "Second"), filename: "b.pdf",
			contentType: "application/pdf", file: newPatternFile(1 << 10), size: 1 << 10})
		if second.status != http.StatusServiceUnavailable || second.code() != "TOO_MANY_UPLOADS" {
			t.Errorf("a second upload at once: status %d: %s", second.status, second.raw)
		}
		close(release)
		if r := <-done; r.data.UploadDocument == nil || r.data.UploadDocument.Document == nil {
			t.Fatalf("the slow upload: status %d: %s", r.status, r.raw)
		}
	})
}

// gatedFile yields half its Reader, then waits for gate before the rest:
// an upload whose client is slow, held open for as long as a test needs.
type gatedFile struct {
	io.Reader
	gate    chan struct{}
	started atomic.Bool
	sent    int
}

func (f *gatedFile) Read(p []byte) (int, error) {
	if f.sent >= 4<<10 {
		f.started.Store(true)
		<-f.gate
	}
	n, err := f.Reader.Read(p[:min(len(p), 1<<10)])
	f.sent += n
	return n, err
}

// TestUploadRetriedAfterCutOff: an upload whose body broke off stored
// nothing, so its Idempotency-Key is released: the client's retry with the
// same key and the whole file runs and is stored, not answered with the
// first attempt's error.
func TestUploadRetriedAfterCutOff(t *testing.T) {
	e := startStacker(t, nil)
	before := len(e.Store.DocumentsByCase(42))
	h := http.Header{"Idempotency-Key": {"upload-cut-1"}}
	u := upload{query: uploadDocument, vars: uploadVars("42", "Retried"), filename: "r.pdf", contentType: "application/pdf", header: h}

	ctx, cancel := context.WithCancel(context.Background())
	cut := u
	cut.file, cut.size = &stallingFile{Reader: newPatternFile(64 << 10), stalled: make(chan struct{}), gone: ctx.Done()}, -1
	go func() {
		<-cut.file.(*stallingFile).stalled
		cancel()
	}()
	if _, err := e.HTTP.Do(cut.request(t, e.URL).WithContext(ctx)); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut-off attempt: %v", err)
	}
	testsync.WaitFor(t, "the cut-off attempt to end", func() bool {
		return strings.Contains(e.Logs.String(), "UPLOAD_INCOMPLETE")
	})

	whole := u
	whole.file, whole.size = newPatternFile(64<<10), 64<<10
	r := e.upload(t, whole)
	if r.data.UploadDocument == nil || r.data.UploadDocument.Document == nil || r.data.UploadDocument.Document.SizeBytes != 64<<10 {
		t.Fatalf("the retry: status %d: %s", r.status, r.raw)
	}
	if n := len(e.Store.DocumentsByCase(42)) - before; n != 1 {
		t.Errorf("case 42 gained %d documents, want 1", n)
	}
}

// TestMultipartWithoutFileKeepsQueryTimeout: only a request that streams a
// file gets the upload timeout; a mutation sent as multipart with no file
// is bounded by STACKER_OPERATION_TIMEOUT like any other.
func TestMultipartWithoutFileKeepsQueryTimeout(t *testing.T) {
	e := startStacker(t, map[string]string{"STACKER_OPERATION_TIMEOUT": "300ms", "STACKER_UPLOAD_TIMEOUT": "1m"})
	e.Inject.Set("appointments", demo.Faults{Latency: 3 * time.Second})
	defer e.Inject.Set("appointments", demo.Faults{})

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("operations", `{"query":"mutation { cancelAppointment(input: {id: 1}) { appointment { id } } }"}`)
	mw.WriteField("map", `{}`)
	mw.Close()
	req, _ := http.NewRequest("POST", e.URL, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true")
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), `"code":"UPSTREAM_TIMEOUT"`) {
		t.Errorf("status %d: %s", resp.StatusCode, raw)
	}
}
