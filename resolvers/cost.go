package resolvers

import "github.com/stacker/stacker/graphqlhttp"

// CostModel is how expensive Stacker's fields are, for the request cost
// limit: every relation that crosses into another service costs an upstream
// call per level, and lists multiply what is below them by their size: the
// `first` argument where there is one, and the services' typical sizes for
// the relation lists (about 3 appointments and 2 documents a case, 5 cases
// a patient), rounded up.
func CostModel() *graphqlhttp.CostModel {
	return &graphqlhttp.CostModel{
		Calls: map[string]int{
			"Query.cases": 1, "Query.case": 1, "Query.patient": 1, "Query.searchPatients": 1,
			"Query.staffMember": 1, "Query.doctor": 1, "Query.doctorsBySpecialty": 1,
			"Query.clinic": 1, "Query.insurer": 1,
			"Mutation.updateCase": 1, "Mutation.scheduleAppointment": 1,
			"Case.patient": 1, "Case.assignee": 1, "Case.appointments": 1, "Case.documents": 1,
			"Patient.insurer": 1, "Patient.cases": 1, "Appointment.doctor": 1, "Appointment.case": 1,
			"Doctor.clinic": 1, "Document.case": 1,
		},
		ListSizes: map[string]graphqlhttp.ListSize{
			"Query.cases":              {SlicingArgument: "first", Default: 25, SizedFields: []string{"nodes", "edges"}},
			"Query.searchPatients":     {SlicingArgument: "first", Default: 10},
			"Query.doctorsBySpecialty": {SlicingArgument: "first", Default: 10},
			"Case.appointments":        {Default: 5},
			"Case.documents":           {Default: 5},
			"Patient.cases":            {Default: 10},
		},
		DefaultListSize: 10,
	}
}
