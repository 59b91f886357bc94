package validate

import (
	"context"
	"fmt"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// ClusterLookup returns the PDBs and HPAs of a namespace.
type ClusterLookup func(ctx context.Context, namespace string) (Cluster, error)

// lookupTimeout bounds how long a request waits for the informer cache, well inside the webhook's 5 s timeout.
const lookupTimeout = 2 * time.Second

// DeploymentHandler adapts the rules to Deployment CREATE and UPDATE requests.
type DeploymentHandler struct {
	Decoder admission.Decoder
	Options Options
	Mode    names.ModeLookup
	Lookup  ClusterLookup
	// Confirm, when set, re-reads the namespace live before a denial: the cache follows the API server
	// asynchronously, and a PDB created a moment before its Deployment (as Helm and Argo CD do) may not be in it yet.
	Confirm ClusterLookup
	Metrics Recorder
}

// NewDeploymentHandler wires a DeploymentHandler.
func NewDeploymentHandler(scheme *runtime.Scheme, opts Options, mode names.ModeLookup, lookup ClusterLookup, rec Recorder) *DeploymentHandler {
	return &DeploymentHandler{Decoder: admission.NewDecoder(scheme), Options: opts, Mode: mode, Lookup: lookup, Metrics: rec}
}

func (h *DeploymentHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if req.Kind.Kind != "Deployment" || req.Kind.Group != "apps" || req.SubResource != "" {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("expected an apps Deployment, got %s %s", req.Kind.String(), req.SubResource))
	}
	d := &appsv1.Deployment{}
	if err := decodeDeployment(req.Object.Raw, d); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var old *appsv1.Deployment
	if req.Operation == admissionv1.Update {
		old = &appsv1.Deployment{}
		if err := decodeDeployment(req.OldObject.Raw, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	return h.check(ctx, req.Namespace, old, d)
}

// check evaluates d (an update from old when old is not nil) in namespace and answers.
func (h *DeploymentHandler) check(ctx context.Context, namespace string, old, d *appsv1.Deployment) admission.Response {
	if d.Namespace == "" {
		d.Namespace = namespace
	}
	mode, err := h.Mode(ctx, d.Namespace)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	lookupCtx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	cluster, err := h.Lookup(lookupCtx, d.Namespace)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	verdict := h.evaluate(old, d, cluster)
	if verdict.Denied() && mode == names.ModeEnforce && h.Confirm != nil {
		// Passing answers never wait for a live read; only a denial, which is rare, is confirmed.
		if live, err := h.Confirm(lookupCtx, d.Namespace); err == nil {
			verdict = h.evaluate(old, d, live)
		}
	}
	return respond(d, verdict, mode, h.Metrics)
}

func (h *DeploymentHandler) evaluate(old, d *appsv1.Deployment, c Cluster) Verdict {
	if old == nil {
		return Deployment(d, c, h.Options)
	}
	return Update(old, d, c, h.Options)
}
