package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ha-webhook/ha-webhook/internal/printer"
)

// command is the flag set and error reporting every subcommand shares: `ha-webhook NAME: message`, then a pointer
// to --help, and exit status 2 for any usage error.
type command struct {
	name   string
	flags  *pflag.FlagSet
	stderr io.Writer
}

func newCommand(name, usage string, stderr io.Writer) *command {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return &command{name: name, flags: fs, stderr: stderr}
}

// parse parses args; when it returns false the command must exit with the returned status (0 after --help).
func (c *command) parse(args []string) (int, bool) {
	// With ContinueOnError pflag prints usage for --help only; other parse errors are reported here.
	if err := c.flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0, false
		}
		return c.usageError("%v", err), false
	}
	return 0, true
}

// usageError reports a usage error and returns its exit status.
func (c *command) usageError(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "ha-webhook %s: "+format+"\nRun \"ha-webhook %s --help\" for usage.\n", append(append([]any{c.name}, a...), c.name)...)
	return 2
}

// fail reports an error that is not a usage error (the input, the cluster) and returns exit status 2.
func (c *command) fail(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "ha-webhook %s: "+format+"\n", append([]any{c.name}, a...)...)
	return 2
}

// addOutputFlag binds -o/--output; checkOutput validates it.
func (c *command) addOutputFlag(output *string) {
	*output = printer.Text
	c.flags.StringVarP(output, "output", "o", *output, "output format: "+strings.Join(printer.Formats, " or "))
}

func (c *command) checkOutput(output string) (int, bool) {
	if output != printer.Text && output != printer.JSON {
		return c.usageError("--output must be %s, got %q", strings.Join(printer.Formats, " or "), output), false
	}
	return 0, true
}
