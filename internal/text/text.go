// Package text bounds what messages repeat of user input.
package text

import "strconv"

// maxQuoted bounds how much of a user-supplied value a message repeats.
const maxQuoted = 40

// Quote renders a user-supplied value for a message: quoted, escaped and truncated, so a warning never echoes
// unbounded or unprintable input.
func Quote(s string) string {
	r := []rune(s)
	if len(r) > maxQuoted {
		return strconv.Quote(string(r[:maxQuoted])) + "…"
	}
	return strconv.Quote(s)
}

// Truncate shortens s to at most n runes, marking the cut with an ellipsis.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	return string(r[:n-1]) + "…"
}
