package resolvers

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
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
