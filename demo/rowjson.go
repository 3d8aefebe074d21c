package demo

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync/atomic"
)

// rowJSON is one row encoded as the services send it: encoding/json with
// HTML escaping off, without Encode's trailing newline. Its bytes are never
// modified once stored; a write that changes the row stores a new rowJSON, so
// a reader may keep using the bytes it loaded.
type rowJSON struct{ b []byte }

// jsonCache holds the rowJSON of each row of one table, by id-1, so a read
// copies bytes instead of encoding rows. An entry is filled on first use; two
// readers racing to fill it store equal bytes, so either may win.
//
// For the tables that change (cases, appointments) the entry is also replaced,
// under Store.mu, by the write that changes the row, and a reader holds mu's
// read lock from loading the entry to storing its encoding. A fill therefore
// never stores the encoding of a row a write has since replaced, and no reader
// sees a row's new fields before its new encoding or the other way round.
type jsonCache []atomic.Pointer[rowJSON]

// encodeRow encodes one row the way the services always have: encoding/json
// with HTML escaping off (so "&" stays "&"). The result has no spare capacity.
func encodeRow(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()[:buf.Len()-1]), nil // drop Encode's newline
}

// cachedRow returns the JSON of rows[i], encoding and caching it on first
// use. For a mutable table the caller holds Store.mu (read or write).
func cachedRow[T any](c jsonCache, rows []T, i int) ([]byte, error) {
	if r := c[i].Load(); r != nil {
		return r.b, nil
	}
	b, err := encodeRow(&rows[i])
	if err != nil {
		return nil, err // not cached: every read of the row fails alike
	}
	c[i].Store(&rowJSON{b: b})
	return b, nil
}

// refresh re-encodes row i after a write changed it, returning the new JSON;
// nil when the row cannot be encoded, which also clears the entry so later
// reads report the failure. Callers hold Store.mu for writing.
func (c jsonCache) refresh(i int, row any) []byte {
	b, err := encodeRow(row)
	if err != nil {
		c[i].Store(nil)
		return nil
	}
	c[i].Store(&rowJSON{b: b})
	return b
}

// appendRow appends the JSON of the row with the given id and reports whether
// the id exists.
func appendRow[T any](dst []byte, rows []T, c jsonCache, id int64) ([]byte, bool, error) {
	if id < 1 || id > int64(len(rows)) {
		return dst, false, nil
	}
	b, err := cachedRow(c, rows, int(id-1))
	if err != nil {
		return dst, true, err
	}
	return append(dst, b...), true, nil
}

// appendRows appends the JSON of the rows with the given ids, in ids order,
// separated by commas, skipping unknown ids: the inside of a JSON array.
func appendRows[T any](dst []byte, rows []T, c jsonCache, ids []int64) ([]byte, error) {
	first := true
	for _, id := range ids {
		if id < 1 || id > int64(len(rows)) {
			continue
		}
		b, err := cachedRow(c, rows, int(id-1))
		if err != nil {
			return dst, err
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, b...)
	}
	return dst, nil
}

// gatherIDs collects into out (reusing its storage) the row ids that index
// lists under the given keys, sorted and each once: the rows of a
// foreign-key read. Unknown keys are skipped.
func gatherIDs(out []int64, index [][]int64, keys []int64) []int64 {
	out = out[:0]
	for _, k := range keys {
		if k >= 1 && k <= int64(len(index)) {
			out = append(out, index[k-1]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
