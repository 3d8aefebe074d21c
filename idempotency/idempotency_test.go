package idempotency

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{name: "uuid", key: "4f6a2c1e-8d3b-4a7f-9c2e-1b5d7e9f0a3c", ok: true},
		{name: "printable punctuation", key: "book:case-10/try 1", ok: true},
		{name: "longest", key: strings.Repeat("k", MaxKeyLength), ok: true},
		{name: "empty"},
		{name: "too long", key: strings.Repeat("k", MaxKeyLength+1)},
		{name: "control character", key: "a\tb"},
		{name: "not ASCII", key: "clé"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckKey(tc.key); (err == nil) != tc.ok {
				t.Errorf("CheckKey(%q) = %v, want ok %v", tc.key, err, tc.ok)
			}
		})
	}
}

// A fingerprint changes with the document, the operation name and the
// variables, and not with the order of the variables.
func TestFingerprint(t *testing.T) {
	vars := func(s string) map[string]any {
		var m map[string]any
		json.Unmarshal([]byte(s), &m)
		return m
	}
	base := &graphql.OperationContext{RawQuery: "mutation M { a }", OperationName: "M", Variables: vars(`{"a":1,"b":2}`)}
	tests := []struct {
		name string
		oc   *graphql.OperationContext
		same bool
	}{
		{name: "variables reordered", oc: &graphql.OperationContext{RawQuery: base.RawQuery, OperationName: "M", Variables: vars(`{"b":2,"a":1}`)}, same: true},
		{name: "another variable value", oc: &graphql.OperationContext{RawQuery: base.RawQuery, OperationName: "M", Variables: vars(`{"a":1,"b":3}`)}},
		{name: "another document", oc: &graphql.OperationContext{RawQuery: "mutation M { b }", OperationName: "M", Variables: base.Variables}},
		{name: "another operation name", oc: &graphql.OperationContext{RawQuery: base.RawQuery, OperationName: "N", Variables: base.Variables}},
		{name: "parts shifted", oc: &graphql.OperationContext{RawQuery: base.RawQuery + "M", OperationName: "", Variables: base.Variables}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if same := fingerprint(tc.oc) == fingerprint(base); same != tc.same {
				t.Errorf("same fingerprint = %v, want %v", same, tc.same)
			}
		})
	}
}
