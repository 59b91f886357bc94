package main

import (
	"fmt"
	"io"
)

// checkCommand is replaced by the real offline checker.
func checkCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ha-webhook check: not implemented yet")
	return 2
}
