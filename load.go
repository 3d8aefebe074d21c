package main

import (
	"context"
	"io"

	"github.com/stacker/stacker/loadtest"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return loadtest.Run(ctx, args, stdout, stderr)
}
