package resolvers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/cases"
	"github.com/stacker/stacker/upstream/doctors"
	"github.com/stacker/stacker/upstream/patients"
)

// Limits of the list arguments. The services cap a page at 100 cases and a
// search at 50 rows; Stacker fetches larger case pages in parallel chunks.
const (
	maxCasesFirst  = 1000
	maxSearchFirst = 50
	casesPageSize  = upstream.MaxIDs
)

// listCases serves Query.cases. The cases service pages by number with at
// most 100 per page, while the connection pages by cursor (an offset) with
// any `first`: an aligned page of up to 100 is one call; anything else is
// the 100-case pages that cover it, fetched in parallel.
func (r *Resolver) listCases(ctx context.Context, status []model.CaseStatus, assigneeID *int, first *int, after *string) (*model.CaseConnection, error) {
	n := 25
	if first != nil {
		n = *first
	}
	if n < 0 || n > maxCasesFirst {
		return nil, badInput("first must be between 0 and %d, got %d", maxCasesFirst, n)
	}
	offset := 0
	if after != nil {
		// A cursor past the largest position is refused rather than answered
		// with an empty page: Stacker never issued it, and an empty page
		// would tell a client with a corrupted cursor that the list ended.
		o, err := model.DecodeCursor(*after)
		switch {
		case errors.Is(err, model.ErrCursorOutOfRange):
			return nil, badInput("after points past position %d, the largest any list here reaches: it is not a cursor from this API", model.MaxCursorOffset)
		case err != nil:
			return nil, badInput("after is not a cursor from this API: %s", echo(*after))
		}
		offset = o + 1
	}
	params := cases.ListParams{Statuses: make([]string, len(status))}
	for i, s := range status {
		params.Statuses[i] = model.EnumToUpstream(s)
	}
	if assigneeID != nil {
		id := int64(*assigneeID)
		params.AssigneeID = &id
	}

	perPage, firstPage, lastPage := casesPageSize, offset/casesPageSize+1, (offset+n-1)/casesPageSize+1
	switch {
	case n == 0:
		perPage, firstPage, lastPage = 1, 1, 1 // only totalCount is wanted
	case n <= casesPageSize && offset%n == 0:
		perPage, firstPage, lastPage = n, offset/n+1, offset/n+1
	}
	pages := make([]cases.Page, lastPage-firstPage+1)
	errs := make([]error, len(pages))
	var wg sync.WaitGroup
	for i := range pages {
		wg.Go(func() {
			p := params
			p.Page, p.PerPage = firstPage+i, perPage
			pages[i], errs[i] = r.clients.Cases.List(ctx, p)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("listing cases: %w", err)
		}
	}

	conn := &model.CaseConnection{TotalCount: pages[0].Meta.Total, Offset: offset}
	if n > 0 {
		skip := offset - (firstPage-1)*perPage
		for _, pg := range pages {
			for _, c := range pg.Cases {
				if skip > 0 {
					skip--
					continue
				}
				if len(conn.Nodes) < n {
					conn.Nodes = append(conn.Nodes, loaders.Case(c))
				}
			}
		}
	}

	l := r.loaders(ctx)
	for _, c := range conn.Nodes {
		l.Cases.Prime(c.ID, c)
	}
	p := newPlanner(ctx, l)
	p.caseConnection(ctx, conn.Nodes, selections(ctx))
	return conn, nil
}

func (r *Resolver) searchPatients(ctx context.Context, query string, first *int) ([]*model.Patient, error) {
	n, err := searchFirst(first)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(query) == "" {
		// Blank text matches every name that has a space in it: a
		// listing of all patients, not a search.
		return nil, badInput("query must not be empty or blank")
	}
	rows, err := r.clients.Patients.Search(ctx, query, n)
	if err != nil {
		return nil, refusedArgument(fmt.Errorf("searching patients: %w", err), "query", query)
	}
	// The schema promises id order; the service's order is not in its
	// contract.
	slices.SortStableFunc(rows, func(a, b patients.Patient) int { return cmp.Compare(a.ID, b.ID) })
	return found(ctx, r, rows, n, loaders.Patient, r.rels.Patient, func(p *model.Patient) int { return p.ID }), nil
}

func (r *Resolver) doctorsBySpecialty(ctx context.Context, specialty string, first *int) ([]*model.Doctor, error) {
	n, err := searchFirst(first)
	if err != nil {
		return nil, err
	}
	if specialty == "" {
		return nil, badInput("specialty must not be empty")
	}
	// The schema promises the best rated first, which the service's
	// contract does not: it returns up to a limit of the specialty's doctors
	// in an order of its choosing. So ask for as many as it gives at once,
	// rank them here and keep the first n: the n best rated whenever the
	// specialty has no more doctors than that.
	rows, err := r.clients.Doctors.BySpecialty(ctx, specialty, maxSearchFirst)
	if err != nil {
		// Only the doctors service knows its specialties.
		return nil, refusedArgument(fmt.Errorf("listing doctors by specialty: %w", err), "specialty", specialty)
	}
	slices.SortStableFunc(rows, func(a, b doctors.Doctor) int {
		return cmp.Or(cmp.Compare(b.Rating, a.Rating), cmp.Compare(a.ID, b.ID))
	})
	return found(ctx, r, rows, n, loaders.Doctor, r.rels.Doctor, func(d *model.Doctor) int { return d.ID }), nil
}

// searchFirst is the `first` argument of a search, 10 when not given.
func searchFirst(first *int) (int, error) {
	n := 10
	if first != nil {
		n = *first
	}
	if n < 1 || n > maxSearchFirst {
		return 0, badInput("first must be between 1 and %d, got %d", maxSearchFirst, n)
	}
	return n, nil
}

// found is the answer of a search from the rows the service found, in the
// order promised: the first n, converted, cached for later lookups by id,
// and with what the client selected below them prefetched.
func found[R, V any](ctx context.Context, r *Resolver, rows []R, n int, convert func(R) V, o *object[V], id func(V) int) []V {
	rows = rows[:min(n, len(rows))]
	l := r.loaders(ctx)
	byID := o.byID(l)
	out := make([]V, len(rows))
	for i := range rows {
		out[i] = convert(rows[i])
		byID.Prime(id(out[i]), out[i])
	}
	walk(newPlanner(ctx, l), ctx, o, out, selections(ctx))
	return out
}
