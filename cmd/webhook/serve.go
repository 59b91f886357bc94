package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
)

// serveFlags binds every `serve` setting to a flag; the Helm chart maps its values onto these names.
func serveFlags(cfg *server.Config, zapOpts *zap.Options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.Var(newModeValue(&cfg.Mode), "mode", "enforce (deny violations) or audit (warn only); a namespace's ha-webhook.io/mode label overrides it")
	addMutateFlags(fs, &cfg.Mutate)
	addRuleFlags(fs, &cfg.Rules)
	fs.StringVar(&cfg.WebhookHost, "webhook-host", cfg.WebhookHost, "address the webhook server listens on (empty: all)")
	fs.IntVar(&cfg.WebhookPort, "webhook-port", cfg.WebhookPort, "port of the HTTPS webhook server")
	fs.StringVar(&cfg.CertDir, "webhook-cert-path", cfg.CertDir, "directory holding the serving certificate and key (reloaded when they change)")
	fs.StringVar(&cfg.CertName, "webhook-cert-name", cfg.CertName, "file name of the serving certificate in --webhook-cert-path")
	fs.StringVar(&cfg.KeyName, "webhook-key-name", cfg.KeyName, "file name of the serving key in --webhook-cert-path")
	fs.BoolVar(&cfg.EnableHTTP2, "enable-http2", cfg.EnableHTTP2, "serve HTTP/2 (off by default: rapid-reset attacks)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-bind-address", cfg.MetricsAddr, "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&cfg.HealthAddr, "health-probe-bind-address", cfg.HealthAddr, "address of /healthz and /readyz")
	fs.DurationVar(&cfg.ShutdownDelay, "shutdown-delay", cfg.ShutdownDelay, "after SIGTERM, keep serving this long with readiness false (each answer asks the client to close its connection) before draining; must exceed the time the pod takes to leave the Service's endpoints")
	fs.DurationVar(&cfg.GracefulShutdownTimeout, "graceful-shutdown-timeout", cfg.GracefulShutdownTimeout, "after --shutdown-delay, how long in-flight requests may take to drain")
	fs.DurationVar(&cfg.NativeSleepRecheck, "native-sleep-recheck-interval", cfg.NativeSleepRecheck, "how often --prestop-mode=auto re-reads the API server version")
	goFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(goFlags)
	ctrlconfig.RegisterFlags(goFlags) // --kubeconfig; in a cluster the service account is used
	fs.AddGoFlagSet(goFlags)
	return fs
}

func serveCommand(args []string, stderr io.Writer) int {
	cfg := server.DefaultConfig()
	zapOpts := zap.Options{}
	fs := serveFlags(&cfg, &zapOpts)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ha-webhook serve: %v\nRun \"ha-webhook serve --help\" for the flags.\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ha-webhook serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "ha-webhook serve: invalid flags:\n%v\n", err)
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("serve")

	restCfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(stderr, "ha-webhook serve: no Kubernetes API server configuration (in-cluster, --kubeconfig or KUBECONFIG): %v\n", err)
		return 2
	}
	srv, err := server.New(restCfg, cfg)
	if err != nil {
		log.Error(err, "starting")
		return 1
	}
	// SIGTERM or SIGINT starts the graceful shutdown; a second one exits at once.
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), log)
	log.Info("serving", "version", versionString(), "mode", cfg.Mode, "port", cfg.WebhookPort, "prestopMode", cfg.Mutate.PreStopMode)
	if err := srv.Run(ctx); err != nil {
		log.Error(err, "server stopped")
		return 1
	}
	return 0
}

// addMutateFlags binds the mutation options; `check` shares them so both apply the same settings.
func addMutateFlags(fs *pflag.FlagSet, o *mutate.Options) {
	fs.Int64Var(&o.PreStopSleepSeconds, "prestop-sleep", o.PreStopSleepSeconds, "seconds of the injected preStop sleep (a pod may override it with ha-webhook.io/prestop-sleep-seconds)")
	fs.Int64Var(&o.MaxPreStopSleepSeconds, "max-prestop-sleep", o.MaxPreStopSleepSeconds, "upper bound of a pod's preStop sleep override; must be below --max-termination-grace-period")
	fs.Int64Var(&o.MaxTerminationGracePeriodSeconds, "max-termination-grace-period", o.MaxTerminationGracePeriodSeconds, "cap, in seconds, of the raised terminationGracePeriodSeconds")
	fs.Var(newPreStopModeValue(&o.PreStopMode), "prestop-mode", "auto (native sleep when the API server supports it), sleep (native lifecycle.preStop.sleep) or exec (runs 'sleep N', needs a sleep binary in the image)")
	fs.Int32Var(&o.Readiness.PeriodSeconds, "readiness-period-seconds", o.Readiness.PeriodSeconds, "periodSeconds of an injected readiness probe")
	fs.Int32Var(&o.Readiness.TimeoutSeconds, "readiness-timeout-seconds", o.Readiness.TimeoutSeconds, "timeoutSeconds of an injected readiness probe")
	fs.Int32Var(&o.Readiness.FailureThreshold, "readiness-failure-threshold", o.Readiness.FailureThreshold, "failureThreshold of an injected readiness probe")
	fs.Int32Var(&o.Readiness.SuccessThreshold, "readiness-success-threshold", o.Readiness.SuccessThreshold, "successThreshold of an injected readiness probe")
}

type modeValue struct{ m *names.Mode }

func newModeValue(m *names.Mode) *modeValue { return &modeValue{m} }
func (v *modeValue) String() string         { return string(*v.m) }
func (v *modeValue) Type() string           { return "enforce|audit" }
func (v *modeValue) Set(s string) error {
	m, err := names.ParseMode(s)
	if err == nil {
		*v.m = m
	}
	return err
}

type preStopModeValue struct{ m *mutate.PreStopMode }

func newPreStopModeValue(m *mutate.PreStopMode) *preStopModeValue { return &preStopModeValue{m} }
func (v *preStopModeValue) String() string                        { return string(*v.m) }
func (v *preStopModeValue) Type() string                          { return "auto|sleep|exec" }
func (v *preStopModeValue) Set(s string) error {
	m, err := mutate.ParsePreStopMode(s)
	if err == nil {
		*v.m = m
	}
	return err
}
