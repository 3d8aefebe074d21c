package auth_test

import (
	"fmt"
	"io"
	"log/slog"
)

func slogText(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// fmtAll formats v with every verb a log line or error might use.
func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s %q %x %X", v, v, v, v, v, v, v)
}
