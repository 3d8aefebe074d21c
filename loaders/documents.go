package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/documents"
)

func documentsByCase(c *documents.Client) fetchFunc[[]*model.Document] {
	return func(ctx context.Context, caseIDs []int) (map[int][]*model.Document, error) {
		rows, err := c.DocumentsByCaseIDs(ctx, ids64(caseIDs))
		if err != nil {
			return nil, fmt.Errorf("loading documents by case: %w", err)
		}
		list := make([]*model.Document, len(rows))
		for i, d := range rows {
			list[i] = &model.Document{
				ID:         int(d.ID),
				CaseID:     int(d.CaseID),
				Kind:       model.EnumFromUpstream(d.Kind, model.AllDocumentKind),
				Title:      d.Title,
				SizeBytes:  int(d.SizeBytes),
				UploadedAt: d.UploadedAt,
			}
		}
		return group(len(caseIDs), list, func(d *model.Document) int { return d.CaseID }), nil
	}
}
