// Package controllers runs, in the calling process, the cert-manager controllers that the ha-webhook chart's
// tls.mode=certManager needs, built from the importable packages of github.com/cert-manager/cert-manager: the
// cert-manager binaries (cmd/controller, cmd/cainjector) are separate Go modules that the module proxy does not serve,
// so their app packages cannot be imported. What they do is redone here the same way, with their defaults:
//
//   - the controller: NewContextFactory, every enabled controller's registered constructor, the shared informer
//     factories started after all of them registered their informers, each controller's Run with 5 workers
//     (cmd/controller/app's run());
//   - the cainjector: a controller-runtime manager with cert-manager's scheme, Secrets read uncached, and
//     cainjector.RegisterAllInjectors for Mutating- and ValidatingWebhookConfigurations (cmd/cainjector/app's Run).
//
// Only the Issuer kinds the chart uses (SelfSigned, CA) are registered and only their CertificateRequest signers run.
// The caller installs cert-manager's CRDs first (cmd/cainjector polls for them; this does not).
package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	crapprover "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// The Issuer implementations register themselves with pkg/issuer's factory in init (cmd/controller imports
	// them all the same way); the issuers controller and the certificaterequests controllers find them there.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// Names are the controllers run, by the names cert-manager registers them under (its --controllers flag): the
// Issuer controller (sets Issuers Ready), the certificates controllers that turn a Certificate into a Secret and
// renew it (trigger, key-manager, request-manager, issuing, readiness, revision-manager), the approver that
// approves CertificateRequests for cert-manager.io issuers (without it nothing is signed), and the signers of the
// chart's two issuer kinds.
var Names = []string{
	issuers.ControllerName,
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	issuing.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
	crapprover.ControllerName,
	crselfsigned.CRControllerName,
	crca.CRControllerName,
}

// workers per controller: cert-manager's default (--concurrent-workers).
const workers = 5

// Options says where the API server is.
type Options struct {
	// Kubeconfig is a kubeconfig file of a user allowed to do what cert-manager's ClusterRoles allow (an admin).
	Kubeconfig string
}

// Running is the set of started controllers.
type Running struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// StartController runs what cert-manager's controller Deployment runs for the chart (Names) until ctx ends or
// Stop is called. It returns once they are constructed; they then wait for their informers to sync by themselves.
func StartController(ctx context.Context, o Options) (*Running, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &Running{cancel: cancel}
	if err := r.startController(ctx, o); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// StartCAInjector runs what cert-manager's cainjector Deployment runs, for Mutating- and
// ValidatingWebhookConfigurations, until ctx ends or Stop is called. It is separate from StartController, as the
// two are separate Deployments in a cluster: a test can stop and restart it, as a node drain does to its pod.
func StartCAInjector(ctx context.Context, o Options) (*Running, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &Running{cancel: cancel}
	if err := r.startCAInjector(ctx, o); err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// SetCAInjectorMerging sets cert-manager's CAInjectorMerging feature gate in this process, what the cainjector's
// --feature-gates=CAInjectorMerging=false does: on (the default, GA in v1.21), the cainjector appends a new CA to
// the caBundle and keeps the ones there until they expire; off, it replaces the caBundle with the new CA, as the
// cainjector did before the gate existed. The cainjector reads the gate on every injection, so it takes effect at
// once.
func SetCAInjectorMerging(on bool) error {
	return utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{"CAInjectorMerging": on})
}

// Stop ends every controller and returns the errors they exited with.
func (r *Running) Stop() error {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

func (r *Running) run(name string, f func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			r.mu.Lock()
			r.errs = append(r.errs, fmt.Errorf("%s: %w", name, err))
			r.mu.Unlock()
		}
	}()
}

// startController is cmd/controller's run(): the options are cert-manager's defaults
// (internal/apis/config/controller/v1alpha1/defaults.go) for what these controllers read.
func (r *Running) startController(ctx context.Context, o Options) error {
	opts := controllerpkg.ContextOptions{
		Kubeconfig:         o.Kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: "kube-system"},
		CertificateOptions: controllerpkg.CertificateOptions{
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	}
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("cert-manager controller context: %w", err)
	}
	known := controllerpkg.Known()
	built := map[string]controllerpkg.Interface{}
	for _, name := range Names {
		construct, ok := known[name]
		if !ok {
			return fmt.Errorf("cert-manager controller %q is not registered (known: %v)", name, sortedKeys(known))
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("constructing cert-manager controller %s: %w", name, err)
		}
		built[name] = c
	}
	// As cmd/controller does: the informer factories start after every controller asked for its informers, so
	// that one List+Watch per resource serves all of them. Every Context built by the factory shares them.
	shared, err := factory.Build()
	if err != nil {
		return err
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	for name, c := range built {
		r.run(name, func() error { return c.Run(workers, ctx) })
	}
	return nil
}

// startCAInjector is cmd/cainjector's Run with leader election, metrics and the APIService and CRD injectors off.
func (r *Running) startCAInjector(ctx context.Context, o Options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return err
	}
	cfg = util.RestConfigWithUserAgent(cfg, "cainjector")
	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmscheme.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache:  cache.Options{ReaderFailOnMissingInformer: true},
		// cainjector reads Secrets uncached and watches only their metadata (RegisterAllInjectors uses
		// builder.OnlyMetadata): without this the client would start a full Secret informer it never syncs.
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A restarted cainjector registers its controllers under the same names again in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("cainjector manager: %w", err)
	}
	if err := cainjector.RegisterAllInjectors(ctx, mgr, cainjector.SetupOptions{
		EnableCertificatesDataSource: true,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   true,
			cainjector.ValidatingWebhookConfigurationName: true,
		},
	}); err != nil {
		return fmt.Errorf("cainjector: %w", err)
	}
	r.run("cainjector", func() error { return mgr.Start(ctx) })
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
