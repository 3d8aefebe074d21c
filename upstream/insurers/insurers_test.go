package insurers_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/insurers"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

func TestClient(t *testing.T) {
	type C = *insurers.Client
	upstreamtest.Run(t, insurers.New, []upstreamtest.Case[C]{
		{
			Name:   "InsurersByIDs",
			Body:   `{"insurers":[{"id":3,"name":"NHS","kind":"public"},{"id":1,"name":"Bupa","kind":"private"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.InsurersByIDs(ctx, []int64{1, 3}) },
			Method: "GET", Path: "/insurers", Query: url.Values{"ids": {"1,3"}},
			Want: []insurers.Insurer{{ID: 3, Name: "NHS", Kind: insurers.KindPublic}, {ID: 1, Name: "Bupa", Kind: insurers.KindPrivate}},
		},
		{
			Name:   "InsurersByIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.InsurersByIDs(ctx, []int64{}) },
			NoCall: true, Want: []insurers.Insurer(nil),
		},
		{
			Name: "InsurersByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.InsurersByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "insurers: by ids: ",
		},
		{
			Name:   "InsurersByIDs upstream down",
			Status: 500, Body: `{"error":"boom"}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.InsurersByIDs(ctx, []int64{1}) },
			Method: "GET", Path: "/insurers", Query: url.Values{"ids": {"1"}},
			WantErr: upstream.ErrUnavailable, WantErrPrefix: "insurers: by ids: ",
		},
	})
}
