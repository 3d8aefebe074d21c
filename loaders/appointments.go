package loaders

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/appointments"
)

// upcomingByDoctor reads the appointments of doctors that start at or after
// now: all of them, whatever limit a field asks for, since the service
// takes no limit per doctor (Doctor.appointments cuts each list). Each list
// is sorted by start, then id, so the cut keeps the soonest.
func upcomingByDoctor(c *appointments.Client, now time.Time) func(context.Context, []int64) ([]appointments.Appointment, error) {
	return func(ctx context.Context, ids []int64) ([]appointments.Appointment, error) {
		rows, err := c.UpcomingByDoctorIDs(ctx, ids, now)
		slices.SortFunc(rows, func(a, b appointments.Appointment) int {
			return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.ID, b.ID))
		})
		return rows, err
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
