package resolvers

import (
	"context"
	"fmt"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/live"
	"github.com/stacker/stacker/loaders"
)

// WithConnection marks ctx as one WebSocket connection's (see
// live.Engine.WithConnection); the WebSocket transport calls it from its
// InitFunc.
func (r *Resolver) WithConnection(ctx context.Context) context.Context {
	return r.live.WithConnection(ctx)
}

// stream runs one GraphQL subscription: it registers with the engine, and for
// every event it receives waits until gqlgen is ready for the next one,
// installs the event's loaders, prefetches what the client selected and hands
// the payload over.
//
// keep, when set, decides after the loaders are in place whether the event
// goes to this subscriber at all (casesChanged needs the case's status).
func stream[T any](ctx context.Context, r *Resolver, match func(events.Event) bool, convert func(events.Event) T,
	below func(*planner, context.Context, []T, ast.SelectionSet), keep func(context.Context, *loaders.Loaders, T) bool,
) (<-chan T, error) {
	slot, ok := live.SlotFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("subscription without a loader slot: AroundOperations is not installed")
	}
	s, err := r.live.Add(ctx, match)
	if err != nil {
		return nil, err
	}
	sel := selections(ctx)
	out := make(chan T)
	field := graphql.GetFieldContext(ctx).Field.Name
	r.log.Debug("subscription started", "field", field)
	go func() {
		defer close(out)
		defer r.log.Debug("subscription ended")
		defer r.live.Remove(s)
		for {
			var d live.Delivery
			select {
			case <-ctx.Done():
				return
			case got, ok := <-s.C:
				if !ok {
					return // dropped (fanOut closed a WebSocket) or shut down
				}
				d = got
			}
			for _, e := range d.Events {
				select {
				case <-ctx.Done():
					return
				case <-slot.Ready():
				}
				slot.Set(d.Loaders)
				// The event's span covers its loads and its hand-over; the
				// fields gqlgen resolves from it afterwards are the
				// operation's.
				ectx, span := r.opts.Tracer.Event(ctx, field)
				v := convert(e)
				if keep != nil && !keep(ectx, d.Loaders, v) {
					span.End(nil)
					slot.Idle() // gqlgen is still waiting: keep its turn
					continue
				}
				if below != nil {
					below(newPlanner(ectx, d.Loaders), ectx, []T{v}, sel)
				}
				select {
				case <-ctx.Done():
					span.End(ctx.Err())
					return
				case out <- v:
				}
				span.End(nil)
			}
		}
	}()
	return out, nil
}

// Conversions from bus events to the GraphQL payloads.

func caseUpdated(e events.Event) *model.CaseUpdatedEvent {
	changed := e.Changed
	if changed == nil {
		changed = []string{}
	}
	return &model.CaseUpdatedEvent{CaseID: int(e.CaseID), OccurredAt: e.OccurredAt, Changed: changed}
}

func caseActivity(e events.Event) model.CaseActivity {
	switch e.Type {
	case events.TypeDocumentUploaded:
		return &model.DocumentUploadedEvent{CaseID: int(e.CaseID), DocumentID: int(e.DocumentID), OccurredAt: e.OccurredAt}
	case events.TypeAppointmentScheduled:
		return &model.AppointmentScheduledEvent{CaseID: int(e.CaseID), AppointmentID: int(e.AppointmentID), OccurredAt: e.OccurredAt}
	case events.TypeAppointmentCancelled:
		return &model.AppointmentCancelledEvent{CaseID: int(e.CaseID), AppointmentID: int(e.AppointmentID), OccurredAt: e.OccurredAt}
	case events.TypeAppointmentRescheduled:
		return &model.AppointmentRescheduledEvent{CaseID: int(e.CaseID), AppointmentID: int(e.AppointmentID), OccurredAt: e.OccurredAt}
	case events.TypeCaseNoteAdded:
		return &model.CaseNoteAddedEvent{CaseID: int(e.CaseID), NoteID: int(e.NoteID), OccurredAt: e.OccurredAt}
	}
	return caseUpdated(e)
}

// casesChanged serves Subscription.casesChanged: new and updated cases whose
// case is now in one of the statuses (all when none are given). A new case
// comes as a CaseUpdatedEvent with nothing in changed.
func (r *Resolver) casesChanged(ctx context.Context, status []model.CaseStatus) (<-chan *model.CaseUpdatedEvent, error) {
	var keep func(context.Context, *loaders.Loaders, *model.CaseUpdatedEvent) bool
	if len(status) > 0 {
		keep = func(ctx context.Context, l *loaders.Loaders, e *model.CaseUpdatedEvent) bool {
			c, err := l.Cases.Load(ctx, e.CaseID)
			return err != nil || slices.Contains(status, c.Status) // an error is shown, not hidden
		}
	}
	match := func(e events.Event) bool { return e.Type == events.TypeCaseUpdated || e.Type == events.TypeCaseCreated }
	return stream(ctx, r, match, caseUpdated, (*planner).caseUpdatedEvents, keep)
}

// findByID loads a case's list through l and picks one entry by id.
func findByID[V any](l *loaders.Loader[[]V], ctx context.Context, caseID, id int, idOf func(V) int) (V, error) {
	var zero V
	list, err := l.Load(ctx, caseID)
	if err != nil {
		return zero, err
	}
	for _, v := range list {
		if idOf(v) == id {
			return v, nil
		}
	}
	return zero, badInput("item %d of case %d does not exist (any more)", id, caseID)
}
