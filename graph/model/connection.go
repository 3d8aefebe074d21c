package model

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for an `after` cursor that Stacker did not issue.
var ErrBadCursor = errors.New("invalid cursor")

// cursorPrefix versions the cursor format, so a future change can still read
// (or clearly refuse) cursors that clients kept.
const cursorPrefix = "offset:v1:"

// CaseConnection is one page of the case list. Nodes[i] sits at position
// Offset+i of the whole filtered list; cursors encode that position, since the
// cases service paginates by page number rather than by key.
type CaseConnection struct {
	TotalCount int
	Offset     int
	Nodes      []*Case
}

// Edges pairs every node with its cursor.
func (c *CaseConnection) Edges() []*CaseEdge {
	edges := make([]*CaseEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		edges[i] = &CaseEdge{Cursor: EncodeCursor(c.Offset + i), Node: n}
	}
	return edges
}

// PageInfo says where the page sits in the whole list.
func (c *CaseConnection) PageInfo() *PageInfo {
	pi := &PageInfo{
		HasPreviousPage: c.Offset > 0,
		HasNextPage:     c.Offset+len(c.Nodes) < c.TotalCount,
	}
	if len(c.Nodes) > 0 {
		start, end := EncodeCursor(c.Offset), EncodeCursor(c.Offset+len(c.Nodes)-1)
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

// EncodeCursor makes the opaque cursor for a position in a list.
func EncodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(offset)))
}

// DecodeCursor returns the position a cursor from EncodeCursor points at.
func DecodeCursor(cursor string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, ErrBadCursor
	}
	n, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, ErrBadCursor
	}
	offset, err := strconv.Atoi(n)
	if err != nil || offset < 0 || EncodeCursor(offset) != cursor {
		return 0, ErrBadCursor // only the canonical form: one cursor per position
	}
	return offset, nil
}
