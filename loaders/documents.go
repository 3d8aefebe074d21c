package loaders

import (
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/documents"
)

// Document converts a documents-service row to its GraphQL model.
func Document(d documents.Document) *model.Document {
	return &model.Document{
		ID:         int(d.ID),
		CaseID:     int(d.CaseID),
		Kind:       model.EnumFromUpstream(d.Kind, model.AllDocumentKind),
		Title:      d.Title,
		SizeBytes:  int(d.SizeBytes),
		UploadedAt: d.UploadedAt,
	}
}
