// Package model holds the Go types behind the GraphQL schema: the ones gqlgen
// generates (models_gen.go: enums, inputs, payloads) and the hand-written entity
// types here, which carry the foreign-key ids that the relation resolvers and
// the loaders need but the schema does not expose.
package model

import (
	"time"
)

// Case is a case from the cases service. PatientID and AssigneeID are the
// foreign keys behind Case.patient and Case.assignee.
type Case struct {
	ID         int          `json:"id"`
	PatientID  int          `json:"-"`
	AssigneeID *int         `json:"-"`
	Status     CaseStatus   `json:"status"`
	Priority   CasePriority `json:"priority"`
	Specialty  string       `json:"specialty"`
	Summary    string       `json:"summary"`
	CreatedAt  time.Time    `json:"createdAt"`
	UpdatedAt  time.Time    `json:"updatedAt"`
}

// Patient is a patient from the patients service. InsurerID is the foreign key
// behind Patient.insurer.
type Patient struct {
	ID          int       `json:"id"`
	InsurerID   int       `json:"-"`
	FirstName   string    `json:"firstName"`
	LastName    string    `json:"lastName"`
	DateOfBirth string    `json:"dateOfBirth"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	City        string    `json:"city"`
	CreatedAt   time.Time `json:"createdAt"`
}

// FullName is the name as a screen shows it.
func (p *Patient) FullName() string { return p.FirstName + " " + p.LastName }

// Insurer is an insurer from the insurers service.
type Insurer struct {
	ID   int         `json:"id"`
	Name string      `json:"name"`
	Kind InsurerKind `json:"kind"`
}

// StaffMember is a member of staff from the staff service.
type StaffMember struct {
	ID    int       `json:"id"`
	Name  string    `json:"name"`
	Email string    `json:"email"`
	Role  StaffRole `json:"role"`
}

// Doctor is a doctor from the doctors service. ClinicID is the foreign key
// behind Doctor.clinic.
type Doctor struct {
	ID        int     `json:"id"`
	ClinicID  int     `json:"-"`
	Name      string  `json:"name"`
	Specialty string  `json:"specialty"`
	Rating    float64 `json:"rating"`
}

// Clinic is a clinic from the clinics service.
type Clinic struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// Appointment is an appointment from the appointments service. CaseID and
// DoctorID are the foreign keys behind Appointment.case and Appointment.doctor.
type Appointment struct {
	ID       int               `json:"id"`
	CaseID   int               `json:"-"`
	DoctorID int               `json:"-"`
	StartsAt time.Time         `json:"startsAt"`
	Status   AppointmentStatus `json:"status"`
}

// Document is a document from the documents service. CaseID is the foreign key
// behind Document.case.
type Document struct {
	ID         int          `json:"id"`
	CaseID     int          `json:"-"`
	Kind       DocumentKind `json:"kind"`
	Title      string       `json:"title"`
	SizeBytes  int          `json:"sizeBytes"`
	UploadedAt time.Time    `json:"uploadedAt"`
}

// CaseNote is a note from the cases service. CaseID and AuthorID are the
// foreign keys behind CaseNote.case and CaseNote.author.
type CaseNote struct {
	ID        int       `json:"id"`
	CaseID    int       `json:"-"`
	AuthorID  int       `json:"-"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}
