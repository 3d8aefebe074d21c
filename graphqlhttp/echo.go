package graphqlhttp

import "unicode/utf8"

// MaxEcho is the most of a client's value a message or a log line repeats:
// enough to recognise it, never enough to turn a 900 KB argument into a
// 900 KB answer and a 900 KB log line.
const MaxEcho = 64

// Clip returns s cut to at most n bytes, at a rune boundary, with an
// ellipsis when anything was cut. It is the one helper that caps echoed
// client values, here and in the resolvers' error presenter.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func clip(s string) string { return Clip(s, MaxEcho) }
