package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

var scaleKind = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// DeploymentGetter reads the Deployment behind a scale request.
type DeploymentGetter func(ctx context.Context, namespace, name string) (*appsv1.Deployment, error)

// ScaleHandler checks UPDATEs of deployments/scale (kubectl scale, HPA): the same rules as an update of the
// Deployment's replicas, so `kubectl scale --replicas=1` cannot bypass min-replicas.
type ScaleHandler struct {
	Deployments *DeploymentHandler
	Get         DeploymentGetter
}

func (h *ScaleHandler) Handle(ctx context.Context, req cradmission.Request) cradmission.Response {
	if req.Operation != admissionv1.Update {
		return cradmission.Allowed("")
	}
	if req.Kind.Kind != "Scale" || req.SubResource != "scale" {
		return cradmission.Errored(http.StatusBadRequest, fmt.Errorf("expected a deployments/scale request, got %s %s", req.Kind.String(), req.SubResource))
	}
	scale, oldScale := &autoscalingv1.Scale{}, &autoscalingv1.Scale{}
	if err := decode(req.Object.Raw, scale, scaleKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	if err := decode(req.OldObject.Raw, oldScale, scaleKind); err != nil {
		return cradmission.Errored(http.StatusBadRequest, err)
	}
	current, err := h.Get(ctx, req.Namespace, req.Name)
	if err == nil && current == nil {
		err = errors.New("not found")
	}
	if err != nil {
		return cradmission.Errored(http.StatusServiceUnavailable, fmt.Errorf("reading deployment %s/%s: %w", req.Namespace, req.Name, err))
	}
	old, d := current.DeepCopy(), current.DeepCopy()
	old.Spec.Replicas = &oldScale.Spec.Replicas
	d.Spec.Replicas = &scale.Spec.Replicas
	return h.Deployments.check(ctx, req.Namespace, old, d)
}
