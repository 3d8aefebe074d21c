package resolvers

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream/cases"
)

// CodeForbidden is an operation the caller may not run as who they are,
// whatever their scopes: addCaseNote by a caller whose token names no staff
// member, who could not be the note's author.
const CodeForbidden = "FORBIDDEN"

// errNoAuthor: the caller's token has no usable staff_id claim. Its message
// is shown to the client as is.
var errNoAuthor = errors.New("addCaseNote needs a caller who is a staff member: the token has no staff_id claim")

// addCaseNote serves Mutation.addCaseNote. The author is the caller, never
// an argument, so nobody writes notes in a colleague's name. The body is
// sent as typed: the cases service owns the rule of what a note may be (not
// blank, at most its maximum length), and its 422 comes back as user errors
// on ["input", "body"], so the rule lives in one place.
func (r *Resolver) addCaseNote(ctx context.Context, in model.AddCaseNoteInput) (*model.AddCaseNotePayload, error) {
	id, _ := auth.FromContext(ctx)
	author, err := strconv.ParseInt(id.StaffID, 10, 64)
	if err != nil || author < 1 {
		return nil, errNoAuthor
	}
	row, err := r.clients.Cases.AddNote(ctx, int64(in.CaseID), cases.NoteParams{Body: in.Body, AuthorID: author})
	if ue, ok := userErrors(err); ok {
		for _, u := range ue {
			// author_id is no input field: it is the caller, whom the
			// service does not know (a token naming a staff id that does
			// not exist). No form field can fix that.
			if len(u.Field) == 2 && u.Field[1] == "authorId" {
				u.Field, u.Message = nil, "the caller's staff id (the token's staff_id claim) names no staff member"
			}
		}
		return &model.AddCaseNotePayload{UserErrors: ue}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adding a note to case %d: %w", in.CaseID, err)
	}
	n := loaders.CaseNote(row)
	prefetchPayload(ctx, r, "AddCaseNotePayload", "note", r.rels.CaseNote, n)
	return &model.AddCaseNotePayload{Note: n, UserErrors: []*model.UserError{}}, nil
}
