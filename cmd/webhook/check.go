package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/ha-webhook/ha-webhook/internal/check"
	"github.com/ha-webhook/ha-webhook/internal/manifest"
)

const checkUsage = `Usage: ha-webhook check -f PATH [-f PATH...] [flags]

Checks manifests offline with the webhook's own rules and mutation: every Deployment is validated against the
PodDisruptionBudgets and HorizontalPodAutoscalers of the same input and namespace, and the pods of every Deployment,
StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and Pod are shown with what the webhook would inject.

PATH is a file, a directory (read recursively: .yaml, .yml, .json) or - for standard input. Multi-document YAML,
JSON streams and kind: List are read; kinds the checks do not use are ignored.

Without an API server to ask, --prestop-mode=auto assumes native preStop sleep is supported (Kubernetes >= 1.30).
A Namespace object in the input may set its mode with the ha-webhook.io/mode label.

Exit status: 0 nothing denied (always in audit mode), 1 a Deployment would be denied, 2 usage or input error.

Flags:
`

// checkCommand runs `ha-webhook check` and returns its exit status: 0 clean, 1 denied, 2 usage or input error.
func checkCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts := check.DefaultOptions()
	var (
		paths  []string
		output = check.OutputText
	)
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fs.PrintDefaults()
	}
	fs.StringArrayVarP(&paths, "filename", "f", nil, "file, directory (recursive) or - (stdin) to check; repeatable")
	fs.StringVarP(&output, "output", "o", output, "output format: text or json")
	fs.Var(newModeValue(&opts.Mode), "mode", "enforce (violations deny: exit 1) or audit (violations are warnings: exit 0)")
	fs.StringVarP(&opts.Namespace, "namespace", "n", opts.Namespace, "namespace of objects that name none")
	addMutateFlags(fs, &opts.Mutate)
	addRuleFlags(fs, &opts.Rules)

	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ha-webhook check: "+format+"\nRun \"ha-webhook check --help\" for usage.\n", a...)
		return 2
	}
	// With ContinueOnError pflag prints usage for --help only; other parse errors are reported here.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q: name manifests with -f PATH", fs.Arg(0))
	}
	if len(paths) == 0 {
		return usageError("no manifests given: use -f PATH (a file, a directory or - for standard input)")
	}
	if output != check.OutputText && output != check.OutputJSON {
		return usageError("--output must be %s or %s, got %q", check.OutputText, check.OutputJSON, output)
	}
	if err := opts.Validate(); err != nil {
		return usageError("invalid flags:\n%v", err)
	}

	objs, err := manifest.Read(paths, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ha-webhook check: cannot read the manifests:\n%v\n", err)
		return 2
	}
	report := check.Run(objs, opts)
	if err := check.Write(stdout, report, output); err != nil {
		fmt.Fprintf(stderr, "ha-webhook check: writing the report: %v\n", err)
		return 2
	}
	if report.Denied() {
		return 1
	}
	return 0
}
