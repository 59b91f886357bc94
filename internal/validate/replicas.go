package validate

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// replicaSource says where the effective replica count came from, so a message can point at the right object.
type replicaSource struct {
	count int32
	// hpa is the autoscaler whose minReplicas is used, nil when spec.replicas is.
	hpa *autoscalingv2.HorizontalPodAutoscaler
}

// effectiveReplicas is what a drain must cope with at the low point: the HPA's minReplicas when an HPA targets the
// Deployment (the lowest it may scale to), else spec.replicas (nil means 1). Several HPAs on one Deployment fight
// each other; the lowest minimum is the one that can happen.
func effectiveReplicas(d *appsv1.Deployment, hpas []*autoscalingv2.HorizontalPodAutoscaler) replicaSource {
	var src replicaSource
	for _, h := range hpas {
		if !targets(h, d) {
			continue
		}
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		if src.hpa == nil || min < src.count {
			src = replicaSource{count: min, hpa: h}
		}
	}
	if src.hpa != nil {
		return src
	}
	if d.Spec.Replicas == nil {
		return replicaSource{count: 1}
	}
	return replicaSource{count: *d.Spec.Replicas}
}

func targets(h *autoscalingv2.HorizontalPodAutoscaler, d *appsv1.Deployment) bool {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != d.Name {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	// Old manifests still say extensions/v1beta1; the HPA controller resolves them to the same Deployment.
	return err == nil && (gv.Group == "apps" || gv.Group == "extensions")
}

// scaledToZero: a Deployment with spec.replicas 0 has nothing to protect (an HPA does not scale it up from 0 either).
func scaledToZero(d *appsv1.Deployment) bool {
	return d.Spec.Replicas != nil && *d.Spec.Replicas == 0
}
