package resolvers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/loaders"
	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/appointments"
	"github.com/stacker/stacker/upstream/cases"
)

func (r *Resolver) updateCase(ctx context.Context, in model.UpdateCaseInput) (*model.UpdateCasePayload, error) {
	if _, set := in.AssigneeID.ValueOK(); in.Status == nil && in.Priority == nil && !set {
		// The service answers 400 to an empty change; that is the client's
		// mistake, and only Stacker can say so in the schema's words.
		return nil, badInput("input must change at least one of status, priority, assigneeId")
	}
	var p cases.UpdateParams
	if in.Status != nil {
		s := model.EnumToUpstream(*in.Status)
		p.Status = &s
	}
	if in.Priority != nil {
		s := model.EnumToUpstream(*in.Priority)
		p.Priority = &s
	}
	if id, set := in.AssigneeID.ValueOK(); set {
		if id == nil {
			p.Assignee = cases.Unassign()
		} else {
			p.Assignee = cases.Assign(int64(*id))
		}
	}
	row, err := r.clients.Cases.Update(ctx, int64(in.ID), p)
	if ue, ok := userErrors(err); ok {
		return &model.UpdateCasePayload{UserErrors: ue}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("updating case %d: %w", in.ID, err)
	}
	c := loaders.Case(row)
	r.loaders(ctx).Cases.Prime(c.ID, c)
	prefetchPayload(ctx, r, "UpdateCasePayload", "case", r.rels.Case, c)
	return &model.UpdateCasePayload{Case: c, UserErrors: []*model.UserError{}}, nil
}

func (r *Resolver) createCase(ctx context.Context, in model.CreateCaseInput) (*model.CreateCasePayload, error) {
	row, err := r.clients.Cases.Create(ctx, cases.CreateParams{
		PatientID: int64(in.PatientID),
		Specialty: in.Specialty,
		Summary:   in.Summary,
		Priority:  model.EnumToUpstream(in.Priority),
	})
	if ue, ok := userErrors(err); ok {
		return &model.CreateCasePayload{UserErrors: ue}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("creating a case for patient %d: %w", in.PatientID, err)
	}
	c := loaders.Case(row)
	r.loaders(ctx).Cases.Prime(c.ID, c)
	prefetchPayload(ctx, r, "CreateCasePayload", "case", r.rels.Case, c)
	return &model.CreateCasePayload{Case: c, UserErrors: []*model.UserError{}}, nil
}

func (r *Resolver) scheduleAppointment(ctx context.Context, in model.ScheduleAppointmentInput) (*model.ScheduleAppointmentPayload, error) {
	row, err := r.clients.Appointments.Create(ctx, appointments.CreateParams{
		CaseID:   int64(in.CaseID),
		DoctorID: int64(in.DoctorID),
		StartsAt: in.StartsAt,
	})
	if ue, ok := userErrors(err); ok {
		return &model.ScheduleAppointmentPayload{UserErrors: ue}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scheduling appointment for case %d: %w", in.CaseID, err)
	}
	a := loaders.Appointment(row)
	prefetchPayload(ctx, r, "ScheduleAppointmentPayload", "appointment", r.rels.Appointment, a)
	return &model.ScheduleAppointmentPayload{Appointment: a, UserErrors: []*model.UserError{}}, nil
}

// userErrors turns a service's 422 into the payload's user errors, pointing
// each at the input field it concerns (assignee_id -> ["input", "assigneeId"]).
// Messages about the record as a whole ("base") get no field.
func userErrors(err error) ([]*model.UserError, bool) {
	var ve *upstream.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	fields := make([]string, 0, len(ve.Fields))
	for f := range ve.Fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	var out []*model.UserError
	for _, f := range fields {
		var path []string
		if f != "base" {
			path = []string{"input", camel(f)}
		}
		for _, msg := range ve.Fields[f] {
			out = append(out, &model.UserError{Field: path, Message: msg})
		}
	}
	if len(out) == 0 {
		out = append(out, &model.UserError{Message: "the " + ve.Service + " service refused the change"})
	}
	return out, true
}

// camel turns a service's snake_case field name into the schema's camelCase.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
