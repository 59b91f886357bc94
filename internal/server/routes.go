package server

import (
	"github.com/go-logr/logr"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/metrics"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// webhookDeps are what the admission handlers read besides the request: the manager's cache and API reader in
// `serve`, fakes in the fuzz test.
type webhookDeps struct {
	options func() mutate.Options
	modes   admission.ModeLookup
	cluster admission.ClusterLookup
	// liveCluster confirms a denial against the API server (nil: trust the cache).
	liveCluster admission.ClusterLookup
	workloads   admission.WorkloadGetter
	metrics     *metrics.Metrics
}

// webhooks builds the handler served at each webhook path. New registers exactly these (wrapped by serveHTTP), so
// the fuzz test exercises the same HTTP entry points the API server calls.
func webhooks(cfg Config, d webhookDeps) map[string]*cradmission.Webhook {
	workloads := admission.NewWorkloadHandler(cfg.Rules, d.modes, d.cluster, d.metrics)
	workloads.Confirm = d.liveCluster
	scale := func(kind string) *admission.ScaleHandler {
		return &admission.ScaleHandler{Kind: kind, Workloads: workloads, Get: d.workloads}
	}
	writes := &admission.WriteHandler{Options: cfg.Rules, Mode: d.modes, Lookup: d.cluster, Confirm: d.liveCluster, Metrics: d.metrics}
	hooks := map[string]*cradmission.Webhook{
		names.PathMutatePod:                {Handler: admission.NewPodHandler(d.options, d.modes, d.metrics)},
		names.PathValidateDeployment:       {Handler: workloads},
		names.PathValidateScale:            {Handler: scale(validate.KindDeployment)},
		names.PathValidateStatefulSet:      {Handler: workloads},
		names.PathValidateStatefulSetScale: {Handler: scale(validate.KindStatefulSet)},
		names.PathValidatePDB:              {Handler: writes},
		names.PathValidateHPA:              {Handler: writes},
	}
	for _, h := range hooks {
		h.LogConstructor = requestLogger
	}
	return hooks
}

// requestLogger is the logger of one admission request. controller-runtime's default attaches six key/value pairs
// to every request's logger, and zap encodes them on the spot: a cost paid by every pod creation for lines that are
// written only at debug verbosity (the handlers log at V(1); errors become the answer, which the API server logs
// with the request). At -v 1 and above the request's identity is attached as controller-runtime does it; below, the
// base logger serves the rare line (a recovered panic, with its stack).
func requestLogger(base logr.Logger, req *cradmission.Request) logr.Logger {
	if base.V(1).Enabled() {
		return cradmission.DefaultLogConstructor(base, req)
	}
	return base
}
