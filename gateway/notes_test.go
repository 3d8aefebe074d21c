package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/internal/testsync"
)

// note is a CaseNote as the tests select it.
type note struct {
	ID, Body, CreatedAt string
	Author              *struct{ ID, Name string }
}

const noteSelection = `id body createdAt author { id name }`

// wantStoredNotes checks got against the demo store's notes of case id:
// the same notes, oldest first, each with its author's name.
func wantStoredNotes(t *testing.T, s *demo.Store, caseID string, got []note) {
	t.Helper()
	id, _ := strconv.ParseInt(caseID, 10, 64)
	stored := s.NotesByCases([]int64{id})
	if len(got) != len(stored) {
		t.Fatalf("case %s: %d notes, the store has %d", caseID, len(got), len(stored))
	}
	for i, n := range stored {
		author, _ := s.StaffMember(n.AuthorID)
		g := got[i]
		if g.ID != strconv.FormatInt(n.ID, 10) || g.Body != n.Body || g.CreatedAt != n.CreatedAt.Format(time.RFC3339) ||
			g.Author == nil || g.Author.ID != strconv.FormatInt(n.AuthorID, 10) || g.Author.Name != author.Name {
			t.Errorf("case %s, note %d: got %+v, the store has %+v by %q", caseID, i, g, n, author.Name)
		}
	}
}

// Case.notes over a case board: one notes call and one staff call for the
// authors, whatever the number of cases, also under concurrency; the
// values are the store's.
func TestCaseNotesBatched(t *testing.T) {
	e := startStacker(t, nil)
	const board = `{ cases(first: 50) { nodes { id notes { ` + noteSelection + ` } } } }`
	type boardData struct {
		Cases struct {
			Nodes []struct {
				ID    string
				Notes []note
			}
		}
	}
	check := func(t *testing.T, got boardData) {
		t.Helper()
		if len(got.Cases.Nodes) != 50 {
			t.Fatalf("%d cases, want 50", len(got.Cases.Nodes))
		}
		withNotes := 0
		for _, c := range got.Cases.Nodes {
			wantStoredNotes(t, e.Store, c.ID, c.Notes)
			if len(c.Notes) > 0 {
				withNotes++
			}
		}
		if withNotes < 10 {
			t.Errorf("only %d of 50 cases have notes: the seed no longer exercises the batch", withNotes)
		}
	}

	t.Run("one call per level", func(t *testing.T) {
		e.Demo.ResetCounts()
		var got boardData
		e.mustDo(t, board, nil, &got)
		check(t, got)
		// The page, the notes of its 50 cases, their authors.
		if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 2, "staff": 1}); diff != "" {
			t.Error(diff)
		}
		if n := e.Demo.EndpointSnapshot()["cases GET /notes?case_ids"]; n != 1 {
			t.Errorf("%d notes calls, want 1", n)
		}
	})
	t.Run("8 concurrent operations", func(t *testing.T) {
		const workers = 8
		e.Demo.ResetCounts()
		concurrently(t, e, workers, board, nil, func(got boardData) { check(t, got) })
		if diff := countDiff(e.Demo.Snapshot(), map[string]int64{"cases": 2 * workers, "staff": workers}); diff != "" {
			t.Error(diff)
		}
		if n := e.Demo.EndpointSnapshot()["cases GET /notes?case_ids"]; n != workers {
			t.Errorf("%d notes calls, want %d", n, workers)
		}
	})
	t.Run("a note's case is the case", func(t *testing.T) {
		var got struct {
			Case struct {
				Notes []struct{ Case struct{ ID string } }
			}
		}
		id := caseWithNotes(t, e.Store)
		e.mustDo(t, fmt.Sprintf(`{ case(id: %d) { notes { case { id } } } }`, id), nil, &got)
		if len(got.Case.Notes) == 0 || got.Case.Notes[0].Case.ID != strconv.FormatInt(id, 10) {
			t.Errorf("notes %+v", got.Case.Notes)
		}
	})
}

// caseWithNotes is the first seeded case with at least two notes.
func caseWithNotes(t *testing.T, s *demo.Store) int64 {
	t.Helper()
	for id := int64(1); id < 1000; id++ {
		if len(s.NotesByCases([]int64{id})) >= 2 {
			return id
		}
	}
	t.Fatal("no seeded case has two notes")
	return 0
}

// When the notes cannot be read, Case.notes alone is null, with an error
// naming the cases service at its path; the rest of the case renders. The
// notes endpoint alone fails here (a proxy in front of the cases service),
// since the case itself comes from the same service.
func TestCaseNotesUnavailable(t *testing.T) {
	var target struct {
		sync.Mutex
		u *url.URL
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notes" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"down"}`)
			return
		}
		target.Lock()
		u := target.u
		target.Unlock()
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	e := startStacker(t, map[string]string{config.EnvName("cases"): proxy.URL, "STACKER_UPSTREAM_RETRIES": "0"})
	u, err := url.Parse(e.URLs["cases"])
	if err != nil {
		t.Fatal(err)
	}
	target.Lock()
	target.u = u
	target.Unlock()

	id := caseWithNotes(t, e.Store)
	var got struct {
		Case *struct {
			ID, Summary string
			Assignee    *struct{ Name string }
			Notes       []note
		}
	}
	errs := e.do(t, fmt.Sprintf(`{ case(id: %d) { id summary assignee { name } notes { %s } } }`, id, noteSelection), nil, &got)
	stored, _ := e.Store.Case(id)
	if got.Case == nil || got.Case.Summary != stored.Summary || got.Case.Notes != nil {
		t.Fatalf("case %+v: want the case with null notes", got.Case)
	}
	if len(errs) != 1 || errs[0].pathString() != "case.notes" || errs[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" ||
		errs[0].Extensions["service"] != "cases" || strings.Contains(errs[0].Message, "127.0.0.1") {
		t.Errorf("errors %s, want one UPSTREAM_UNAVAILABLE from cases at case.notes", jsonString(errs))
	}
}

// addCaseNote end to end: the caller is the author; one POST and only
// what the payload selects; the note reaches caseActivity subscribers
// with its author, loaded once for all of them; the audit trail records
// the returned body; every refusal is a clear error that stores and
// publishes nothing.
func TestAddCaseNote(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	prov := authtest.NewProvider(t, k)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	e := startStacker(t, authEnv(prov, map[string]string{"STACKER_EVENTS_URL": natsTopic(t), "STACKER_AUDIT": "file:" + audit}))
	manager := staffToken(t, prov, k, "case_manager", "2")
	asManager := http.Header{"Authorization": {"Bearer " + manager}}
	author, _ := e.Store.StaffMember(2)
	const caseID = 12

	const add = `mutation AddNote($input: AddCaseNoteInput!) { addCaseNote(input: $input) {
		note { ` + noteSelection + ` } userErrors { field message } } }`
	type payload struct {
		AddCaseNote *struct {
			Note       *note
			UserErrors []struct {
				Field   []string
				Message string
			}
		}
	}
	input := func(caseID, body string) map[string]any {
		return map[string]any{"input": map[string]any{"caseId": caseID, "body": body}}
	}

	t.Run("success", func(t *testing.T) {
		before := len(e.Store.NotesByCases([]int64{caseID}))
		e.Demo.ResetCounts()
		var got payload
		if errs := e.doWith(t, asManager, add, input("12", "Patient called back"), &got); len(errs) > 0 {
			t.Fatalf("errors %s", jsonString(errs))
		}
		n := got.AddCaseNote.Note
		if n == nil || n.Body != "Patient called back" || n.Author == nil || n.Author.ID != "2" || n.Author.Name != author.Name ||
			len(got.AddCaseNote.UserErrors) != 0 {
			t.Fatalf("payload %+v", got.AddCaseNote)
		}
		// The POST, and the author the payload selects.
		want := map[string]int64{"cases POST /cases/:id/notes": 1, "staff GET /staff?ids": 1}
		if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, want) {
			t.Errorf("upstream calls %v, want %v", calls, want)
		}
		stored := e.Store.NotesByCases([]int64{caseID})
		last := stored[len(stored)-1]
		if len(stored) != before+1 || strconv.FormatInt(last.ID, 10) != n.ID || last.AuthorID != 2 || last.Body != n.Body {
			t.Errorf("store has %+v", stored)
		}
		// The body is @pii: the response leaves an audit record naming the
		// note, not its text.
		rs := waitRecord(t, audit, "AddNote")
		if len(rs) != 1 || !slices.Contains(rs[0].Fields["CaseNote"][n.ID], "body") {
			t.Errorf("audit records %+v, want CaseNote %s body", rs, n.ID)
		}
	})

	// Subscribed before the refusals: were one published, it would be the
	// first event the subscribers get (and its loads would show in the
	// refusals' call counts).
	const sub = `subscription { caseActivity(caseId: 12) { __typename caseId ... on CaseNoteAddedEvent { note { id body author { id name } } case { id } } } }`
	var clients []*wsClient
	for i := range 2 {
		c := dialWSWithToken(t, e.Base, manager, map[string]any{})
		if m := c.next(); m["type"] != "connection_ack" {
			t.Fatalf("want connection_ack, got %v", m)
		}
		c.subscribe(fmt.Sprint(i), sub)
		clients = append(clients, c)
	}
	testsync.WaitFor(t, "two subscriptions", func() bool { return e.liveSubs() == 2 })

	t.Run("refused", func(t *testing.T) {
		noStaff := staffToken(t, prov, k, "case_manager", "")
		unknownStaff := staffToken(t, prov, k, "case_manager", "999999")
		tooLong := strings.Repeat("a", demo.MaxNoteBody+1)
		for _, tc := range []struct {
			name       string
			header     http.Header
			vars       map[string]any
			wantCode   string // the error's code, or "" for a user error
			wantField  string
			wantMsg    string
			wantCalls  int64
			wantInPath string
		}{
			{name: "unknown case", header: asManager, vars: input("999999", "x"), wantCode: "NOT_FOUND", wantCalls: 1},
			{name: "malformed case id", header: asManager, vars: input("abc", "x"), wantCode: "BAD_USER_INPUT"},
			{name: "empty body", header: asManager, vars: input("12", ""), wantField: "input.body", wantMsg: "can't be blank", wantCalls: 1},
			{name: "blank body", header: asManager, vars: input("12", " \n\t "), wantField: "input.body", wantMsg: "can't be blank", wantCalls: 1},
			{name: "one character too long", header: asManager, vars: input("12", tooLong), wantField: "input.body",
				wantMsg: "is too long (maximum is 10000 characters)", wantCalls: 1},
			{name: "1 MB, under the request limit", header: asManager, vars: input("12", strings.Repeat("a", 1_000_000)), wantField: "input.body",
				wantMsg: "is too long (maximum is 10000 characters)", wantCalls: 1},
			{name: "caller without a staff id", header: http.Header{"Authorization": {"Bearer " + noStaff}}, vars: input("12", "x"), wantCode: "FORBIDDEN"},
			{name: "caller whose staff id is no staff member", header: http.Header{"Authorization": {"Bearer " + unknownStaff}}, vars: input("12", "x"),
				wantField: "", wantMsg: "the caller's staff id (the token's staff_id claim) names no staff member", wantCalls: 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.Store.NumNotes()
				e.Demo.ResetCounts()
				var got payload
				errs := e.doWith(t, tc.header, add, tc.vars, &got)
				if tc.wantCode != "" {
					if len(errs) != 1 || errs[0].Extensions["code"] != tc.wantCode || errs[0].Message == "" {
						t.Fatalf("errors %s, want one %s", jsonString(errs), tc.wantCode)
					}
					if got.AddCaseNote != nil {
						t.Errorf("payload %+v, want null", got.AddCaseNote)
					}
				} else {
					if len(errs) > 0 {
						t.Fatalf("errors %s", jsonString(errs))
					}
					ue := got.AddCaseNote.UserErrors
					if got.AddCaseNote.Note != nil || len(ue) != 1 || strings.Join(ue[0].Field, ".") != tc.wantField || ue[0].Message != tc.wantMsg {
						t.Fatalf("payload %+v, want a user error %q on %s", got.AddCaseNote, tc.wantMsg, tc.wantField)
					}
				}
				if n := e.Demo.Requests("cases") + e.Demo.Requests("staff"); n != tc.wantCalls {
					t.Errorf("%d upstream calls, want %d (sent once, never retried)", n, tc.wantCalls)
				}
				if e.Store.NumNotes() != before {
					t.Error("a refused note was stored")
				}
			})
		}
		t.Run("over the request limit is REQUEST_TOO_LARGE", func(t *testing.T) {
			before := e.Store.NumNotes()
			e.Demo.ResetCounts()
			body := jsonString(map[string]any{"query": add, "variables": input("12", strings.Repeat("a", 1<<20))})
			req, _ := http.NewRequest(http.MethodPost, e.URL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+manager)
			resp, err := e.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || firstCode(got) != "REQUEST_TOO_LARGE" {
				t.Errorf("status %d, body %v; want 413 REQUEST_TOO_LARGE", resp.StatusCode, got)
			}
			if n := e.Demo.Requests("cases"); n != 0 || e.Store.NumNotes() != before {
				t.Errorf("%d calls to cases, notes %d -> %d; want none and nothing stored", n, before, e.Store.NumNotes())
			}
		})
	})

	// Last, so the refusals above had their chance to publish: the first
	// event the subscribers get must be this note's, so none did.
	t.Run("subscribers get the note with its author", func(t *testing.T) {
		e.Demo.ResetCounts()
		var got payload
		if errs := e.doWith(t, asManager, `mutation AddNote2 { addCaseNote(input: {caseId: 12, body: "Sent the report"}) { note { id } } }`, nil, &got); len(errs) > 0 {
			t.Fatalf("errors %s", jsonString(errs))
		}
		id := got.AddCaseNote.Note.ID
		want := fmt.Sprintf(`{"data":{"caseActivity":{"__typename":"CaseNoteAddedEvent","caseId":"12","note":{"id":%q,"body":"Sent the report","author":{"id":"2","name":%q}},"case":{"id":"12"}}}}`,
			id, author.Name)
		for _, c := range clients {
			if m := c.next(); m["type"] != "next" || jsonString(m["payload"]) != canonical(want) {
				t.Errorf("caseActivity got %v, want %s", m, want)
			}
		}
		// The mutation's POST; for the event, once for both subscribers:
		// the case's notes, their authors, the case.
		want2 := map[string]int64{"cases POST /cases/:id/notes": 1, "cases GET /notes?case_ids": 1, "staff GET /staff?ids": 1, "cases GET /cases?ids": 1}
		if calls := e.Demo.EndpointSnapshot(); !reflect.DeepEqual(calls, want2) {
			t.Errorf("upstream calls %v, want %v", calls, want2)
		}
	})
}
