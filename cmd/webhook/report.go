package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/server"
)

const reportUsage = `Usage: ha-webhook report [flags]

Reads a cluster and tells what a node-pool upgrade would do to its traffic right now, with the webhook's own rules
and mutation:
  - every Deployment and StatefulSet with its verdict (validated against its namespace's PodDisruptionBudgets and
    HPAs; a PDB's budget is shared by every Deployment and StatefulSet whose pods it selects),
  - pods serving traffic without ha-webhook's injections (created before it was installed, while it was down, in
    audit mode, or in a namespace not opted in) and what they lack,
  - PodDisruptionBudgets that would stall a drain now (status: 0 disruptions allowed while pods are expected),
  - PodDisruptionBudgets without unhealthyPodEvictionPolicy AlwaysAllow, as warnings (one pod that is not ready
    spends the budget and stalls drains),
  - Services whose traffic a drain would cut (one backing pod, or all of them evictable at once),
then: "an upgrade now would stall on N PDBs and cut traffic to M services".

By default it reads the namespaces labelled ha-webhook.io/enabled=true. It connects with --kubeconfig, else
$KUBECONFIG, else the in-cluster service account, else ~/.kube/config. It needs get/list on namespaces, deployments,
statefulsets, pods, poddisruptionbudgets, horizontalpodautoscalers and services.

Exit status: 0 nothing found (warnings alone), 1 something loses traffic or stalls an upgrade (a violation, a pod
without injections, a stalling PDB, a cut Service), 2 usage or connection error.

Flags:
`

// connectFunc returns a reader of the cluster and whether it supports the native preStop sleep.
type connectFunc func(kubeContext string) (client.Reader, bool, error)

func reportCommand(args []string, stdout, stderr io.Writer) int {
	return runReport(context.Background(), args, stdout, stderr, connect)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer, connect connectFunc) int {
	opts := report.DefaultOptions()
	var (
		kubeContext, output string
		timeout             = time.Minute
	)
	cmd := newCommand("report", reportUsage, stderr)
	fs := cmd.flags
	goFlags := flag.NewFlagSet("report", flag.ContinueOnError)
	ctrlconfig.RegisterFlags(goFlags) // --kubeconfig, read by ctrlconfig.GetConfigWithContext
	fs.AddGoFlagSet(goFlags)
	fs.StringVar(&kubeContext, "context", "", "kubeconfig context to use")
	fs.BoolVarP(&opts.Scope.AllNamespaces, "all-namespaces", "A", false, "report every namespace, opted in or not")
	fs.StringArrayVarP(&opts.Scope.Namespaces, "namespace", "n", nil, "report this namespace, opted in or not; repeatable")
	cmd.addOutputFlag(&output)
	fs.DurationVar(&timeout, "timeout", timeout, "give up reading the cluster after this long")
	opts.AddFlags(fs)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return cmd.usageError("unexpected argument %q", fs.Arg(0))
	}
	if opts.Scope.AllNamespaces && len(opts.Scope.Namespaces) > 0 {
		return cmd.usageError("--all-namespaces and --namespace exclude each other")
	}
	if code, ok := cmd.checkOutput(output); !ok {
		return code
	}
	if timeout <= 0 {
		return cmd.usageError("--timeout must be > 0")
	}
	if err := opts.Options.Validate(); err != nil {
		return cmd.usageError("invalid flags:\n%v", err)
	}

	reader, nativeSleep, err := connect(kubeContext)
	if err != nil {
		return cmd.fail("%v", err)
	}
	opts.Mutate.NativeSleepSupported = nativeSleep
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := report.Run(ctx, reader, opts)
	if err != nil {
		return cmd.fail("reading the cluster: %v", err)
	}
	if err := report.Write(stdout, r, output); err != nil {
		return cmd.fail("writing the report: %v", err)
	}
	if r.Problems() {
		return 1
	}
	return 0
}

// connect builds a client with controller-runtime's config loading — --kubeconfig, $KUBECONFIG, the in-cluster
// service account, ~/.kube/config, as `serve` does — and asks the server's version whether it supports the native
// preStop sleep, as --prestop-mode=auto does at start-up.
func connect(kubeContext string) (client.Reader, bool, error) {
	cfg, err := ctrlconfig.GetConfigWithContext(kubeContext)
	if err != nil {
		return nil, false, fmt.Errorf("no Kubernetes API server configuration (--kubeconfig, KUBECONFIG, in-cluster or ~/.kube/config): %w", err)
	}
	cfg.UserAgent = "ha-webhook-report"
	c, err := client.New(cfg, client.Options{Scheme: server.NewScheme()})
	if err != nil {
		return nil, false, fmt.Errorf("creating a client for %s: %w", cfg.Host, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, false, err
	}
	detector, err := server.NewNativeSleepDetector(dc, time.Hour)
	if err != nil {
		return nil, false, fmt.Errorf("reading the version of %s: %w", cfg.Host, err)
	}
	return c, detector.Supported(), nil
}
