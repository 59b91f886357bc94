// Package server assembles `ha-webhook serve`: a controller-runtime manager with the webhook server, the informer
// cache the rules read, health and metrics endpoints, and graceful shutdown. Integration tests start the same code.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/audit"
	"github.com/ha-webhook/ha-webhook/internal/metrics"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
)

// Server is a configured, not yet started `ha-webhook serve`.
type Server struct {
	cfg      Config
	mgr      manager.Manager
	stopping atomic.Bool
	// auditor is nil when the audit is off.
	auditor *audit.Auditor
	hooks   *webhookServer
}

// LatestAudit is the last completed audit, or nil (before the first, or with the audit off).
func (s *Server) LatestAudit() *audit.Result {
	if s.auditor == nil {
		return nil
	}
	return s.auditor.Latest()
}

// NewScheme registers the built-in types the webhooks decode.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // only on a programming error in the built-in scheme
	}
	return s
}

// New builds the manager, registers the webhooks and health checks. Nothing listens until Run.
func New(restCfg *rest.Config, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ws := newWebhookServer(webhookOptions(cfg), cfg.ClientIdleTimeout, cfg.GracefulShutdownTimeout)
	mgr, err := newManager(restCfg, cfg, ws)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	s := &Server{cfg: cfg, mgr: mgr, hooks: ws}
	m, err := metrics.New(crmetrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	options, err := mutateOptions(restCfg, cfg, mgr)
	if err != nil {
		return nil, err
	}
	// A scale request carries only replicas; the workload behind it is read live, as scales are rare next to pod
	// creations and the cache may lag the workload's own last write.
	apiReader := mgr.GetAPIReader()
	hooks := webhooks(cfg, webhookDeps{
		options:     options,
		modes:       admission.NamespaceModes(mgr.GetCache(), apiReader, cfg.Mode),
		cluster:     admission.CachedCluster{Reader: mgr.GetCache()}.Cluster,
		liveCluster: admission.CachedCluster{Reader: apiReader}.Cluster,
		workloads:   admission.CachedCluster{Reader: apiReader}.Workload,
		metrics:     m,
	})
	srv := mgr.GetWebhookServer()
	limit := limitInFlight(cfg.MaxInFlight, cfg.MaxInFlightWait, m.Shed)
	for _, path := range slices.Sorted(maps.Keys(hooks)) {
		srv.Register(path, limit(serveHTTP(s.stopping.Load, hooks[path])))
	}
	if err := s.addHealthChecks(); err != nil {
		return nil, err
	}
	if err := s.addAudit(restCfg); err != nil {
		return nil, err
	}
	if err := metrics.Replace(crmetrics.Registry, metrics.NewCertificateExpiry(filepath.Join(cfg.CertDir, cfg.CertName))); err != nil {
		return nil, fmt.Errorf("registering the certificate metric: %w", err)
	}
	return s, nil
}

// addAudit adds the audit that every replica runs over its cache, its gauges, and the writer of its Events and
// PolicyReports.
func (s *Server) addAudit(restCfg *rest.Config) error {
	cfg, mgr := s.cfg, s.mgr
	if cfg.AuditInterval == 0 {
		return nil
	}
	log := mgr.GetLogger().WithName("audit")
	auditor := audit.New(audit.Config{
		Options:  report.Options{Options: cfg.Options},
		Interval: cfg.AuditInterval,
		Debounce: cfg.AuditDebounce,
		Watch:    cachedObjects(),
	}, mgr.GetCache(), log)
	if err := mgr.Add(auditor); err != nil {
		return err
	}
	s.auditor = auditor
	if err := metrics.Replace(crmetrics.Registry, audit.NewCollector(auditor.Latest)); err != nil {
		return fmt.Errorf("registering the audit metrics: %w", err)
	}
	if !cfg.AuditEvents && !cfg.PolicyReports {
		return nil
	}
	wcfg := audit.WriterConfig{Events: cfg.AuditEvents, PolicyReports: cfg.PolicyReports, RestConfig: restCfg}
	if cfg.LeaderElect {
		wcfg.Election = &audit.Election{Namespace: cfg.LeaderElectionNamespace, Name: cfg.LeaderElectionID}
	}
	return mgr.Add(audit.NewWriter(wcfg, auditor, mgr.GetClient(), mgr.GetEventRecorder(names.EventsController), log))
}

// webhookOptions: TLS >= 1.2 and, unless enabled, no HTTP/2.
func webhookOptions(cfg Config) webhook.Options {
	tlsOpts := []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }}
	if !cfg.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	return webhook.Options{Host: cfg.WebhookHost, Port: cfg.WebhookPort, CertDir: cfg.CertDir, CertName: cfg.CertName,
		KeyName: cfg.KeyName, TLSOpts: tlsOpts}
}

// newManager configures the manager: the informer cache of the kinds the rules read, stripped; the webhook server;
// metrics and health endpoints.
func newManager(restCfg *rest.Config, cfg Config, hooks webhook.Server) (manager.Manager, error) {
	return manager.New(restCfg, manager.Options{
		Scheme:                 NewScheme(),
		Cache:                  cacheOptions(),
		WebhookServer:          hooks,
		Metrics:                metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress: cfg.HealthAddr,
		PprofBindAddress:       cfg.PprofAddr,
		// The manager's own shutdown runs after the delay in Run; this bounds the drain that follows.
		GracefulShutdownTimeout: ptr.To(cfg.GracefulShutdownTimeout),
		LeaderElection:          false, // every replica serves; there is nothing to elect
	})
}

// mutateOptions returns the mutation options per request: with --prestop-mode=auto, native sleep support follows
// the API server's version, re-read by a NativeSleepDetector the manager runs.
func mutateOptions(restCfg *rest.Config, cfg Config, mgr manager.Manager) (func() mutate.Options, error) {
	if cfg.Mutate.PreStopMode != mutate.PreStopAuto {
		return func() mutate.Options { return cfg.Mutate }, nil
	}
	dc, err := discovery.NewDiscoveryClientForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	detector, err := NewNativeSleepDetector(dc, cfg.NativeSleepRecheck)
	if err != nil {
		return nil, fmt.Errorf("detecting native preStop sleep support: %w", err)
	}
	if err := mgr.Add(detector); err != nil {
		return nil, err
	}
	return func() mutate.Options {
		o := cfg.Mutate
		o.NativeSleepSupported = detector.Supported()
		return o
	}, nil
}

// addHealthChecks: /healthz pings; /readyz passes once the webhook server serves and the caches have synced, and
// fails as soon as shutdown begins.
func (s *Server) addHealthChecks() error {
	if err := s.mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := s.mgr.AddReadyzCheck("webhook", s.mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	if err := s.mgr.AddReadyzCheck("caches", s.cachesSynced); err != nil {
		return err
	}
	return s.mgr.AddReadyzCheck("shutdown", func(*http.Request) error {
		if s.stopping.Load() {
			return errors.New("shutting down")
		}
		return nil
	})
}

// cachesSynced is ready once every cached kind has an informer that has synced.
func (s *Server) cachesSynced(req *http.Request) error {
	ctx, cancel := context.WithTimeout(req.Context(), time.Second)
	defer cancel()
	for _, o := range cachedObjects() {
		inf, err := s.mgr.GetCache().GetInformer(ctx, o, cache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		if !inf.HasSynced() {
			return fmt.Errorf("cache of %T not synced", o)
		}
	}
	return nil
}

// startupGCPercent is the garbage collector's target while the caches fill (unless GOGC is set in the environment).
// The initial lists decode every object whole before the transforms strip it: at 10,000 pods, gigabytes of garbage
// interleaved with the few kilobytes per object that the cache keeps. Collected late (at serve's GOGC=50), the
// survivors end up spread over pages that are otherwise free but cannot be returned; collected early, the next
// objects reuse the garbage's memory and the survivors stay packed. Measured at 2,000 pods: 85 MiB per 10,000 pods
// at 50, 62 at 10, for about a second more until ready.
const startupGCPercent = 10

// releaseStartupMemory collects tightly while the caches fill, then hands the pages of that burst — and of the first
// audit's, which reads everything once — back to the OS, so that the resident size is what the cache holds.
func (s *Server) releaseStartupMemory(ctx context.Context) {
	if os.Getenv("GOGC") == "" {
		prev := debug.SetGCPercent(startupGCPercent)
		defer debug.SetGCPercent(prev)
	}
	if !s.mgr.GetCache().WaitForCacheSync(ctx) {
		return
	}
	if s.auditor != nil {
		select {
		case <-s.auditor.First():
		case <-ctx.Done():
			return
		}
	}
	debug.FreeOSMemory()
}

// Run serves until ctx ends, then shuts down gracefully: readiness turns false at once, the server keeps serving for
// ShutdownDelay (endpoints and the API server's connection pool move to other replicas), then in-flight requests
// drain within GracefulShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	log := logf.FromContext(ctx)
	mgrCtx, stopManager := context.WithCancel(context.WithoutCancel(ctx))
	defer stopManager()

	// Start informers up front so the cache syncs before the first request, not on it.
	go func() {
		for _, o := range cachedObjects() {
			if _, err := s.mgr.GetCache().GetInformer(mgrCtx, o, cache.BlockUntilSynced(false)); err != nil {
				log.Error(err, "starting informer", "kind", fmt.Sprintf("%T", o))
			}
		}
		s.releaseStartupMemory(mgrCtx)
	}()

	done := make(chan error, 1)
	go func() { done <- s.mgr.Start(mgrCtx) }()

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	stop := time.Now()
	log.Info("shutdown requested: readiness is now false; still serving", "delay", s.cfg.ShutdownDelay,
		"then until clients have closed their connections, at most", s.cfg.ClientIdleTimeout+clientIdleMargin)
	select {
	case err := <-done:
		return err
	case <-time.After(s.cfg.ShutdownDelay):
	}
	// Each answer now asks its client to close the connection; a connection that carries no request is closed by
	// the client once idle for its ClientIdleTimeout. Closing it here instead would race a request written on it.
	// --client-idle-timeout=0 closes them at once.
	for deadline := stop.Add(s.cfg.ClientIdleTimeout + clientIdleMargin); s.cfg.ClientIdleTimeout > 0 && s.hooks.openConns() > 0 && time.Now().Before(deadline); {
		select {
		case err := <-done:
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
	log.Info("stopping", "open connections", s.hooks.openConns(), "after", time.Since(stop).Round(time.Millisecond))
	stopManager()
	return <-done
}

// clientIdleMargin is how much longer than the clients' idle timeout the server waits for them to close.
const clientIdleMargin = 5 * time.Second
