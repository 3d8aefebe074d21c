package authz

// Roles maps each console role to the scopes it is granted: the one table
// the demo identity provider issues tokens from and docs/authorization.md
// shows (a test holds the two together, and another holds the scopes to
// those the schema asks for). A real identity provider is configured to
// the same table. Scopes decide what kind of data a role sees; roles are
// read only by the @policy functions (resolvers/policies.go).
func Roles() map[string][]string {
	reads := []string{"staff:read", "doctors:read", "clinics:read"}
	return map[string][]string{
		// Handles cases end to end: reads and changes them, contacts the
		// patient and the insurer, chases documents, books appointments.
		"case_manager": append([]string{
			"cases:read", "cases:write", "patients:read", "patients:contact", "insurers:read",
			"documents:read", "documents:write", "appointments:read", "appointments:write",
		}, reads...),
		// Gives the medical opinion: reads the case, its documents and
		// appointments; no contact details, no insurer, changes nothing.
		"medical_advisor": append([]string{
			"cases:read", "patients:read", "documents:read", "appointments:read",
		}, reads...),
		// Administers the system: everything.
		"admin": Scopes(),
	}
}

// Scopes are every scope the schema asks for, in the order
// docs/authorization.md lists them.
func Scopes() []string {
	return []string{
		"cases:read", "cases:write",
		"patients:read", "patients:contact",
		"insurers:read", "staff:read", "doctors:read", "clinics:read",
		"appointments:read", "appointments:write",
		"documents:read", "documents:write",
	}
}
