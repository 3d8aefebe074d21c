package model

import (
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
