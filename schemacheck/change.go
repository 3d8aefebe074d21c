package schemacheck

// Severity says what a schema change can do to the clients of the schema.
type Severity string

const (
	// Breaking: an operation that was valid before can fail now (it no longer
	// validates, or a value it sends is rejected).
	Breaking Severity = "BREAKING"
	// Dangerous: every operation still validates, but a client can see
	// something it was not written for (a new enum value, a new member of a
	// union, a different default) or behaviour can change.
	Dangerous Severity = "DANGEROUS"
	// Safe: no client can notice, except by reading the schema.
	Safe Severity = "SAFE"
)

// rank orders severities worst first.
func (s Severity) rank() int {
	switch s {
	case Breaking:
		return 0
	case Dangerous:
		return 1
	default:
		return 2
	}
}

// ChangeType names one kind of change. The names are part of the JSON output
// and never change meaning; new kinds get new names.
type ChangeType string

// The change types. The severity of most is fixed; the comment says when it
// depends on the change.
const (
	TypeAdded       ChangeType = "TYPE_ADDED"        // SAFE
	TypeRemoved     ChangeType = "TYPE_REMOVED"      // BREAKING
	TypeKindChanged ChangeType = "TYPE_KIND_CHANGED" // BREAKING

	RootTypeAdded   ChangeType = "ROOT_TYPE_ADDED"   // SAFE
	RootTypeChanged ChangeType = "ROOT_TYPE_CHANGED" // BREAKING
	RootTypeRemoved ChangeType = "ROOT_TYPE_REMOVED" // BREAKING

	FieldAdded       ChangeType = "FIELD_ADDED"        // SAFE
	FieldRemoved     ChangeType = "FIELD_REMOVED"      // BREAKING
	FieldTypeChanged ChangeType = "FIELD_TYPE_CHANGED" // SAFE when only non-null is added, else BREAKING

	ArgAdded        ChangeType = "ARG_ADDED"          // SAFE (nullable, or has a default)
	ArgAddedNonNull ChangeType = "ARG_ADDED_NON_NULL" // BREAKING (non-null without a default)
	ArgRemoved      ChangeType = "ARG_REMOVED"        // BREAKING
	ArgTypeChanged  ChangeType = "ARG_TYPE_CHANGED"   // SAFE when only non-null is dropped, else BREAKING

	InputFieldAdded        ChangeType = "INPUT_FIELD_ADDED"          // SAFE (nullable, or has a default)
	InputFieldAddedNonNull ChangeType = "INPUT_FIELD_ADDED_NON_NULL" // BREAKING (non-null without a default)
	InputFieldRemoved      ChangeType = "INPUT_FIELD_REMOVED"        // BREAKING
	InputFieldTypeChanged  ChangeType = "INPUT_FIELD_TYPE_CHANGED"   // SAFE when only non-null is dropped, else BREAKING

	DefaultValueAdded   ChangeType = "DEFAULT_VALUE_ADDED"   // SAFE on a non-null input, else DANGEROUS
	DefaultValueChanged ChangeType = "DEFAULT_VALUE_CHANGED" // DANGEROUS
	DefaultValueRemoved ChangeType = "DEFAULT_VALUE_REMOVED" // BREAKING on a non-null input, else DANGEROUS

	EnumValueAdded   ChangeType = "ENUM_VALUE_ADDED"   // DANGEROUS
	EnumValueRemoved ChangeType = "ENUM_VALUE_REMOVED" // BREAKING

	UnionMemberAdded   ChangeType = "UNION_MEMBER_ADDED"   // DANGEROUS
	UnionMemberRemoved ChangeType = "UNION_MEMBER_REMOVED" // BREAKING

	InterfaceAdded   ChangeType = "TYPE_INTERFACE_ADDED"   // DANGEROUS
	InterfaceRemoved ChangeType = "TYPE_INTERFACE_REMOVED" // BREAKING

	DirectiveAdded             ChangeType = "DIRECTIVE_ADDED"              // SAFE
	DirectiveRemoved           ChangeType = "DIRECTIVE_REMOVED"            // BREAKING
	DirectiveLocationAdded     ChangeType = "DIRECTIVE_LOCATION_ADDED"     // SAFE
	DirectiveLocationRemoved   ChangeType = "DIRECTIVE_LOCATION_REMOVED"   // BREAKING
	DirectiveRepeatableAdded   ChangeType = "DIRECTIVE_REPEATABLE_ADDED"   // SAFE
	DirectiveRepeatableRemoved ChangeType = "DIRECTIVE_REPEATABLE_REMOVED" // BREAKING

	DirectiveUsageAdded   ChangeType = "DIRECTIVE_USAGE_ADDED"   // DANGEROUS
	DirectiveUsageRemoved ChangeType = "DIRECTIVE_USAGE_REMOVED" // DANGEROUS
	DirectiveUsageChanged ChangeType = "DIRECTIVE_USAGE_CHANGED" // DANGEROUS
	OneOfAdded            ChangeType = "ONE_OF_ADDED"            // BREAKING
	OneOfRemoved          ChangeType = "ONE_OF_REMOVED"          // SAFE

	DeprecationAdded         ChangeType = "DEPRECATION_ADDED"          // SAFE
	DeprecationRemoved       ChangeType = "DEPRECATION_REMOVED"        // DANGEROUS
	DeprecationReasonChanged ChangeType = "DEPRECATION_REASON_CHANGED" // SAFE

	DescriptionAdded   ChangeType = "DESCRIPTION_ADDED"   // SAFE
	DescriptionChanged ChangeType = "DESCRIPTION_CHANGED" // SAFE
	DescriptionRemoved ChangeType = "DESCRIPTION_REMOVED" // SAFE
)

// ChangeTypes lists every change type with the severities it can have, in the
// order of the table in docs/schema-checks.md.
func ChangeTypes() []ChangeTypeInfo {
	return []ChangeTypeInfo{
		{TypeAdded, []Severity{Safe}},
		{TypeRemoved, []Severity{Breaking}},
		{TypeKindChanged, []Severity{Breaking}},
		{RootTypeAdded, []Severity{Safe}},
		{RootTypeChanged, []Severity{Breaking}},
		{RootTypeRemoved, []Severity{Breaking}},
		{FieldAdded, []Severity{Safe}},
		{FieldRemoved, []Severity{Breaking}},
		{FieldTypeChanged, []Severity{Breaking, Safe}},
		{ArgAdded, []Severity{Safe}},
		{ArgAddedNonNull, []Severity{Breaking}},
		{ArgRemoved, []Severity{Breaking}},
		{ArgTypeChanged, []Severity{Breaking, Safe}},
		{InputFieldAdded, []Severity{Safe}},
		{InputFieldAddedNonNull, []Severity{Breaking}},
		{InputFieldRemoved, []Severity{Breaking}},
		{InputFieldTypeChanged, []Severity{Breaking, Safe}},
		{DefaultValueAdded, []Severity{Dangerous, Safe}},
		{DefaultValueChanged, []Severity{Dangerous}},
		{DefaultValueRemoved, []Severity{Breaking, Dangerous}},
		{EnumValueAdded, []Severity{Dangerous}},
		{EnumValueRemoved, []Severity{Breaking}},
		{UnionMemberAdded, []Severity{Dangerous}},
		{UnionMemberRemoved, []Severity{Breaking}},
		{InterfaceAdded, []Severity{Dangerous}},
		{InterfaceRemoved, []Severity{Breaking}},
		{DirectiveAdded, []Severity{Safe}},
		{DirectiveRemoved, []Severity{Breaking}},
		{DirectiveLocationAdded, []Severity{Safe}},
		{DirectiveLocationRemoved, []Severity{Breaking}},
		{DirectiveRepeatableAdded, []Severity{Safe}},
		{DirectiveRepeatableRemoved, []Severity{Breaking}},
		{DirectiveUsageAdded, []Severity{Dangerous}},
		{DirectiveUsageRemoved, []Severity{Dangerous}},
		{DirectiveUsageChanged, []Severity{Dangerous}},
		{OneOfAdded, []Severity{Breaking}},
		{OneOfRemoved, []Severity{Safe}},
		{DeprecationAdded, []Severity{Safe}},
		{DeprecationRemoved, []Severity{Dangerous}},
		{DeprecationReasonChanged, []Severity{Safe}},
		{DescriptionAdded, []Severity{Safe}},
		{DescriptionChanged, []Severity{Safe}},
		{DescriptionRemoved, []Severity{Safe}},
	}
}

// ChangeTypeInfo is one row of the change-type table: a type and every
// severity a change of that type can have.
type ChangeTypeInfo struct {
	Type       ChangeType
	Severities []Severity
}

// Change is one difference between two schemas. Coordinate is the schema
// coordinate of the element that changed (`Type`, `Type.field`,
// `Type.field(arg:)`, `Enum.VALUE`, `Input.field`, `@directive`,
// `@directive(arg:)`, or `schema` for the root operation types). Before and
// After hold the old and new value where one is meaningful (a type, a default
// value, a description); either is empty when there is none.
type Change struct {
	Severity   Severity   `json:"severity"`
	Type       ChangeType `json:"type"`
	Coordinate string     `json:"coordinate"`
	Message    string     `json:"message"`
	Before     string     `json:"before,omitempty"`
	After      string     `json:"after,omitempty"`
}

// Summary counts changes by severity.
type Summary struct {
	Breaking  int `json:"breaking"`
	Dangerous int `json:"dangerous"`
	Safe      int `json:"safe"`
}

// Summarize counts changes by severity.
func Summarize(changes []Change) Summary {
	var s Summary
	for _, c := range changes {
		switch c.Severity {
		case Breaking:
			s.Breaking++
		case Dangerous:
			s.Dangerous++
		default:
			s.Safe++
		}
	}
	return s
}
