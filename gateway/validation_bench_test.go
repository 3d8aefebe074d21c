package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The shapes that cost validation the most within the default limits: the
// overlapping-fields rule compares every pair of selections that merge at
// one response path, so the worst documents put as many selections as the
// limits allow at as many merged paths as the schema has, directly, through
// nested merges and through fragments. Their root field is skipped, so the
// benchmark measures parsing, the limits and validation, not execution.
// The 14,000-repeat document is refused before validation.
//
//	go test -run '^$' -bench ValidateWorstCase -benchtime 20x .
func worstCaseDocuments() map[string]string {
	const repeats = 30 // STACKER_MAX_FIELD_REPEATS
	board := `id status priority specialty summary createdAt updatedAt __typename
		patient { id firstName lastName fullName dateOfBirth email phone city createdAt __typename
			insurer { id name __typename } cases { id status priority specialty __typename } }
		assignee { id name __typename }
		appointments { id startsAt __typename doctor { id name specialty rating __typename clinic { id name city __typename } } }
		documents { id title __typename }`
	var fragments, spreads strings.Builder
	for i := range repeats {
		fmt.Fprintf(&fragments, "fragment F%d on Case { %s }\n", i, board)
		fmt.Fprintf(&spreads, "...F%d ", i)
	}
	unknown := strings.Builder{}
	for i := range 1900 {
		fmt.Fprintf(&unknown, "f%d ", i)
	}
	return map[string]string{
		"fields repeated at every path": `{ cases(first: 1) @skip(if: true) { nodes { ` + strings.Repeat(board+" ", repeats) + ` } } }`,
		"fragments merged":              `{ cases(first: 1) @skip(if: true) { nodes { ` + spreads.String() + ` } } } ` + fragments.String(),
		"nested merges": `{ cases(first: 1) @skip(if: true) { nodes { ` +
			strings.Repeat(`patient { `+strings.Repeat("cases { id status priority specialty summary __typename } ", 5)+` } `, 6) + ` } } }`,
		"1,900 unknown fields":     `{ cases(first: 1) @skip(if: true) { nodes { ` + unknown.String() + ` } } }`,
		"14,000 repeats (refused)": `{ cases(first: 1) { nodes { ` + strings.Repeat("__typename ", 14000) + `} } }`,
	}
}

func BenchmarkValidateWorstCase(b *testing.B) {
	e := startStacker(b, map[string]string{"STACKER_LOG_LEVEL": "error"})
	n := 0 // outside b.Run, which runs its function more than once
	for name, doc := range worstCaseDocuments() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				// A new comment each time defeats the parsed-query cache, so
				// every request is parsed and validated afresh.
				n++
				body, _ := json.Marshal(map[string]any{"query": fmt.Sprintf("%s\n# %d", doc, n)})
				resp, err := e.HTTP.Post(e.URL, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d: %.300s", resp.StatusCode, raw)
				}
			}
		})
	}
}
