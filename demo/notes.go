package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stacker/stacker/events"
)

// The cases service's notes: a staff member's remarks on a case, routed as
// Rails routes a shallow nested resource (see nested): read in batches by
// case with GET /notes?case_ids=, added with POST /cases/:id/notes. Notes
// are never changed or deleted, and adding one does not touch the case (its
// updated_at and place in the list stay), as a note is no change of the
// case's workflow.

// Note is a row of the cases service's notes.
type Note struct {
	ID        int64     `json:"id"`
	CaseID    int64     `json:"case_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// MaxNoteBody is the longest note, in characters (Unicode code points, as
// Rails' length validation counts them).
const MaxNoteBody = 10_000

// maxNoteRequest bounds the body of POST /cases/:id/notes. It is far above
// a valid note so that any note a client can get through the gateway (whose
// limit is 1 MiB a request, and which may escape each "<" as the 6 bytes
// \u003c) is answered 422 "is too long", a message for the user, rather
// than 400, which the gateway takes for its own mistake.
const maxNoteRequest = 8 << 20

// NoteInput is the body of POST /cases/:id/notes as received.
type NoteInput struct {
	Body     string
	AuthorID *int64
}

// seedNotes gives each seeded case 0 to 2 notes by its assignee (or any
// staff member when unassigned), written while the case was open. Its own
// generator leaves every row seed makes as it was before notes existed.
func seedNotes(s *Store) {
	rng := rand.New(rand.NewPCG(seedHi, seedLo+1))
	bodies := []string{
		"Called the patient to explain the next steps.",
		"Asked the referring clinic for the latest imaging.",
		"Patient prefers appointments in the morning.",
		"Discussed the case with the medical advisor.",
		"Reminded the patient to send the lab results.",
		"Insurer confirmed the second opinion is covered.",
	}
	s.notes = make([]Note, 0, len(s.cases))
	s.notesByCase = make([][]int64, len(s.cases))
	for i, c := range s.cases {
		n := rng.IntN(3)
		at := make([]time.Time, n)
		for j := range at {
			at[j] = c.CreatedAt.Add(seconds(rng.Int64N(int64(c.UpdatedAt.Sub(c.CreatedAt)/time.Second) + 1)))
		}
		slices.SortFunc(at, time.Time.Compare)
		for _, t := range at {
			author := int64(rng.IntN(len(s.staff)) + 1)
			if c.AssigneeID != nil {
				author = *c.AssigneeID
			}
			note := Note{ID: int64(len(s.notes) + 1), CaseID: c.ID, AuthorID: author, Body: pickOne(rng, bodies), CreatedAt: t}
			s.notes = append(s.notes, note)
			s.notesByCase[i] = append(s.notesByCase[i], note.ID)
		}
	}
	s.notesJSON = make(jsonCache, len(s.notes))
}

// Note returns the note with the given id.
func (s *Store) Note(id int64) (Note, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return byID(s.notes, id)
}

// NotesByCases returns the notes of the given cases, ordered by id.
func (s *Store) NotesByCases(caseIDs []int64) []Note {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return gather(s.notes, s.notesByCase, caseIDs)
}

// NumNotes returns how many notes there are.
func (s *Store) NumNotes() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.notes)
}

// AddNote validates in and stores a new note on case caseID, created at now
// (whole seconds). It returns ErrNotFound for an unknown case and a
// *ValidationError keyed by field, storing nothing, when the body is blank
// or too long or the author is not a staff member.
func (s *Store) AddNote(caseID int64, in NoteInput, now time.Time) (Note, error) {
	n, _, err := s.addNote(caseID, in, now)
	return n, err
}

func (s *Store) addNote(caseID int64, in NoteInput, now time.Time) (Note, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := byID(s.cases, caseID); !ok {
		return Note{}, nil, ErrNotFound
	}
	var verr ValidationError
	switch {
	case strings.TrimSpace(in.Body) == "":
		verr.add("body", "can't be blank")
	case utf8.RuneCountInString(in.Body) > MaxNoteBody:
		verr.add("body", fmt.Sprintf("is too long (maximum is %d characters)", MaxNoteBody))
	}
	switch {
	case in.AuthorID == nil:
		verr.add("author_id", "can't be blank")
	case *in.AuthorID < 1 || *in.AuthorID > int64(len(s.staff)):
		verr.add("author_id", "must exist")
	}
	if err := verr.err(); err != nil {
		return Note{}, nil, err
	}
	n := Note{
		ID:        int64(len(s.notes) + 1),
		CaseID:    caseID,
		AuthorID:  *in.AuthorID,
		Body:      in.Body,
		CreatedAt: now.UTC().Truncate(time.Second),
	}
	s.notes = append(s.notes, n)
	s.notesJSON = slices.Grow(s.notesJSON, 1)[:len(s.notes)]
	enc := s.notesJSON.refresh(int(n.ID-1), &n)
	s.notesByCase[caseID-1] = append(s.notesByCase[caseID-1], n.ID)
	return n, enc, nil
}

func (s *Store) appendNotesByCases(dst []byte, caseIDs, work []int64) ([]byte, []int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	work = gatherIDs(work, s.notesByCase, caseIDs)
	dst, err := appendRows(dst, s.notes, s.notesJSON, work)
	return dst, work, err
}

// addNote serves POST /cases/:id/notes: 404 for an unknown case, 422 for a
// blank or too long body or an unknown author; it publishes case.note_added
// only when the note is stored.
func (s *Services) addNote(w http.ResponseWriter, r *http.Request, caseID int64) {
	fields, ok := s.decodeParamsUpTo(w, r, "note", maxNoteRequest)
	if !ok {
		return
	}
	var in NoteInput
	var verr ValidationError
	if raw, ok := fields["body"]; ok && json.Unmarshal(raw, &in.Body) != nil {
		verr.add("body", "is not a string")
	}
	if raw, ok := fields["author_id"]; ok && json.Unmarshal(raw, &in.AuthorID) != nil {
		verr.add("author_id", "is not a number")
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	n, enc, err := s.store.addNote(caseID, in, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	s.emit(r, events.Event{Type: events.TypeCaseNoteAdded, CaseID: n.CaseID, NoteID: n.ID, OccurredAt: n.CreatedAt})
	if enc == nil { // the note cannot be encoded: writeJSON answers 500
		s.writeJSON(w, http.StatusCreated, "note", n)
		return
	}
	s.writeRow(w, http.StatusCreated, "note", enc)
}
