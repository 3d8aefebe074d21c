package graphqlhttp

import (
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

func format(doc *ast.QueryDocument) string {
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithCompacted()).FormatQueryDocument(doc)
	return b.String()
}

// TestInlineDefers: the operation runs as written less its @defer, and the
// document it came from (shared through the parsed-query cache) is left as
// it was.
func TestInlineDefers(t *testing.T) {
	tests := []struct {
		name, query string
		has         bool
		want        string // the operation and fragments after inlineDefers
	}{
		{name: "none", query: `{ a { b } }`, want: `query { a { b } }`},
		{name: "inline fragment", query: `{ a { b ... @defer { c } } }`, has: true, want: `query { a { b ... { c } } }`},
		{name: "spread", query: `{ a { ...F @defer(label: "x") @include(if: true) } } fragment F on A { c }`, has: true,
			want: `query { a { ...F @include(if: true) } } fragment F on A { c }`},
		{name: "in a fragment", query: `{ a { ...F } } fragment F on A { c ... on A @defer(if: false) { d } }`, has: true,
			want: `query { a { ...F } } fragment F on A { c ... on A { d } }`},
		{name: "nested", query: `{ a { ... @defer { b ... @defer { c } } } }`, has: true, want: `query { a { ... { b ... { c } } } }`},
		{name: "fragment cycle", query: `{ a { ...F } } fragment F on A { a { ...F } }`, want: `query { a { ...F } } fragment F on A { a { ...F } }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
			if err != nil {
				t.Fatal(err)
			}
			before := format(doc)
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
			if got := HasDefer(oc); got != tc.has {
				t.Errorf("HasDefer = %v, want %v", got, tc.has)
			}
			inlineDefers(oc)
			if HasDefer(oc) {
				t.Error("HasDefer after inlineDefers")
			}
			if got := strings.Join(strings.Fields(format(oc.Doc)), " "); got != tc.want {
				t.Errorf("inlined:\n%s\nwant:\n%s", got, tc.want)
			}
			if oc.Operation != oc.Doc.Operations[0] {
				t.Error("the operation is not the document's")
			}
			if copied := oc.Doc != doc; copied != tc.has {
				t.Errorf("document copied: %v, want %v", copied, tc.has)
			}
			if after := format(doc); after != before {
				t.Errorf("the shared document changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func TestAcceptsMultipart(t *testing.T) {
	tests := []struct {
		accept    string
		multipart bool
		media     string // what negotiate picks for an answer sent whole
	}{
		{accept: "", media: mediaJSON},
		{accept: "application/json", media: mediaJSON},
		{accept: "multipart/mixed;deferSpec=20220824, application/json", multipart: true, media: mediaJSON},
		{accept: "multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9", multipart: true, media: mediaGraphQLResponse},
		{accept: "multipart/mixed", multipart: true, media: mediaJSON},
		{accept: `multipart/mixed; boundary="-"; deferSpec=20220824`, multipart: true, media: mediaJSON},
		{accept: "multipart/mixed;q=0, application/json", media: mediaJSON},
		{accept: "multipart/mixed;deferSpec=20990101, application/json", media: mediaJSON},
		{accept: "multipart/mixed;incrementalSpec=v0.2,application/graphql-response+json", media: mediaGraphQLResponse},
		{accept: "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json", media: mediaJSON},
		{accept: "text/html", media: ""},
	}
	for _, tc := range tests {
		t.Run(tc.accept, func(t *testing.T) {
			accept := []string{tc.accept}
			if tc.accept == "" {
				accept = nil
			}
			if got := acceptsMultipart(accept); got != tc.multipart {
				t.Errorf("acceptsMultipart = %v, want %v", got, tc.multipart)
			}
			if got, _ := negotiate(accept); got != tc.media {
				t.Errorf("negotiate = %q, want %q", got, tc.media)
			}
		})
	}
}
