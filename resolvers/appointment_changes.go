package resolvers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream/appointments"
)

// cancelAppointment serves Mutation.cancelAppointment: one PATCH to the
// appointments service, then the payload's selection prefetched as
// scheduleAppointment's is.
func (r *Resolver) cancelAppointment(ctx context.Context, in model.CancelAppointmentInput) (*model.CancelAppointmentPayload, error) {
	row, err := r.clients.Appointments.Cancel(ctx, int64(in.ID))
	if ue, ok := userErrors(err); ok {
		return &model.CancelAppointmentPayload{UserErrors: onInput(ue)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cancelling appointment %d: %w", in.ID, err)
	}
	a := r.prefetchChanged(ctx, row, "CancelAppointmentPayload")
	return &model.CancelAppointmentPayload{Appointment: a, UserErrors: []*model.UserError{}}, nil
}

// rescheduleAppointment serves Mutation.rescheduleAppointment, as
// cancelAppointment does.
func (r *Resolver) rescheduleAppointment(ctx context.Context, in model.RescheduleAppointmentInput) (*model.RescheduleAppointmentPayload, error) {
	row, err := r.clients.Appointments.Reschedule(ctx, int64(in.ID), in.StartsAt)
	if ue, ok := userErrors(err); ok {
		return &model.RescheduleAppointmentPayload{UserErrors: onInput(ue, "startsAt")}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rescheduling appointment %d: %w", in.ID, err)
	}
	a := r.prefetchChanged(ctx, row, "RescheduleAppointmentPayload")
	return &model.RescheduleAppointmentPayload{Appointment: a, UserErrors: []*model.UserError{}}, nil
}

// prefetchChanged converts the appointment a PATCH returned and claims, in
// one call per service per level, what the payload type's `appointment`
// selection asks for below it.
func (r *Resolver) prefetchChanged(ctx context.Context, row appointments.Appointment, payload string) *model.Appointment {
	a := loaders.Appointment(row)
	prefetchPayload(ctx, r, payload, "appointment", r.rels.Appointment, a)
	return a
}

// onInput keeps the field of the user errors that point at one of the
// input's fields and turns the others into messages about the appointment
// as a whole, the field named in the message as Rails' full messages do
// ("Status is already cancelled"): the service validates its own fields
// (status), which are not all in the mutation's input, and a user error must
// not point the form at a field it does not have.
func onInput(ue []*model.UserError, fields ...string) []*model.UserError {
	for _, e := range ue {
		if len(e.Field) != 2 || slices.Contains(fields, e.Field[1]) {
			continue
		}
		e.Field, e.Message = nil, humanize(e.Field[1])+" "+e.Message
	}
	return ue
}

// humanize spells a camelCase field name as words: "startsAt" -> "Starts at".
func humanize(field string) string {
	var b strings.Builder
	for i, c := range field {
		switch {
		case i == 0:
			b.WriteRune(unicode.ToUpper(c))
		case unicode.IsUpper(c):
			b.WriteByte(' ')
			b.WriteRune(unicode.ToLower(c))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
