// Package operations holds the front end's GraphQL operations, which the
// schema check validates in CI; the case board is also the playground's
// first tab and the query the tests and benchmarks send.
package operations

import _ "embed"

// CaseBoard is the console's main query.
//
//go:embed CaseBoard.graphql
var CaseBoard string
