package model

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 49, 100, 4999} {
		got, err := DecodeCursor(EncodeCursor(n))
		if err != nil || got != n {
			t.Errorf("DecodeCursor(EncodeCursor(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestDecodeCursorRejectsForgeries(t *testing.T) {
	for _, c := range []string{"", "!!!", "bm9wZQ", EncodeCursor(0) + "x", "b2Zmc2V0OnYxOi0x" /* offset:v1:-1 */} {
		if _, err := DecodeCursor(c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", c, err)
		}
	}
}

func TestDecodeCursorRange(t *testing.T) {
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		cursor string
		want   int
		err    error
	}{
		{"largest", EncodeCursor(MaxCursorOffset), MaxCursorOffset, nil},
		{"one past", EncodeCursor(MaxCursorOffset + 1), 0, ErrCursorOutOfRange},
		{"near MaxInt64", raw("offset:v1:9223372036854775000"), 0, ErrCursorOutOfRange},
		{"MaxInt64", raw("offset:v1:9223372036854775807"), 0, ErrCursorOutOfRange},
		{"past MaxInt64", raw("offset:v1:99999999999999999999"), 0, ErrCursorOutOfRange},
		{"below MinInt64", raw("offset:v1:-99999999999999999999"), 0, ErrBadCursor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeCursor(tc.cursor)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("DecodeCursor = %d, %v, want %d, %v", got, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, ErrBadCursor) {
				t.Errorf("%v does not match ErrBadCursor", err)
			}
		})
	}
}

func TestHasPreviousPage(t *testing.T) {
	tests := []struct {
		name          string
		offset, total int
		nodes         int
		want          bool
	}{
		{"first page", 0, 10, 5, false},
		{"second page", 5, 10, 5, true},
		{"past the end of a list that shrank", 22, 10, 0, true},
		{"past the end of an empty list", 22, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &CaseConnection{TotalCount: tc.total, Offset: tc.offset, Nodes: make([]*Case, tc.nodes)}
			if got := c.PageInfo().HasPreviousPage; got != tc.want {
				t.Errorf("hasPreviousPage = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPageInfo(t *testing.T) {
	c := &CaseConnection{TotalCount: 10, Offset: 5, Nodes: []*Case{{ID: 1}, {ID: 2}}}
	pi := c.PageInfo()
	if !pi.HasPreviousPage || !pi.HasNextPage || *pi.StartCursor != EncodeCursor(5) || *pi.EndCursor != EncodeCursor(6) {
		t.Errorf("page info = %+v", pi)
	}
	if e := c.Edges(); len(e) != 2 || e[1].Cursor != EncodeCursor(6) || e[1].Node.ID != 2 {
		t.Errorf("edges = %+v", e)
	}
	empty := (&CaseConnection{TotalCount: 0}).PageInfo()
	if empty.HasNextPage || empty.HasPreviousPage || empty.StartCursor != nil || empty.EndCursor != nil {
		t.Errorf("empty page info = %+v", empty)
	}
}

func TestEnums(t *testing.T) {
	if got := EnumFromUpstream("in_review", AllCaseStatus); got != CaseStatusInReview {
		t.Errorf("in_review -> %q", got)
	}
	if got := EnumFromUpstream("escalated", AllCaseStatus); got != "ESCALATED" || got.IsValid() {
		t.Errorf("unknown value -> %q (valid %v)", got, got.IsValid())
	}
	if got := EnumToUpstream(CaseStatusWaitingForDocuments); got != "waiting_for_documents" {
		t.Errorf("-> %q", got)
	}
}
