package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stacker/stacker/events"
)

// uploadForm is the Rails form of a streamed upload, boundary "B"; the file
// part is left out when ct is "-", and the closing boundary when cut.
func uploadForm(caseID, kind, title, ct, file string, cut bool) string {
	var b strings.Builder
	field := func(name, v string) {
		b.WriteString("--B\r\nContent-Disposition: form-data; name=\"document[" + name + "]\"\r\n\r\n" + v + "\r\n")
	}
	field("case_id", caseID)
	field("kind", kind)
	field("title", title)
	if ct != "-" {
		b.WriteString("--B\r\nContent-Disposition: form-data; name=\"document[file]\"; filename=\"f\"\r\n")
		if ct != "" {
			b.WriteString("Content-Type: " + ct + "\r\n")
		}
		b.WriteString("\r\n" + file)
	}
	if !cut {
		b.WriteString("\r\n--B--\r\n")
	}
	return b.String()
}

// TestUploadDocument: a multipart POST /documents stores the file's size,
// hash and type (not its bytes) and publishes document.uploaded, only once
// the whole body has arrived; every refusal stores and publishes nothing.
func TestUploadDocument(t *testing.T) {
	t.Run("201", func(t *testing.T) {
		var rec recorder
		svcs := newServices(t, Options{Publish: rec.publish})
		file := "%PDF-1.4 blood panel"
		res := do(t, svcs, "documents", "POST", "/documents", uploadForm("42", "lab_result", "Bloods", "application/pdf", file, false),
			"Content-Type", "multipart/form-data; boundary=B")
		wantStatus(t, res, http.StatusCreated)
		got := decode[struct{ Document Document }](t, res).Document
		sum := sha256.Sum256([]byte(file))
		stored, ok := svcs.store.Document(got.ID)
		if !ok || stored != got || got.CaseID != 42 || got.Kind != "lab_result" || got.Title != "Bloods" ||
			got.SizeBytes != int64(len(file)) || got.SHA256 != hex.EncodeToString(sum[:]) || got.ContentType != "application/pdf" {
			t.Errorf("answered %+v, stored %+v", got, stored)
		}
		if evs := rec.events(); len(evs) != 1 || evs[0].Type != events.TypeDocumentUploaded || evs[0].DocumentID != got.ID || evs[0].CaseID != 42 {
			t.Errorf("events %+v", evs)
		}
	})
	refusals := []struct {
		name   string
		body   string
		opts   Options
		status int
		fields []string // of a 422
	}{
		{"a refused content type", uploadForm("42", "lab_result", "Setup", "application/x-msdownload", "MZ", false), Options{}, 422, []string{"file"}},
		{"no content type", uploadForm("42", "lab_result", "Bloods", "", "x", false), Options{}, 422, []string{"file"}},
		{"an unknown case", uploadForm("999999", "lab_result", "Bloods", "application/pdf", "x", false), Options{}, 404, nil},
		{"a case id that is not a number", uploadForm("abc", "lab_result", "Bloods", "application/pdf", "x", false), Options{}, 422, []string{"case_id"}},
		{"blank title and bad kind", uploadForm("42", "selfie", "", "application/pdf", "x", false), Options{}, 422, []string{"kind", "title"}},
		{"no file", uploadForm("42", "lab_result", "Bloods", "-", "", false), Options{}, 400, nil},
		{"a file over the limit", uploadForm("42", "lab_result", "Bloods", "application/pdf", strings.Repeat("x", 11), false), Options{MaxUploadBytes: 10}, 413, nil},
		{"a body cut off in the file", uploadForm("42", "lab_result", "Bloods", "application/pdf", "%PDF", true), Options{}, 400, nil},
		{"not multipart at all", "--B\r\ngarbage", Options{}, 400, nil},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			tt.opts.Publish = rec.publish
			svcs := newServices(t, tt.opts)
			before := svcs.store.Counts()["documents"]
			res := do(t, svcs, "documents", "POST", "/documents", tt.body, "Content-Type", "multipart/form-data; boundary=B")
			if tt.status == 422 {
				want422(t, res, tt.fields)
			} else {
				wantError(t, res, tt.status, "")
			}
			if n := svcs.store.Counts()["documents"]; n != before {
				t.Errorf("documents %d, were %d", n, before)
			}
			if evs := rec.events(); len(evs) != 0 {
				t.Errorf("published %+v", evs)
			}
		})
	}
	t.Run("the refused type's message", func(t *testing.T) {
		svcs := newServices(t, Options{})
		res := do(t, svcs, "documents", "POST", "/documents", uploadForm("42", "lab_result", "Setup", "application/x-msdownload", "MZ", false),
			"Content-Type", "multipart/form-data; boundary=B")
		if got := strings.TrimSpace(res.Body.String()); got != `{"errors":{"file":["content type application/x-msdownload is not accepted"]}}` {
			t.Errorf("body %s", got)
		}
	})
}
