package staff_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/staff"
	"github.com/stacker/stacker/upstream/upstreamtest"
)

func TestClient(t *testing.T) {
	type C = *staff.Client
	upstreamtest.Run(t, staff.New, []upstreamtest.Case[C]{
		{
			Name:   "StaffByIDs",
			Body:   `{"staff":[{"id":5,"name":"Kim Park","email":"kim@example.com","role":"case_manager"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.StaffByIDs(ctx, []int64{5, 6}) },
			Method: "GET", Path: "/staff", Query: url.Values{"ids": {"5,6"}},
			Want: []staff.Member{{ID: 5, Name: "Kim Park", Email: "kim@example.com", Role: staff.RoleCaseManager}},
		},
		{
			Name:   "StaffByIDs without ids makes no call",
			Call:   func(ctx context.Context, c C) (any, error) { return c.StaffByIDs(ctx, nil) },
			NoCall: true, Want: []staff.Member(nil),
		},
		{
			Name: "StaffByIDs over MaxIDs makes no call",
			Call: func(ctx context.Context, c C) (any, error) {
				return c.StaffByIDs(ctx, upstreamtest.DistinctIDs(upstream.MaxIDs+1))
			},
			NoCall: true, WantErr: upstream.ErrBadRequest, WantErrPrefix: "staff: by ids: ",
		},
		{
			Name:   "StaffByIDs garbled answer",
			Body:   `{"staff":[{"id":"five"}]}`,
			Call:   func(ctx context.Context, c C) (any, error) { return c.StaffByIDs(ctx, []int64{5}) },
			Method: "GET", Path: "/staff", Query: url.Values{"ids": {"5"}},
			WantErr: upstream.ErrUnavailable, WantErrPrefix: "staff: by ids: ",
		},
	})
}
