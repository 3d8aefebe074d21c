package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testNow is the pinned clock of the HTTP tests: after every seeded
// timestamp, so a patch moves a case to the top of the list.
func testNow() time.Time { return time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC) }

// newServices returns services over a fresh store with the clock pinned to
// testNow unless opts sets one.
func newServices(t *testing.T, opts Options) *Services {
	t.Helper()
	if opts.Now == nil {
		opts.Now = testNow
	}
	return New(NewStore(), opts)
}

// do sends one request straight to a service's handler and checks what every
// response must be: JSON, with a JSON content type.
func do(t *testing.T, svcs *Services, service, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	h, err := svcs.Handler(service)
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkJSON(t, rec.Result().Header, rec.Body.Bytes())
	return rec
}

func checkJSON(t *testing.T, h http.Header, body []byte) {
	t.Helper()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if !json.Valid(body) {
		t.Errorf("body is not JSON: %s", body)
	}
}

// decode unmarshals a response body into a T, failing the test otherwise.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body.String(), err)
	}
	return v
}

// wantStatus fails the test when the response has another status.
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body.String())
	}
}

// wantError checks a 4xx {"error": "..."} answer; an empty msg accepts any
// message.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	wantStatus(t, rec, status)
	got := decode[struct {
		Error *string `json:"error"`
	}](t, rec)
	switch {
	case got.Error == nil || *got.Error == "":
		t.Errorf("body %s has no error message", rec.Body.String())
	case msg != "" && *got.Error != msg:
		t.Errorf("error = %q, want %q", *got.Error, msg)
	}
}

// ids returns the ids of rows, in order.
func ids[T interface{ id() int64 }](rows []T) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.id()
	}
	return out
}

func (p Patient) id() int64     { return p.ID }
func (c Case) id() int64        { return c.ID }
func (d Doctor) id() int64      { return d.ID }
func (a Appointment) id() int64 { return a.ID }
func (d Document) id() int64    { return d.ID }

func ptr[T any](v T) *T { return &v }

func unmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}
