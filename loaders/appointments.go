package loaders

import (
	"context"
	"fmt"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/appointments"
)

func appointmentsByCase(c *appointments.Client) fetchFunc[[]*model.Appointment] {
	return func(ctx context.Context, caseIDs []int) (map[int][]*model.Appointment, error) {
		rows, err := c.AppointmentsByCaseIDs(ctx, ids64(caseIDs))
		if err != nil {
			return nil, fmt.Errorf("loading appointments by case: %w", err)
		}
		list := make([]*model.Appointment, len(rows))
		for i := range rows {
			list[i] = Appointment(rows[i])
		}
		return group(len(caseIDs), list, func(a *model.Appointment) int { return a.CaseID }), nil
	}
}

// Appointment converts an appointments-service row to its GraphQL model.
func Appointment(a appointments.Appointment) *model.Appointment {
	return &model.Appointment{
		ID:       int(a.ID),
		CaseID:   int(a.CaseID),
		DoctorID: int(a.DoctorID),
		StartsAt: a.StartsAt,
		Status:   model.EnumFromUpstream(a.Status, model.AllAppointmentStatus),
	}
}
