package admission

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

var (
	pdbKind = policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget")
	hpaKind = autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler")
)

// WriteHandler adapts validate.PDBWrite and validate.HPAWrite to CREATE, UPDATE and DELETE requests of
// PodDisruptionBudgets and CREATE and UPDATE requests of HorizontalPodAutoscalers: a write that gives a workload of
// the namespace a violation it did not have is denied in enforce mode and warned in audit mode.
//
// Two writes are never denied. A PDB DELETE (namespace deletion, helm uninstall and Argo CD prune must never hang on
// the webhook) is answered with a warning per workload that loses its protection, whatever fails. A PDB CREATE
// whose only new violation is pdb-multiple is warned: Helm and Argo CD rename a PDB by creating the new one before
// pruning the old.
type WriteHandler struct {
	Options validate.Options
	Mode    ModeLookup
	Lookup  ClusterLookup
	// Confirm re-reads the namespace live before a denial, as WorkloadHandler does.
	Confirm ClusterLookup
	Metrics ViolationRecorder
}

// write is a decoded PDB or HPA request: judge computes its impacts on a cluster.
type write struct {
	object string // "PodDisruptionBudget shop/web"
	op     admissionv1.Operation
	judge  func(validate.Cluster) []validate.Impact
	// advisories are the warning-only findings of the written object itself.
	advisories []validate.Violation
}

func (h *WriteHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	wr, err := h.decode(req)
	if err != nil {
		if req.Operation == admissionv1.Delete {
			return cradmission.Allowed("").WithWarnings(text.Warnf("ha-webhook: the deleted object was not checked: %v", err))
		}
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	if wr == nil {
		return cradmission.Allowed("")
	}
	resp := h.check(ctx, req.Namespace, wr)
	if wr.op == admissionv1.Delete && (!resp.Allowed || resp.Result != nil && resp.Result.Code >= 500) {
		// Never deny or fail a DELETE, not even on a lookup error.
		msg := "ha-webhook: the deletion was not checked"
		if resp.Result != nil {
			msg += ": " + resp.Result.Message
		}
		return cradmission.Allowed("").WithWarnings(text.Truncate(msg, text.MaxWarningLength))
	}
	return resp
}

// decode reads the request's objects; nil means an operation this handler lets pass.
func (h *WriteHandler) decode(req cradmission.Request) (*write, error) {
	if req.SubResource != "" {
		return nil, fmt.Errorf("expected a PodDisruptionBudget or HorizontalPodAutoscaler, got %s %s", req.Kind.String(), req.SubResource)
	}
	object := func(name string) string { return fmt.Sprintf("%s %s/%s", req.Kind.Kind, req.Namespace, name) }
	switch {
	case req.Kind.Group == pdbKind.Group && req.Kind.Kind == pdbKind.Kind:
		var old, pdb *policyv1.PodDisruptionBudget
		if err := decodeOptional(req, &old, &pdb, pdbKind); err != nil {
			return nil, err
		}
		wr := &write{op: req.Operation, judge: func(c validate.Cluster) []validate.Impact { return validate.PDBWrite(old, pdb, c, h.Options) }}
		if pdb != nil {
			wr.object, wr.advisories = object(pdb.Name), validate.PDBAdvisories(withNamespace(pdb, req.Namespace))
		} else {
			wr.object = object(old.Name)
		}
		return wr, nil
	case req.Kind.Group == hpaKind.Group && req.Kind.Kind == hpaKind.Kind:
		if req.Operation == admissionv1.Delete {
			return nil, nil
		}
		var old, hpa *autoscalingv2.HorizontalPodAutoscaler
		if err := decodeOptional(req, &old, &hpa, hpaKind); err != nil {
			return nil, err
		}
		return &write{object: object(hpa.Name), op: req.Operation,
			judge: func(c validate.Cluster) []validate.Impact { return validate.HPAWrite(old, hpa, c, h.Options) }}, nil
	}
	return nil, fmt.Errorf("expected a policy PodDisruptionBudget or an autoscaling HorizontalPodAutoscaler, got %s", req.Kind.String())
}

// decodeOptional decodes the request's object into *obj (not on a DELETE) and its old object into *old (not on a
// CREATE).
func decodeOptional[T any, P interface {
	*T
	runtime.Object
}](req cradmission.Request, old, obj *P, want schema.GroupVersionKind) error {
	if req.Operation != admissionv1.Delete {
		o := P(new(T))
		if err := decode(req.Object.Raw, o, want); err != nil {
			return err
		}
		*obj = o
	}
	if req.Operation != admissionv1.Create {
		o := P(new(T))
		if err := decode(req.OldObject.Raw, o, want); err != nil {
			return fmt.Errorf("the old object: %w", err)
		}
		*old = o
	}
	return nil
}

// withNamespace is p in namespace when it names none, for the fixes its messages print.
func withNamespace(p *policyv1.PodDisruptionBudget, namespace string) *policyv1.PodDisruptionBudget {
	if p.Namespace != "" {
		return p
	}
	p = p.DeepCopy()
	p.Namespace = namespace
	return p
}

func (h *WriteHandler) check(ctx context.Context, namespace string, wr *write) cradmission.Response {
	mode, err := h.Mode(ctx, namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	lookupCtx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	cluster, err := h.Lookup(lookupCtx, namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	impacts := wr.judge(cluster)
	if denies(wr.op, impacts) && mode == policy.ModeEnforce && h.Confirm != nil {
		// As for workloads: only a denial waits for a live read.
		if live, err := h.Confirm(lookupCtx, namespace); err == nil {
			impacts = wr.judge(live)
		}
	}
	return h.respond(wr, impacts, mode)
}

// denies reports whether impacts deny a write in enforce mode.
func denies(op admissionv1.Operation, impacts []validate.Impact) bool {
	rules := validate.AddedRules(impacts)
	switch {
	case len(rules) == 0, op == admissionv1.Delete:
		return false
	case op == admissionv1.Create && slices.Equal(rules, []string{validate.RulePDBMultiple}):
		return false
	}
	return true
}

func (h *WriteHandler) respond(wr *write, impacts []validate.Impact, mode policy.Mode) cradmission.Response {
	rules := validate.AddedRules(impacts)
	for _, im := range impacts {
		for _, v := range im.Added {
			h.Metrics.Violation(v.Rule, mode)
		}
	}
	annotations := map[string]string{"mode": string(mode)}
	if len(rules) > 0 {
		annotations["violations"] = strings.Join(rules, ",")
	}
	var resp cradmission.Response
	if denies(wr.op, impacts) && mode == policy.ModeEnforce {
		resp = cradmission.Denied(validate.WriteMessage(wr.object, impacts))
	} else {
		prefix := "ha-webhook: "
		if mode == policy.ModeAudit {
			prefix = "ha-webhook audit: "
		}
		var warnings []string
		for _, im := range impacts {
			warnings = append(warnings, im.Warnings(prefix)...)
		}
		resp = cradmission.Allowed("").WithWarnings(warnings...)
	}
	for _, v := range wr.advisories {
		resp.Warnings = append(resp.Warnings, v.Warning("ha-webhook: "))
	}
	resp.AuditAnnotations = annotations
	return resp
}
