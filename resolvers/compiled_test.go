package resolvers

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// FuzzAppendQuoted holds the compiled path's string quoting to gqlgen's,
// byte for byte, on any string (invalid UTF-8 and control characters
// included).
func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "Yusuf Costa", `a "quoted" \ back`, "tab\there\nnew\rline", "\x00\x01\x1f\x7f", "caf\u00e9 \u2028", "\xff\xfe bad utf-8", "ü\u0000ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendQuoted(nil, s); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q: appendQuoted %s, gqlgen %s", s, got, want.Bytes())
		}
	})
}

// Fragments that spread the next one twice, thirty deep, are checked once
// each: without the memo this is 2^30 walks.
func TestCompilableWalksEachFragmentOnce(t *testing.T) {
	var src strings.Builder
	src.WriteString("query Q { case(id: 1) { ...F0 } }\n")
	for i := range 30 {
		fmt.Fprintf(&src, "fragment F%d on Case { id ...F%d ...F%d }\n", i, i+1, i+1)
	}
	src.WriteString("fragment F30 on Case { status }\n")
	doc, err := parser.ParseQuery(&ast.Source{Input: src.String()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- compilable(doc.Operations[0].SelectionSet, doc, map[string]bool{}) }()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("a plain document is not compilable")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("compilable walks fragments exponentially")
	}
}
