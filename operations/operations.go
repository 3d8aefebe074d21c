// Package operations holds the front end's GraphQL operations, which the
// schema check validates in CI; the case board is also the playground's
// first tab and the query the tests and benchmarks send, and the
// operations' names are the ones the metrics always keep apart.
package operations

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// CaseBoard is the console's main query.
//
//go:embed CaseBoard.graphql
var CaseBoard string

//go:embed *.graphql
var files embed.FS

// Names are the names of the front end's operations, sorted. They are read
// from the files themselves, so an operation added here is named without
// another list to keep.
func Names() ([]string, error) {
	paths, err := fs.Glob(files, "*.graphql")
	if err != nil {
		return nil, fmt.Errorf("operations: %w", err)
	}
	var names []string
	for _, p := range paths {
		src, err := fs.ReadFile(files, p)
		if err != nil {
			return nil, fmt.Errorf("operations: %w", err)
		}
		doc, err := parser.ParseQuery(&ast.Source{Name: p, Input: string(src)})
		if err != nil {
			return nil, fmt.Errorf("operations: %s: %w", p, err)
		}
		for _, op := range doc.Operations {
			if op.Name != "" {
				names = append(names, op.Name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}
