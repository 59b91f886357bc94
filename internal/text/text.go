// Package text bounds what messages repeat of user input, and how long a warning may be.
package text

import (
	"fmt"
	"strconv"
)

// MaxWarningLength is the longest warning ha-webhook sends: kubectl prints a warning of up to 120 characters whole
// (DESIGN §3). Every warning is built with Warnf or cut to this length.
const MaxWarningLength = 120

// maxQuoted bounds how much of a user-supplied value a message repeats.
const maxQuoted = 40

// Warnf formats a warning bounded to MaxWarningLength characters. Messages put the user's value last, so that the
// cut, if any, falls in it.
func Warnf(format string, args ...any) string {
	return Truncate(fmt.Sprintf(format, args...), MaxWarningLength)
}

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
