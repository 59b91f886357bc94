package server

import (
	"context"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/metrics"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// webhookDeps are what the admission handlers read besides the request: the manager's cache and API reader in
// `serve`, fakes in the fuzz test.
type webhookDeps struct {
	options func() mutate.Options
	modes   names.ModeLookup
	cluster validate.ClusterLookup
	// liveCluster confirms a denial against the API server (nil: trust the cache).
	liveCluster validate.ClusterLookup
	deployments validate.DeploymentGetter
	metrics     *metrics.Metrics
}

// webhooks builds the handler served at each webhook path. New registers exactly these (wrapped by serveHTTP), so
// the fuzz test exercises the same HTTP entry points the API server calls. Every answer is bounded (bounds.go).
func webhooks(scheme *runtime.Scheme, cfg Config, d webhookDeps) map[string]*admission.Webhook {
	deployments := validate.NewDeploymentHandler(scheme, cfg.Rules, d.modes, d.cluster, d.metrics)
	deployments.Confirm = d.liveCluster
	return map[string]*admission.Webhook{
		names.PathMutatePod:          {Handler: boundedHandler{mutate.NewHandler(scheme, d.options, d.modes, d.metrics)}},
		names.PathValidateDeployment: {Handler: boundedHandler{deployments}},
		names.PathValidateScale:      {Handler: boundedHandler{&validate.ScaleHandler{Deployments: deployments, Get: d.deployments}}},
	}
}

// closeWhenStopping asks HTTP/1.1 clients to close their keep-alive connection after the current response once
// shutdown has begun. The API server reaches a webhook through a Service, and kube-proxy pins each connection to
// the pod it was opened to: removing the pod from the endpoints moves new connections only. Answering the requests
// that still arrive on pinned connections with "Connection: close" makes the client re-dial, through the Service, to
// a ready replica — a clean hand-over, instead of the race of an idle connection closed by the drain while the
// client is writing a request on it.
func closeWhenStopping(stopping func() bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && stopping() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// serveHTTP is the HTTP handler registered for one webhook: the admission.Webhook behind the envelope check, the
// Content-Type bound, server errors as HTTP errors, a request context the drain does not cancel, and the shutdown
// hand-over.
func serveHTTP(stopping func() bool, hook *admission.Webhook) http.Handler {
	return closeWhenStopping(stopping, detachFromDrain(checkEnvelope(boundContentType(serverErrorsAsHTTP(hook)))))
}

// maxRequestTimeout is the longest timeoutSeconds a webhook configuration may set.
const maxRequestTimeout = 30 * time.Second

// detachFromDrain gives each request a context that the drain does not cancel. controller-runtime's webhook server
// derives every request's context from its own run context, which is cancelled the moment the drain begins: a
// request still in flight then would fail its live reads (a deployments/scale check reads the Deployment) with
// "context canceled", although the drain exists to let it finish. The request is bounded instead by the timeout the
// API server sends with every webhook call (?timeout=5s), or by the longest allowed one; the drain itself is
// bounded by --graceful-shutdown-timeout.
func detachFromDrain(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), requestTimeout(r))
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestTimeout is the API server's ?timeout= for this call, within (0, maxRequestTimeout].
func requestTimeout(r *http.Request) time.Duration {
	if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 && d <= maxRequestTimeout {
		return d
	}
	return maxRequestTimeout
}
