package gateway

import (
	"testing"
)

// TestServiceDown: a service that is gone nulls only the fields that need
// it; each error names the service at the field's path, and nothing of the
// upstream's address or body reaches the client.

func TestPagination(t *testing.T) {
	e := startStacker(t, nil)
	type page struct {
		Cases struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				EndCursor                    *string
			}
			Edges []struct {
				Cursor string
				Node   struct{ ID string }
			}
		}
	}
	const q = `query($first: Int, $after: String) { cases(status: [CLOSED], first: $first, after: $after) {
		totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } }`
	all, total := e.Store.ListCases([]string{"closed"}, nil, 1, 100)
	// Walk pages of uneven sizes: each must continue exactly where the last ended.
	var seen []string
	var after any
	for _, n := range []int{7, 30, 13, 50} {
		var p page
		e.mustDo(t, q, map[string]any{"first": n, "after": after}, &p)
		if p.Cases.TotalCount != total {
			t.Fatalf("totalCount = %d, want %d", p.Cases.TotalCount, total)
		}
		if p.Cases.PageInfo.HasPreviousPage != (after != nil) {
			t.Errorf("hasPreviousPage = %v", p.Cases.PageInfo.HasPreviousPage)
		}
		for _, ed := range p.Cases.Edges {
			seen = append(seen, ed.Node.ID)
		}
		after = *p.Cases.PageInfo.EndCursor
	}
	if len(seen) != 100 {
		t.Fatalf("walked %d cases, want 100", len(seen))
	}
	for i, c := range all {
		if seen[i] != id(c.ID) {
			t.Fatalf("case %d of the walk = %s, want %d", i, seen[i], c.ID)
		}
	}
}
