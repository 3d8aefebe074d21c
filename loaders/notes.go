package loaders

import (
	"cmp"
	"context"
	"slices"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/cases"
)

// CaseNote converts a cases-service note to its GraphQL model.
func CaseNote(n cases.Note) *model.CaseNote {
	return &model.CaseNote{
		ID:        int(n.ID),
		CaseID:    int(n.CaseID),
		AuthorID:  int(n.AuthorID),
		Body:      n.Body,
		CreatedAt: n.CreatedAt,
	}
}

// notesByCase reads the notes of cases in id order: the service sends them
// so, but Case.notes promises oldest first and upstream order is not
// trusted.
func notesByCase(c *cases.Client) func(context.Context, []int64) ([]cases.Note, error) {
	return func(ctx context.Context, ids []int64) ([]cases.Note, error) {
		rows, err := c.NotesByCaseIDs(ctx, ids)
		slices.SortFunc(rows, func(a, b cases.Note) int { return cmp.Compare(a.ID, b.ID) })
		return rows, err
	}
}
