package mutate

import (
	"context"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Recorder counts mutations; the server passes its Prometheus metrics.
type Recorder interface {
	Mutated(field string, mode names.Mode)
}

// Handler is the admission adapter around Pod: it decodes the request, applies the mode, and answers with a JSON
// patch that only adds what Pod injected.
type Handler struct {
	Decoder admission.Decoder
	Options func() Options
	Mode    names.ModeLookup
	Metrics Recorder
}

// NewHandler wires a Handler. options is called per request so that auto preStop detection can change at run time.
func NewHandler(scheme *runtime.Scheme, options func() Options, mode names.ModeLookup, metrics Recorder) *Handler {
	return &Handler{Decoder: admission.NewDecoder(scheme), Options: options, Mode: mode, Metrics: metrics}
}

// maxWarnings bounds the warnings of one response (a pod may have hundreds of containers).
const maxWarnings = 20

func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("")
	}
	if req.Kind.Kind != "Pod" || req.Kind.Group != "" || req.SubResource != "" {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("expected a Pod, got %s %s", req.Kind.String(), req.SubResource))
	}
	pod := &corev1.Pod{}
	if err := decodePod(req.Object.Raw, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}
	// Only what Pod may change is kept: the patch is computed over those fields (patch.go).
	original := viewPod(pod)
	res := Pod(pod, h.Options())
	if res.SkipReason != "" {
		return admission.Allowed("skipped: " + res.SkipReason)
	}
	// The mode is looked up only for pods the webhook acts on, so a skipped pod never fails on a cold cache.
	mode, err := h.Mode(ctx, namespace)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	for _, in := range res.Injections {
		h.Metrics.Mutated(in.Field, mode)
	}
	logf.FromContext(ctx).V(1).Info("mutated pod", "namespace", namespace, "mode", mode, "injections", len(res.Injections))

	warnings := res.Warnings
	if mode == names.ModeAudit {
		for _, in := range res.Injections {
			warnings = append(warnings, AuditWarning(in))
		}
		return admission.Allowed("audit mode: nothing patched").WithWarnings(limitWarnings(warnings)...)
	}
	if len(res.Injections) == 0 {
		return admission.Allowed("").WithWarnings(limitWarnings(warnings)...)
	}
	return patchResponse(original, pod).WithWarnings(limitWarnings(warnings)...)
}

// AuditWarning describes an injection that audit mode did not make, in at most 120 characters.
func AuditWarning(in Injection) string {
	if in.Field == FieldGracePeriod {
		return warnf("ha-webhook audit: would set %s to %v", in.Field, in.Value)
	}
	return warnf("ha-webhook audit: would inject %s into container %s", in.Field, text.Quote(in.Container))
}

func limitWarnings(w []string) []string {
	if len(w) <= maxWarnings {
		return w
	}
	return append(w[:maxWarnings-1:maxWarnings-1], fmt.Sprintf("… and %d more", len(w)-maxWarnings+1))
}
