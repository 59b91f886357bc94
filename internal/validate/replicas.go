package validate

import (
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
// workload (the lowest it may scale to), else spec.replicas (nil means 1); 0 for a workload scaled to zero. Several
// HPAs on one workload fight each other; the lowest minimum is the one that can happen.
func effectiveReplicas(w Workload, hpas []*autoscalingv2.HorizontalPodAutoscaler) replicaSource {
	if w.scaledToZero() {
		return replicaSource{}
	}
	var src replicaSource
	for _, h := range hpas {
		if !targets(h, w) {
			continue
		}
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		// The lowest minimum wins; between equal ones, the first name, so that messages do not depend on list order.
		if src.hpa == nil || min < src.count || min == src.count && h.Name < src.hpa.Name {
			src = replicaSource{count: min, hpa: h}
		}
	}
	if src.hpa != nil {
		return src
	}
	if w.Replicas == nil {
		return replicaSource{count: 1}
	}
	return replicaSource{count: *w.Replicas}
}

// targets reports whether the HPA scales w, as the HPA controller resolves its scaleTargetRef.
func targets(h *autoscalingv2.HorizontalPodAutoscaler, w Workload) bool {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != w.Kind || ref.Name != w.Name {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	// Old manifests still say extensions/v1beta1 for a Deployment; the HPA controller resolves them to the same one.
	return err == nil && (gv.Group == "apps" || gv.Group == "extensions" && w.Kind == KindDeployment)
}
