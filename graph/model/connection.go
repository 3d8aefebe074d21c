package model

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for an `after` cursor that Stacker did not issue.
var ErrBadCursor = errors.New("invalid cursor")

// ErrCursorOutOfRange is returned for a well-formed cursor past
// MaxCursorOffset: no list Stacker serves is that long, so it did not issue
// it. It matches ErrBadCursor with errors.Is.
var ErrCursorOutOfRange = fmt.Errorf("%w: position out of range", ErrBadCursor)

// MaxCursorOffset is the largest position a cursor may hold. No list behind
// Stacker comes near a billion items; the bound keeps every sum and page
// number built from a position (offset+first, the service's page, which it
// takes as a 32-bit number) far from overflow.
const MaxCursorOffset = 1 << 30

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

// PageInfo says where the page sits in the whole list. Earlier items exist
// when the page does not start at the beginning and the list is not empty: a
// cursor may point past the end of a list that shrank since it was issued.
func (c *CaseConnection) PageInfo() *PageInfo {
	return pageInfo(c.Offset, len(c.Nodes), c.TotalCount)
}

// pageInfo is the PageInfo of n items from position offset of a list of
// total items.
func pageInfo(offset, n, total int) *PageInfo {
	pi := &PageInfo{
		HasPreviousPage: offset > 0 && total > 0,
		HasNextPage:     offset+n < total,
	}
	if n > 0 {
		start, end := EncodeCursor(offset), EncodeCursor(offset+n-1)
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

// PatientConnection is one page of a list of patients (Insurer.patients).
// Nodes[i] sits at position Offset+i of the whole list, as in a
// CaseConnection.
type PatientConnection struct {
	TotalCount int
	Offset     int
	Nodes      []*Patient
}

// Edges pairs every node with its cursor.
func (c *PatientConnection) Edges() []*PatientEdge {
	edges := make([]*PatientEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		edges[i] = &PatientEdge{Cursor: EncodeCursor(c.Offset + i), Node: n}
	}
	return edges
}

// PageInfo says where the page sits in the whole list.
func (c *PatientConnection) PageInfo() *PageInfo {
	return pageInfo(c.Offset, len(c.Nodes), c.TotalCount)
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
	if errors.Is(err, strconv.ErrRange) && n != "" && n[0] != '-' {
		return 0, ErrCursorOutOfRange
	}
	if err != nil || offset < 0 || EncodeCursor(offset) != cursor {
		return 0, ErrBadCursor // only the canonical form: one cursor per position
	}
	if offset > MaxCursorOffset {
		return 0, ErrCursorOutOfRange
	}
	return offset, nil
}
