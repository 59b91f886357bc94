package main

import (
	"flag"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/internal/server"
)

// serveFlags binds every `serve` setting to a flag; the Helm chart maps its values onto these names.
func serveFlags(cfg *server.Config, zapOpts *zap.Options, fs *pflag.FlagSet) {
	cfg.AddFlags(fs)
	goFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(goFlags)
	ctrlconfig.RegisterFlags(goFlags) // --kubeconfig; in a cluster the service account is used
	fs.AddGoFlagSet(goFlags)
}

func serveCommand(args []string, stderr io.Writer) int {
	cfg := server.DefaultConfig()
	zapOpts := zap.Options{}
	cmd := newCommand("serve", "Usage: ha-webhook serve [flags]\n\nRuns the admission webhook server.\n\nFlags:\n", stderr)
	serveFlags(&cfg, &zapOpts, cmd.flags)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	if cmd.flags.NArg() > 0 {
		return cmd.usageError("unexpected arguments %q", cmd.flags.Args())
	}
	if err := cfg.Validate(); err != nil {
		return cmd.usageError("invalid flags:\n%v", err)
	}
	// The heap of `serve` is mostly its informer cache, live for the life of the process; at Go's default GOGC=100
	// the heap grows to twice that before a collection, which at 10,000 PDBs, HPAs and workloads is 60 MB of
	// resident memory holding nothing. 50 caps it at 1.5 times the live heap, for a few milliseconds of marking per
	// collection. GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("serve")
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return cmd.fail("no Kubernetes API server configuration (in-cluster, --kubeconfig or KUBECONFIG): %v", err)
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
