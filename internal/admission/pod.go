package admission

import (
	"context"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

var podKind = corev1.SchemeGroupVersion.WithKind("Pod")

// PodHandler adapts mutate.Pod to Pod CREATE requests: it applies the namespace's mode and answers with a JSON
// patch that only adds what mutate.Pod injected.
type PodHandler struct {
	// Options is called per request so that --prestop-mode=auto can follow the API server's version at run time.
	Options func() mutate.Options
	Mode    ModeLookup
	Metrics MutationRecorder
}

// NewPodHandler wires a PodHandler.
func NewPodHandler(options func() mutate.Options, mode ModeLookup, metrics MutationRecorder) *PodHandler {
	return &PodHandler{Options: options, Mode: mode, Metrics: metrics}
}

func (h *PodHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	if req.Operation != admissionv1.Create {
		return cradmission.Allowed("")
	}
	var obj podObject
	if err := decodeRequest(req, &obj, podKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	pod := obj.pod()
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}
	// Only what mutate.Pod may change is kept: the patch is written over those fields (patch.go).
	before := snapshotOwned(pod)
	res := mutate.Pod(pod, h.Options())
	if res.SkipReason != "" {
		return cradmission.Allowed("skipped: " + res.SkipReason)
	}
	// The mode is looked up only for pods the webhook acts on, so a skipped pod never fails on a cold cache.
	mode, err := h.Mode(ctx, namespace)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, err)
	}
	for _, in := range res.Injections {
		h.Metrics.Mutated(in.Field, mode)
	}
	if log := logf.FromContext(ctx).V(1); log.Enabled() {
		log.Info("mutated pod", "namespace", namespace, "mode", mode, "injections", len(res.Injections))
	}

	warnings := res.Warnings
	if mode == policy.ModeAudit {
		for _, in := range res.Injections {
			warnings = append(warnings, AuditWarning(in))
		}
		return cradmission.Allowed("audit mode: nothing patched").WithWarnings(warnings...)
	}
	if len(res.Injections) == 0 {
		return cradmission.Allowed("").WithWarnings(warnings...)
	}
	return patchResponse(before, pod).WithWarnings(warnings...)
}

// AuditWarning describes an injection that audit mode did not make, in at most text.MaxWarningLength characters.
func AuditWarning(in mutate.Injection) string {
	if in.Field == mutate.FieldGracePeriod {
		return text.Warnf("ha-webhook audit: would set %s to %v", in.Field, in.Value)
	}
	return text.Warnf("ha-webhook audit: would inject %s into container %s", in.Field, text.Quote(in.Container))
}
