package clinics_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/clinics"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

func TestClient(t *testing.T) {
	type C = *clinics.Client
	upstreamtest.Run(t, clinics.New, []upstreamtest.Case[C]{
		{
			Name:   "ClinicsByIDs",
			Body:   `{"clinics":[{"id":2,"name":"Princeton-Plainsboro","city":"Princeton"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.ClinicsByIDs(ctx, []int64{2, 8}) },
			Method: "GET", Path: "/clinics", Query: url.Values{"ids": {"2,8"}},
			Want: []clinics.Clinic{{ID: 2, Name: "Princeton-Plainsboro", City: "Princeton"}},
		},
		{
			Name:   "ClinicsByIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.ClinicsByIDs(ctx, nil) },
			NoCall: true, Want: []clinics.Clinic(nil),
		},
		{
			Name: "ClinicsByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.ClinicsByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "clinics: by ids: ",
		},
	})
}
