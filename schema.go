package main

import (
	"context"
	"io"

	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/schemacheck"
)

// runSchema runs `stacker schema ...` (print, diff, validate, check) against
// the schema this binary serves.
func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return schemacheck.Run(ctx, args, graph.NewExecutableSchema(graph.Config{}).Schema(), stdout, stderr)
}
