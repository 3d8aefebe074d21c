package documents_test

import (
	"context"
	"net/url"
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
