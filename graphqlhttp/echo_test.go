package graphqlhttp

import "testing"

func TestClip(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "abc", 3, "abc"},
		{"cut", "abcdef", 3, "abc…"},
		{"rune boundary", "aé", 2, "a…"}, // é is two bytes: never cut in half
		{"empty", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clip(tc.in, tc.max); got != tc.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}
