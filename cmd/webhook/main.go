// Command ha-webhook is the ha-webhook admission webhook (serve), its offline checker (check), its cluster report
// (report) and version.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `ha-webhook keeps HTTP traffic flowing while pods are replaced.

Usage:
  ha-webhook serve [flags]           run the admission webhook server
  ha-webhook check -f PATH [flags]   check manifests offline with the same rules
  ha-webhook report [flags]          what a node-pool upgrade would do to a cluster's traffic now
  ha-webhook version                 print the version

Run "ha-webhook COMMAND --help" for the flags of a command.
`

// run dispatches a subcommand and returns the process exit code: 0 ok, 1 denial (check), 2 usage or input error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCommand(args[1:], stderr)
	case "check":
		return checkCommand(args[1:], stdin, stdout, stderr)
	case "report":
		return reportCommand(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ha-webhook: unknown command %q\n\n%s", args[0], usage)
	return 2
}
