package documents_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/documents"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

func TestClient(t *testing.T) {
	type C = *documents.Client
	upstreamtest.Run(t, documents.New, []upstreamtest.Case[C]{
		{
			Name: "DocumentsByCaseIDs",
			Body: `{"documents":[{"id":9,"case_id":3,"kind":"lab_result","title":"Bloods","size_bytes":5368709120,
				"uploaded_at":"2024-06-02T08:30:15Z"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.DocumentsByCaseIDs(ctx, []int64{3, 4}) },
			Method: "GET", Path: "/documents", Query: url.Values{"case_ids": {"3,4"}},
			Want: []documents.Document{{ID: 9, CaseID: 3, Kind: documents.KindLabResult, Title: "Bloods",
				SizeBytes: 5368709120, UploadedAt: time.Date(2024, 6, 2, 8, 30, 15, 0, time.UTC)}},
		},
		{
			Name:   "DocumentsByCaseIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.DocumentsByCaseIDs(ctx, nil) },
			NoCall: true, Want: []documents.Document(nil),
		},
		{
			Name: "DocumentsByCaseIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.DocumentsByCaseIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "documents: by case ids: ",
		},
	})
}

// TestUpload: the file goes out as the Rails form the service takes, the
// fields before the file, chunked (no Content-Length: nothing was read
// ahead to measure it); a 422 is a ValidationError and a 404 ErrNotFound.
func TestUpload(t *testing.T) {
	params := documents.UploadParams{CaseID: 42, Kind: documents.KindLabResult, Title: "Bloods",
		Filename: "b.pdf", ContentType: "application/pdf", File: strings.NewReader("%PDF-1.4")}
	t.Run("the form", func(t *testing.T) {
		srv := upstreamtest.New(t, 201, `{"document":{"id":7,"case_id":42,"kind":"lab_result","title":"Bloods","size_bytes":8,
			"uploaded_at":"2026-02-01T12:00:00Z","content_type":"application/pdf","sha256":"ab"}}`)
		c, err := documents.New(srv.URL, upstreamtest.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Upload(context.Background(), params)
		if err != nil || d.ID != 7 || d.SizeBytes != 8 || d.ContentType != "application/pdf" || d.SHA256 != "ab" {
			t.Fatalf("got %+v, %v", d, err)
		}
		r := srv.Only(t)
		if r.Method != "POST" || r.Path != "/documents" || r.Header.Get("Content-Length") != "" {
			t.Errorf("request %s %s, Content-Length %q", r.Method, r.Path, r.Header.Get("Content-Length"))
		}
		mt, ps, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "multipart/form-data" {
			t.Fatalf("Content-Type %q", mt)
		}
		mr := multipart.NewReader(bytes.NewReader(r.Body), ps["boundary"])
		var got []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%v in %q", err, r.Body)
			}
			v, _ := io.ReadAll(p)
			got = append(got, p.FormName()+"="+string(v)+" "+p.FileName()+" "+p.Header.Get("Content-Type"))
		}
		want := []string{"document[case_id]=42  ", "document[kind]=lab_result  ", "document[title]=Bloods  ",
			"document[file]=%PDF-1.4 b.pdf application/pdf"}
		if !slices.Equal(got, want) {
			t.Errorf("parts %q, want %q", got, want)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			status int
			body   string
			want   error
		}{
			{422, `{"errors":{"file":["content type application/x-msdownload is not accepted"]}}`, nil},
			{404, `{"error":"case not found"}`, upstream.ErrNotFound},
		} {
			srv := upstreamtest.New(t, tt.status, tt.body)
			c, _ := documents.New(srv.URL, upstreamtest.Client(t))
			params.File = strings.NewReader("MZ")
			_, err := c.Upload(context.Background(), params)
			var ve *upstream.ValidationError
			switch {
			case tt.want == nil && (!errors.As(err, &ve) || len(ve.Fields["file"]) != 1):
				t.Errorf("422: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("%d: %v", tt.status, err)
			}
		}
	})
}
