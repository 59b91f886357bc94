package admission

import (
	"context"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

var deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// DeploymentHandler adapts the rules to Deployment CREATE and UPDATE requests.
type DeploymentHandler struct {
	Options validate.Options
	Mode    ModeLookup
	Lookup  ClusterLookup
	// Confirm, when set, re-reads the namespace live before a denial: the cache follows the API server
	// asynchronously, and a PDB created a moment before its Deployment (as Helm and Argo CD do) may not be in it yet.
	Confirm ClusterLookup
	Metrics ViolationRecorder
}

// NewDeploymentHandler wires a DeploymentHandler.
func NewDeploymentHandler(opts validate.Options, mode ModeLookup, lookup ClusterLookup, rec ViolationRecorder) *DeploymentHandler {
	return &DeploymentHandler{Options: opts, Mode: mode, Lookup: lookup, Metrics: rec}
}

func (h *DeploymentHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return cradmission.Allowed("")
	}
	d := &appsv1.Deployment{}
	if err := decodeRequest(req, d, deploymentKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	var old *appsv1.Deployment
	if req.Operation == admissionv1.Update {
		old = &appsv1.Deployment{}
		if err := decode(req.OldObject.Raw, old, deploymentKind); err != nil {
			return cradmission.Errored(http.StatusBadRequest, err)
		}
	}
	return h.check(ctx, req.Namespace, old, d)
}

// check evaluates d (an update from old when old is not nil) in namespace and answers.
func (h *DeploymentHandler) check(ctx context.Context, namespace string, old, d *appsv1.Deployment) cradmission.Response {
	if d.Namespace == "" {
		d.Namespace = namespace
	}
	mode, err := h.Mode(ctx, d.Namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	lookupCtx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	cluster, err := h.Lookup(lookupCtx, d.Namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	verdict := h.evaluate(old, d, cluster)
	if verdict.Denied() && mode == policy.ModeEnforce && h.Confirm != nil {
		// Passing answers never wait for a live read; only a denial, which is rare, is confirmed.
		if live, err := h.Confirm(lookupCtx, d.Namespace); err == nil {
			verdict = h.evaluate(old, d, live)
		}
	}
	return respond(d, verdict, mode, h.Metrics)
}

func (h *DeploymentHandler) evaluate(old, d *appsv1.Deployment, c validate.Cluster) validate.Verdict {
	if old == nil {
		return validate.Deployment(d, c, h.Options)
	}
	return validate.Update(old, d, c, h.Options)
}
