package main

import (
	"io"

	"github.com/ha-webhook/ha-webhook/internal/check"
	"github.com/ha-webhook/ha-webhook/internal/manifest"
)

const checkUsage = `Usage: ha-webhook check -f PATH [-f PATH...] [flags]

Checks manifests offline with the webhook's own rules and mutation, as if the input were applied to an opted-in
namespace:
  - every Deployment and StatefulSet is validated against the PodDisruptionBudgets, HorizontalPodAutoscalers,
    Deployments and StatefulSets of the same input and namespace (a PDB's budget is shared by every workload whose
    pods it selects), with a warning when it passes only because a PDB, an HPA or a workload sharing its PDB comes
    after it (kubectl apply -f creates objects in input order),
  - every PodDisruptionBudget gets its own warnings (pdb-unhealthy-eviction: no unhealthyPodEvictionPolicy
    AlwaysAllow) and their fixes; a PDB is never denied,
  - the pods of every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and Pod are shown with what the
    webhook would inject.

PATH is a file, a directory (read recursively: .yaml, .yml, .json) or - for standard input. Multi-document YAML,
JSON streams and kind: List are read; kinds the checks do not use are ignored.

Without an API server to ask, --prestop-mode=auto assumes native preStop sleep is supported (Kubernetes >= 1.30).
A Namespace object in the input may set its mode with the ha-webhook.io/mode label.

Exit status: 0 nothing denied (always in audit mode; warnings never deny), 1 a Deployment or StatefulSet would be
denied, 2 usage or input error.

Flags:
`

// checkCommand runs `ha-webhook check` and returns its exit status: 0 clean, 1 denied, 2 usage or input error.
func checkCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts := check.DefaultOptions()
	var paths []string
	var output string
	cmd := newCommand("check", checkUsage, stderr)
	fs := cmd.flags
	fs.StringArrayVarP(&paths, "filename", "f", nil, "file, directory (recursive) or - (stdin) to check; repeatable")
	cmd.addOutputFlag(&output)
	fs.StringVarP(&opts.Namespace, "namespace", "n", opts.Namespace, "namespace of objects that name none")
	opts.AddFlags(fs)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return cmd.usageError("unexpected argument %q: name manifests with -f PATH", fs.Arg(0))
	}
	if len(paths) == 0 {
		return cmd.usageError("no manifests given: use -f PATH (a file, a directory or - for standard input)")
	}
	if code, ok := cmd.checkOutput(output); !ok {
		return code
	}
	if err := opts.Validate(); err != nil {
		return cmd.usageError("invalid flags:\n%v", err)
	}
	objs, err := manifest.Read(paths, stdin)
	if err != nil {
		return cmd.fail("cannot read the manifests:\n%v", err)
	}
	report := check.Run(objs, opts)
	if err := check.Write(stdout, report, output); err != nil {
		return cmd.fail("writing the report: %v", err)
	}
	if report.Denied() {
		return 1
	}
	return 0
}
