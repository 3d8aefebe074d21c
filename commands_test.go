package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// `stacker schema ...` and `stacker config ...` report through their exit
// code; run passes it on.
func TestExitCodeCommands(t *testing.T) {
	tests := []struct {
		args     []string
		wantExit int
		wantOut  string
	}{
		{[]string{"stacker", "schema", "check"}, 0, "schema check passed"},
		{[]string{"stacker", "schema", "print"}, 0, "type Case "},
		{[]string{"stacker", "schema", "nope"}, 2, "unknown command"},
		{[]string{"stacker", "schema", "validate", "testdata/does-not-exist/*.graphql"}, 2, ""},
		{[]string{"stacker", "config", "vars"}, 0, "STACKER_SHUTDOWN_DELAY"},
		{[]string{"stacker", "config", "check"}, 0, "configuration ok"},
		{[]string{"stacker", "config"}, 2, "usage: stacker config"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var out bytes.Buffer
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

func TestCommands(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"stacker", "frobnicate"}, func(string) string { return "" }, &out, &out)
	var ue usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "usage: stacker") {
		t.Errorf("unknown command: run = %v, want a usage error", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"stacker", "help"}, func(string) string { return "" }, &out, &out); err != nil || !strings.Contains(out.String(), "commands:") {
		t.Errorf("help: %v %q", err, out.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"stacker"}, func(k string) string { return map[string]string{"STACKER_ADDR": "nowhere:-1"}[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "STACKER_ADDR") {
		t.Errorf("serve with a bad address: run = %v", err)
	}
}
