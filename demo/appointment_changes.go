package demo

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/stacker/stacker/events"
)

// startsAt validates an appointment's start, for a booking and a
// reschedule alike: present, RFC 3339 and not before now. It records what is
// wrong under starts_at and returns the time in UTC (zero when invalid).
func (e *ValidationError) startsAt(raw string, now time.Time) time.Time {
	if raw == "" {
		e.add("starts_at", "can't be blank")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, raw)
	switch {
	case err != nil:
		e.add("starts_at", "is not a valid datetime")
	case t.Before(now):
		e.add("starts_at", "must be in the future")
	default:
		return t.UTC()
	}
	return time.Time{}
}

// AppointmentPatch is the change PATCH /appointments/:id asks for: either a
// cancellation (Status "cancelled") or a new start (StartsAt, RFC 3339).
// Nil fields are not part of the change.
type AppointmentPatch struct {
	Status   *string
	StartsAt *string
}

// UpdateAppointment cancels or reschedules an appointment. It returns
// ErrNotFound for an unknown id and a *ValidationError, changing nothing,
// when the change is not allowed: a status other than cancelled, a second
// cancellation, a start before now, a move of an appointment that is no
// longer scheduled, or both changes at once.
func (s *Store) UpdateAppointment(id int64, p AppointmentPatch, now time.Time) (Appointment, error) {
	a, _, err := s.updateAppointment(id, p, now)
	return a, err
}

// updateAppointment is UpdateAppointment also returning the appointment's
// JSON, nil when it cannot be encoded.
//
// The doctor's and the case's indexes hold ids only, in id order, so neither
// a new status nor a new start moves anything in them.
func (s *Store) updateAppointment(id int64, p AppointmentPatch, now time.Time) (Appointment, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := byID(s.appointments, id)
	if !ok {
		return Appointment{}, nil, ErrNotFound
	}
	var verr ValidationError
	switch {
	case p.Status != nil && p.StartsAt != nil:
		// Which event would it be? The console never sends both.
		verr.add("base", "cannot cancel and reschedule at once")
	case p.Status != nil:
		switch {
		case *p.Status != AppointmentCancelled:
			verr.add("status", "can only be changed to cancelled")
		case a.Status == AppointmentCancelled:
			verr.add("status", "is already cancelled")
		case a.Status == AppointmentCompleted:
			verr.add("status", "cannot be cancelled once completed")
		default:
			a.Status = AppointmentCancelled
		}
	case p.StartsAt != nil:
		t := verr.startsAt(*p.StartsAt, now)
		switch a.Status {
		case AppointmentCancelled:
			verr.add("starts_at", "cannot be changed once cancelled")
		case AppointmentCompleted:
			verr.add("starts_at", "cannot be changed once completed")
		default:
			a.StartsAt = t
		}
	}
	if err := verr.err(); err != nil {
		return Appointment{}, nil, err
	}
	s.appointments[id-1] = a
	enc := s.appointmentsJSON.refresh(int(id-1), &a)
	return a, enc, nil
}

// patchAppointment serves PATCH /appointments/:id, in Rails' order: the body
// must parse (400), the appointment must exist (404), then the change is
// validated (422). Only a stored change publishes appointment.cancelled or
// appointment.rescheduled.
func (s *Services) patchAppointment(w http.ResponseWriter, r *http.Request, id int64) {
	fields, ok := s.decodeParams(w, r, "appointment")
	if !ok {
		return
	}
	if _, ok := s.store.Appointment(id); !ok {
		s.writeError(w, http.StatusNotFound, "not found")
		return
	}
	var p AppointmentPatch
	var verr ValidationError
	for name, dst := range map[string]**string{"status": &p.Status, "starts_at": &p.StartsAt} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var v string // null decodes as "", which fails validation as it should
		if json.Unmarshal(raw, &v) != nil {
			verr.add(name, "is not a string")
			continue
		}
		*dst = &v
	}
	if p.Status == nil && p.StartsAt == nil && verr.err() == nil {
		s.writeError(w, http.StatusBadRequest, "appointment must set one of status, starts_at")
		return
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return
	}
	a, enc, err := s.store.updateAppointment(id, p, s.now())
	if s.writeStoreError(w, err) {
		return
	}
	typ := events.TypeAppointmentRescheduled
	if p.Status != nil {
		typ = events.TypeAppointmentCancelled
	}
	s.emit(r, events.Event{Type: typ, CaseID: a.CaseID, AppointmentID: a.ID, OccurredAt: s.now().UTC()})
	if enc == nil { // the appointment cannot be encoded: writeJSON answers 500
		s.writeJSON(w, http.StatusOK, "appointment", a)
		return
	}
	s.writeRow(w, http.StatusOK, "appointment", enc)
}
