package demo

import "time"

// The wire types below are both the store's rows and the services' JSON: the
// json tags are the contract's snake_case keys. Timestamps are UTC and whole
// seconds, so they marshal as RFC 3339 such as "2026-03-01T10:00:00Z".

// Patient is a row of the patients service.
type Patient struct {
	ID          int64     `json:"id"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	DateOfBirth string    `json:"date_of_birth"` // YYYY-MM-DD
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	InsurerID   int64     `json:"insurer_id"`
	City        string    `json:"city"`
	CreatedAt   time.Time `json:"created_at"`
}

// Insurer is a row of the insurers service. Kind is "public" or "private".
type Insurer struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Case is a row of the cases service. AssigneeID is nil for an unassigned
// case; the store never mutates the int64 it points to (a patch allocates a
// new one), so copies of a Case are safe to share.
type Case struct {
	ID         int64     `json:"id"`
	PatientID  int64     `json:"patient_id"`
	AssigneeID *int64    `json:"assignee_id"`
	Specialty  string    `json:"specialty"`
	Status     string    `json:"status"`   // see StatusNew and friends
	Priority   string    `json:"priority"` // see PriorityLow and friends
	Summary    string    `json:"summary"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// StaffMember is a row of the staff service. Role is "case_manager",
// "medical_advisor" or "admin".
type StaffMember struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// Doctor is a row of the doctors service. Rating has one decimal (3.0..5.0).
type Doctor struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	Specialty string  `json:"specialty"`
	ClinicID  int64   `json:"clinic_id"`
	Rating    float64 `json:"rating"`
}

// Clinic is a row of the clinics service.
type Clinic struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// Appointment is a row of the appointments service. Status is "scheduled",
// "completed" or "cancelled".
type Appointment struct {
	ID       int64     `json:"id"`
	CaseID   int64     `json:"case_id"`
	DoctorID int64     `json:"doctor_id"`
	StartsAt time.Time `json:"starts_at"`
	Status   string    `json:"status"`
}

// Document is a row of the documents service. Kind is "medical_report",
// "imaging", "lab_result" or "other".
type Document struct {
	ID         int64     `json:"id"`
	CaseID     int64     `json:"case_id"`
	Kind       string    `json:"kind"`
	Title      string    `json:"title"`
	SizeBytes  int64     `json:"size_bytes"`
	UploadedAt time.Time `json:"uploaded_at"`
	// ContentType and SHA256 describe the file of a streamed upload
	// (multipart POST /documents); the demo keeps no file bytes, only
	// these. Seeded and JSON-created documents have neither.
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
}

// Case statuses.
const (
	StatusNew                 = "new"
	StatusInReview            = "in_review"
	StatusWaitingForDocuments = "waiting_for_documents"
	StatusClosed              = "closed"
)

// Case priorities.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Appointment statuses.
const (
	AppointmentScheduled = "scheduled"
	AppointmentCompleted = "completed"
	AppointmentCancelled = "cancelled"
)

// CaseStatuses returns every case status, in workflow order.
func CaseStatuses() []string {
	return []string{StatusNew, StatusInReview, StatusWaitingForDocuments, StatusClosed}
}

// CasePriorities returns every case priority, lowest first.
func CasePriorities() []string {
	return []string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
}

// Specialties returns the fixed list of medical specialties used by doctors
// and cases.
func Specialties() []string {
	return []string{
		"cardiology", "oncology", "neurology", "orthopedics", "dermatology",
		"gastroenterology", "endocrinology", "pulmonology", "nephrology", "rheumatology",
	}
}

func isCaseStatus(s string) bool {
	switch s {
	case StatusNew, StatusInReview, StatusWaitingForDocuments, StatusClosed:
		return true
	}
	return false
}

func isCasePriority(s string) bool {
	switch s {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return true
	}
	return false
}
