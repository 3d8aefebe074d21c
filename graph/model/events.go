package model

import "time"

// CaseUpdatedEvent is a case.updated event; CaseID is what the Case field
// resolves through the loaders.
type CaseUpdatedEvent struct {
	CaseID     int       `json:"caseId"`
	OccurredAt time.Time `json:"occurredAt"`
	Changed    []string  `json:"changed"`
}

func (CaseUpdatedEvent) IsCaseActivity() {}

// DocumentUploadedEvent is a document.uploaded event.
type DocumentUploadedEvent struct {
	CaseID     int       `json:"caseId"`
	DocumentID int       `json:"-"`
	OccurredAt time.Time `json:"occurredAt"`
}

func (DocumentUploadedEvent) IsCaseActivity() {}

// AppointmentScheduledEvent is an appointment.scheduled event.
type AppointmentScheduledEvent struct {
	CaseID        int       `json:"caseId"`
	AppointmentID int       `json:"-"`
	OccurredAt    time.Time `json:"occurredAt"`
}

func (AppointmentScheduledEvent) IsCaseActivity() {}

func (e CaseUpdatedEvent) GetCaseID() int                { return e.CaseID }
func (e CaseUpdatedEvent) GetOccurredAt() time.Time      { return e.OccurredAt }
func (e DocumentUploadedEvent) GetCaseID() int           { return e.CaseID }
func (e DocumentUploadedEvent) GetOccurredAt() time.Time { return e.OccurredAt }
func (e AppointmentScheduledEvent) GetCaseID() int       { return e.CaseID }
func (e AppointmentScheduledEvent) GetOccurredAt() time.Time {
	return e.OccurredAt
}

// AppointmentCancelledEvent is an appointment.cancelled event.
type AppointmentCancelledEvent struct {
	CaseID        int       `json:"caseId"`
	AppointmentID int       `json:"-"`
	OccurredAt    time.Time `json:"occurredAt"`
}

func (AppointmentCancelledEvent) IsCaseActivity()            {}
func (e AppointmentCancelledEvent) GetCaseID() int           { return e.CaseID }
func (e AppointmentCancelledEvent) GetOccurredAt() time.Time { return e.OccurredAt }

// AppointmentRescheduledEvent is an appointment.rescheduled event.
type AppointmentRescheduledEvent struct {
	CaseID        int       `json:"caseId"`
	AppointmentID int       `json:"-"`
	OccurredAt    time.Time `json:"occurredAt"`
}

func (AppointmentRescheduledEvent) IsCaseActivity()            {}
func (e AppointmentRescheduledEvent) GetCaseID() int           { return e.CaseID }
func (e AppointmentRescheduledEvent) GetOccurredAt() time.Time { return e.OccurredAt }

// CaseNoteAddedEvent is a case.note_added event.
type CaseNoteAddedEvent struct {
	CaseID     int       `json:"caseId"`
	NoteID     int       `json:"-"`
	OccurredAt time.Time `json:"occurredAt"`
}

func (CaseNoteAddedEvent) IsCaseActivity() {}

func (e CaseNoteAddedEvent) GetCaseID() int           { return e.CaseID }
func (e CaseNoteAddedEvent) GetOccurredAt() time.Time { return e.OccurredAt }
