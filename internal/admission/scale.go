package admission

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

var scaleKind = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// WorkloadGetter reads the workload behind a scale request: kind is validate.KindDeployment or KindStatefulSet.
type WorkloadGetter func(ctx context.Context, kind, namespace, name string) (validate.Workload, error)

// ScaleHandler checks UPDATEs of deployments/scale and statefulsets/scale (kubectl scale, HPA): the same rules as an
// update of the workload's replicas, so `kubectl scale --replicas=1` cannot bypass min-replicas.
type ScaleHandler struct {
	// Kind is the kind of workload whose scale this handler is registered for: validate.KindDeployment or
	// KindStatefulSet. A request naming another resource is refused.
	Kind      string
	Workloads *WorkloadHandler
	Get       WorkloadGetter
}

func (h *ScaleHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	if req.Operation != admissionv1.Update {
		return cradmission.Allowed("")
	}
	kind := h.Kind
	if r := req.Resource.Resource; r != "" && scaledKinds[r] != kind || req.Kind.Kind != "Scale" || req.SubResource != "scale" {
		return cradmission.Errored(http.StatusBadRequest, fmt.Errorf("expected a deployments/scale request or a statefulsets/scale request, got %s %s %s",
			req.Kind.String(), req.Resource.Resource, req.SubResource))
	}
	scale, oldScale := &autoscalingv1.Scale{}, &autoscalingv1.Scale{}
	if err := decode(req.Object.Raw, scale, scaleKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	if err := decode(req.OldObject.Raw, oldScale, scaleKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	current, err := h.Get(ctx, kind, req.Namespace, req.Name)
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, fmt.Errorf("reading %s %s/%s: %w", strings.ToLower(kind), req.Namespace, req.Name, err))
	}
	old, w := current, current
	old.Replicas, w.Replicas = &oldScale.Spec.Replicas, &scale.Spec.Replicas
	return h.Workloads.check(ctx, req.Namespace, &old, w)
}

// scaledKinds are the workload kinds by the resource whose scale subresource is checked.
var scaledKinds = map[string]string{"deployments": validate.KindDeployment, "statefulsets": validate.KindStatefulSet}
