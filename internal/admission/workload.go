package admission

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

var (
	deploymentKind  = appsv1.SchemeGroupVersion.WithKind(validate.KindDeployment)
	statefulSetKind = appsv1.SchemeGroupVersion.WithKind(validate.KindStatefulSet)
)

// WorkloadHandler adapts the rules to CREATE and UPDATE requests of Deployments and StatefulSets.
type WorkloadHandler struct {
	Options validate.Options
	Mode    ModeLookup
	Lookup  ClusterLookup
	// Confirm, when set, re-reads the namespace live before a denial: the cache follows the API server
	// asynchronously, and a PDB created a moment before its workload (as Helm and Argo CD do) may not be in it yet.
	Confirm ClusterLookup
	Metrics ViolationRecorder
}

// NewWorkloadHandler wires a WorkloadHandler.
func NewWorkloadHandler(opts validate.Options, mode ModeLookup, lookup ClusterLookup, rec ViolationRecorder) *WorkloadHandler {
	return &WorkloadHandler{Options: opts, Mode: mode, Lookup: lookup, Metrics: rec}
}

func (h *WorkloadHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return cradmission.Allowed("")
	}
	w, err := decodeWorkload(req, req.Object.Raw)
	if err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	var old *validate.Workload
	if req.Operation == admissionv1.Update {
		o, err := decodeWorkload(req, req.OldObject.Raw)
		if err != nil {
			return cradmission.Errored(http.StatusBadRequest, err)
		}
		old = &o
	}
	return h.check(ctx, req.Namespace, old, w)
}

// decodeWorkload decodes raw, the object or old object of a Deployment or StatefulSet request, into its workload.
func decodeWorkload(req cradmission.Request, raw []byte) (validate.Workload, error) {
	want := deploymentKind
	if req.Kind.Kind == validate.KindStatefulSet {
		want = statefulSetKind
	}
	if req.Kind.Kind != want.Kind || req.Kind.Group != want.Group || req.SubResource != "" {
		return validate.Workload{}, fmt.Errorf("expected an apps Deployment or StatefulSet, got %s %s", req.Kind.String(), req.SubResource)
	}
	if want == statefulSetKind {
		s := &appsv1.StatefulSet{}
		err := decode(raw, s, want)
		return validate.StatefulSetWorkload(s), err
	}
	d := &appsv1.Deployment{}
	err := decode(raw, d, want)
	return validate.DeploymentWorkload(d), err
}

// check evaluates w (an update from old when old is not nil) in namespace and answers.
func (h *WorkloadHandler) check(ctx context.Context, namespace string, old *validate.Workload, w validate.Workload) cradmission.Response {
	if w.Namespace == "" {
		w.Namespace = namespace
	}
	mode, err := h.Mode(ctx, w.Namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	lookupCtx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	cluster, err := h.Lookup(lookupCtx, w.Namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	verdict := h.evaluate(old, w, cluster)
	if verdict.Denied() && mode == policy.ModeEnforce && h.Confirm != nil {
		// Passing answers never wait for a live read; only a denial, which is rare, is confirmed.
		if live, err := h.Confirm(lookupCtx, w.Namespace); err == nil {
			cluster, verdict = live, h.evaluate(old, w, live)
		}
	}
	resp := respond(w, verdict, mode, h.Metrics)
	// The workloads that share a PDB with w share its budget: a write of w that makes one of them worse is told,
	// never denied (scaling a canary down must not need its neighbours' owners).
	if neighbours := validate.WorkloadWrite(old, w, cluster, h.Options); len(neighbours) > 0 {
		for _, im := range neighbours {
			resp.Warnings = append(resp.Warnings, im.Warnings("ha-webhook: a shared PDB: ")...)
		}
		resp.AuditAnnotations["neighbour-violations"] = strings.Join(validate.AddedRules(neighbours), ",")
	}
	return resp
}

func (h *WorkloadHandler) evaluate(old *validate.Workload, w validate.Workload, c validate.Cluster) validate.Verdict {
	if old == nil {
		return validate.Check(w, c, h.Options)
	}
	return validate.Update(*old, w, c, h.Options)
}
