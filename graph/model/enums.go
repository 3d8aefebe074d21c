package model

import "strings"

// EnumFromUpstream maps a service's snake_case enum value ("in_review") to the
// GraphQL one (IN_REVIEW) without allocating, by matching it against all, the
// generated list of the enum's values. An unknown value passes through
// upper-cased, so a service that adds a value shows up as an enum error on
// that field rather than as silent data loss.
func EnumFromUpstream[T ~string](s string, all []T) T {
	for _, v := range all {
		if strings.EqualFold(string(v), s) {
			return v
		}
	}
	return T(strings.ToUpper(s))
}

// EnumToUpstream maps a GraphQL enum value to the services' spelling.
func EnumToUpstream[T ~string](v T) string {
	return strings.ToLower(string(v))
}
