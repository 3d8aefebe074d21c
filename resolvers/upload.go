package resolvers

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream/documents"
)

// uploadDocument streams the file of a multipart request (graphqlhttp's
// upload.go) to the documents service as it arrives: nothing here holds
// it. The service checks the case and the fields before the file's first
// byte; its 422 (a refused content type included) becomes userErrors, an
// unknown case NOT_FOUND. A file that fails mid-way (over the limit, cut
// short by the client) aborts the upstream request, so the service stores
// nothing; the client gets the upload's own error (REQUEST_TOO_LARGE,
// UPLOAD_INCOMPLETE) rather than the aborted request's.
func (r *Resolver) uploadDocument(ctx context.Context, in model.UploadDocumentInput) (*model.UploadDocumentPayload, error) {
	if in.File.File == nil {
		return nil, badInput("input.file must be a file part of a multipart request")
	}
	row, err := r.clients.Documents.Upload(ctx, documents.UploadParams{
		CaseID:      int64(in.CaseID),
		Kind:        model.EnumToUpstream(in.Kind),
		Title:       in.Title,
		Filename:    in.File.Filename,
		ContentType: in.File.ContentType,
		File:        in.File.File,
	})
	if ue, ok := userErrors(err); ok {
		return &model.UploadDocumentPayload{UserErrors: ue}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("uploading a document to case %d: %w", in.CaseID, err)
	}
	d := loaders.Document(row)
	prefetchPayload(ctx, r, "UploadDocumentPayload", "document", r.rels.Document, d)
	return &model.UploadDocumentPayload{Document: d, UserErrors: []*model.UserError{}}, nil
}
