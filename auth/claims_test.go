package auth

import (
	"encoding/json"
	"testing"
)

// The staff_id claim: a string or an integer; anything else is no staff id.
func TestStaffIDClaim(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"42", "42"},
		{float64(42), "42"},
		{json.Number("7"), "7"},
		{float64(4.5), ""},
		{float64(-1), ""},
		{"a,b", ""},
		{"", ""},
		{nil, ""},
		{[]any{"1"}, ""},
	}
	for _, tc := range tests {
		if got := staffID(tc.in); got != tc.want {
			t.Errorf("staffID(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
