package resolvers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

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
	file := &readOutcome{r: in.File.File}
	row, err := r.clients.Documents.Upload(ctx, documents.UploadParams{
		CaseID:      int64(in.CaseID),
		Kind:        model.EnumToUpstream(in.Kind),
		Title:       in.Title,
		Filename:    in.File.Filename,
		ContentType: in.File.ContentType,
		File:        file,
	})
	if ue, ok := userErrors(err); ok {
		return &model.UploadDocumentPayload{UserErrors: ue}, nil
	}
	if err != nil {
		if ferr := file.err(); ferr != nil {
			// How net/http reports a body that failed to read varies with
			// the moment it failed; the reader's own error does not.
			err = fmt.Errorf("%w (%w)", ferr, err)
		}
		return nil, fmt.Errorf("uploading a document to case %d: %w", in.CaseID, err)
	}
	d := loaders.Document(row)
	prefetchPayload(ctx, r, "UploadDocumentPayload", "document", r.rels.Document, d)
	return &model.UploadDocumentPayload{Document: d, UserErrors: []*model.UserError{}}, nil
}

// readOutcome remembers the first error reading the file failed with. The
// HTTP client reads it from a goroutine of its own, which may outlive the
// call, hence the lock.
type readOutcome struct {
	r     io.Reader
	mu    sync.Mutex
	first error
}

func (o *readOutcome) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		o.mu.Lock()
		if o.first == nil {
			o.first = err
		}
		o.mu.Unlock()
	}
	return n, err
}

func (o *readOutcome) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.first
}
