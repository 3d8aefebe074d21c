package main

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// `stacker schema ...` reports through its exit code; run passes it on.
func TestSchemaCommand(t *testing.T) {
	tests := []struct {
		args     []string
		wantExit int
		wantOut  string
	}{
		{[]string{"stacker", "schema", "check"}, 0, "schema check passed"},
		{[]string{"stacker", "schema", "print"}, 0, "type Case {"},
		{[]string{"stacker", "schema", "nope"}, 2, "unknown command"},
		{[]string{"stacker", "schema", "validate", "testdata/does-not-exist/*.graphql"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var out syncBuffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &out, &out)
			var ee exitError
			switch {
			case tc.wantExit == 0 && err != nil:
				t.Fatalf("run = %v\n%s", err, out.String())
			case tc.wantExit != 0 && (!errors.As(err, &ee) || int(ee) != tc.wantExit):
				t.Fatalf("run = %v, want exit %d", err, tc.wantExit)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output lacks %q:\n%.500s", tc.wantOut, out.String())
			}
		})
	}
}
