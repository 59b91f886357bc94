package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/server"
)

const reportUsage = `Usage: ha-webhook report [flags]

Reads a cluster and tells what a node-pool upgrade would do to its traffic right now, with the webhook's own rules
and mutation:
  - every Deployment with its verdict (validated against its namespace's PodDisruptionBudgets and HPAs),
  - pods serving traffic without ha-webhook's injections (created before it was installed, while it was down, in
    audit mode, or in a namespace not opted in) and what they lack,
  - PodDisruptionBudgets that would stall a drain now (status: 0 disruptions allowed while pods are expected),
  - Services whose traffic a drain would cut (one backing pod, or all of them evictable at once),
then: "an upgrade now would stall on N PDBs and cut traffic to M services".

By default it reads the namespaces labelled ha-webhook.io/enabled=true. It connects with --kubeconfig, else
$KUBECONFIG, else the in-cluster service account, else ~/.kube/config. It needs get/list on namespaces, deployments,
pods, poddisruptionbudgets, horizontalpodautoscalers and services.

Exit status: 0 nothing found, 1 something loses traffic or stalls an upgrade, 2 usage or connection error.

Flags:
`

// connectFunc returns a reader of the cluster and whether it supports the native preStop sleep.
type connectFunc func(kubeconfig, kubeContext string) (client.Reader, bool, error)

func reportCommand(args []string, stdout, stderr io.Writer) int {
	return runReport(context.Background(), args, stdout, stderr, connect)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer, connect connectFunc) int {
	opts := report.DefaultOptions()
	var (
		kubeconfig, kubeContext string
		output                  = report.OutputText
		timeout                 = time.Minute
	)
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVar(&kubeContext, "context", "", "kubeconfig context to use")
	fs.BoolVarP(&opts.Scope.AllNamespaces, "all-namespaces", "A", false, "report every namespace, opted in or not")
	fs.StringArrayVarP(&opts.Scope.Namespaces, "namespace", "n", nil, "report this namespace, opted in or not; repeatable")
	fs.StringVarP(&output, "output", "o", output, "output format: text or json")
	fs.DurationVar(&timeout, "timeout", timeout, "give up reading the cluster after this long")
	fs.Var(newModeValue(&opts.Mode), "mode", "the webhook's global --mode; a namespace's ha-webhook.io/mode label overrides it")
	addMutateFlags(fs, &opts.Mutate)
	addRuleFlags(fs, &opts.Rules)

	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ha-webhook report: "+format+"\nRun \"ha-webhook report --help\" for usage.\n", a...)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if opts.Scope.AllNamespaces && len(opts.Scope.Namespaces) > 0 {
		return usageError("--all-namespaces and --namespace exclude each other")
	}
	if output != report.OutputText && output != report.OutputJSON {
		return usageError("--output must be %s or %s, got %q", report.OutputText, report.OutputJSON, output)
	}
	if timeout <= 0 {
		return usageError("--timeout must be > 0")
	}
	if err := errors.Join(opts.Mutate.Validate(), opts.Rules.Validate()); err != nil {
		return usageError("invalid flags:\n%v", err)
	}

	reader, nativeSleep, err := connect(kubeconfig, kubeContext)
	if err != nil {
		fmt.Fprintf(stderr, "ha-webhook report: %v\n", err)
		return 2
	}
	opts.Mutate.NativeSleepSupported = nativeSleep
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := report.Run(ctx, reader, opts)
	if err != nil {
		fmt.Fprintf(stderr, "ha-webhook report: reading the cluster: %v\n", err)
		return 2
	}
	if err := report.Write(stdout, r, output); err != nil {
		fmt.Fprintf(stderr, "ha-webhook report: writing the report: %v\n", err)
		return 2
	}
	if r.Problems() {
		return 1
	}
	return 0
}

// connect builds a client from --kubeconfig, $KUBECONFIG, the in-cluster service account or ~/.kube/config (in
// that order, as `serve` does), and asks the server's version whether it supports the native preStop sleep, as
// --prestop-mode=auto does at start-up.
func connect(kubeconfig, kubeContext string) (client.Reader, bool, error) {
	cfg, err := restConfig(kubeconfig, kubeContext)
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

func restConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" && kubeContext == "" && os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
}
