// Package audit is the trail of access to personal health data: which
// caller, in which operation, was shown which entities' fields marked @pii
// in the schema. It holds the record, the per-operation Collector that the
// resolvers' field middleware fills, the Trail that hands records to a Sink
// without ever making a query wait on it, and the sinks: JSON lines on
// stderr or in a file, or JSON messages on a topic of the event bus for a
// compliance system. Package audit/auditsink opens the sink STACKER_AUDIT
// names, so this package imports no broker client.
//
// A record names fields and entity ids, never values: nothing a response
// shows of a person is written here, nor in this package's log lines.
//
// When the sink cannot keep up (its buffer is full) or fails, the Trail's
// failure mode applies: open logs and counts the lost record; closed tells
// the caller, which withholds the audited data (package resolvers answers
// the operation with AUDIT_UNAVAILABLE instead).
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// DirPII is the directive marking a field as personal data.
const DirPII = "pii"

// Anonymous is the subject of a record whose caller has no identity.
const Anonymous = "anonymous"

// Record is one response that returned audited fields. Fields maps a type
// to its entities' ids to the audited fields returned for each, sorted:
// {"Patient": {"163": ["email", "fullName"]}}.
type Record struct {
	Time          time.Time                      `json:"time"`
	Subject       string                         `json:"subject"`
	RequestID     string                         `json:"requestId,omitempty"`
	Traceparent   string                         `json:"traceparent,omitempty"`
	OperationName string                         `json:"operationName,omitempty"`
	DocumentHash  string                         `json:"documentHash"`
	Fields        map[string]map[string][]string `json:"fields"`
}

// DocumentHash is the hex sha256 of an operation's text, as records carry it
// (the same hash automatic persisted queries use).
func DocumentHash(query string) string {
	h := sha256.Sum256([]byte(query))
	return hex.EncodeToString(h[:])
}

// Fields is the set of audited fields of a schema, read once from its @pii
// directives (on an object's field, or on the same field of an interface
// it implements).
type Fields struct{ set map[[2]string]bool }

// NewFields reads the @pii fields of s.
func NewFields(s *ast.Schema) Fields {
	f := Fields{set: map[[2]string]bool{}}
	for _, t := range s.Types {
		if t.Kind != ast.Object || strings.HasPrefix(t.Name, "__") {
			continue
		}
		for _, fd := range t.Fields {
			pii := fd.Directives.ForName(DirPII) != nil
			for _, iname := range t.Interfaces {
				if it := s.Types[iname]; it != nil {
					if itf := it.Fields.ForName(fd.Name); itf != nil && itf.Directives.ForName(DirPII) != nil {
						pii = true
					}
				}
			}
			if pii {
				f.set[[2]string{t.Name, fd.Name}] = true
			}
		}
	}
	return f
}

// Has reports whether typeName.field is audited.
func (f Fields) Has(typeName, field string) bool { return f.set[[2]string{typeName, field}] }

// List is the audited fields as Type.field, sorted.
func (f Fields) List() []string {
	out := make([]string, 0, len(f.set))
	for k := range f.set {
		out = append(out, k[0]+"."+k[1])
	}
	slices.Sort(out)
	return out
}

// Collector gathers what one operation returned of the audited fields. It
// is safe for concurrent use (resolvers run in parallel).
type Collector struct {
	mu     sync.Mutex
	fields map[string]map[string]map[string]bool
}

// NewCollector returns an empty collector.
func NewCollector() *Collector { return &Collector{} }

// Add records that field of the entity typeName id was returned.
func (c *Collector) Add(typeName, id, field string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fields == nil {
		c.fields = map[string]map[string]map[string]bool{}
	}
	ids := c.fields[typeName]
	if ids == nil {
		ids = map[string]map[string]bool{}
		c.fields[typeName] = ids
	}
	fs := ids[id]
	if fs == nil {
		fs = map[string]bool{}
		ids[id] = fs
	}
	fs[field] = true
}

// Take returns what was collected since the last Take (nil when nothing),
// and empties the collector: a subscription's events each make a record.
func (c *Collector) Take() map[string]map[string][]string {
	c.mu.Lock()
	fields := c.fields
	c.fields = nil
	c.mu.Unlock()
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]map[string][]string, len(fields))
	for t, ids := range fields {
		o := make(map[string][]string, len(ids))
		for id, fs := range ids {
			names := make([]string, 0, len(fs))
			for f := range fs {
				names = append(names, f)
			}
			slices.Sort(names)
			o[id] = names
		}
		out[t] = o
	}
	return out
}

// String is a short description of r for log lines: its request, operation
// and how many entities it names. It holds no values.
func (r Record) String() string {
	n := 0
	for _, ids := range r.Fields {
		n += len(ids)
	}
	return fmt.Sprintf("request %s, operation %q, %d entities", r.RequestID, r.OperationName, n)
}
