package admission

import (
	"encoding/json"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// ownedView is the part of a Pod that mutate.Pod may change, laid out at the same JSON paths as in the Pod: annotations,
// the grace period, and each container's readiness probe and lifecycle (containers keep their indices).
type ownedView struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds *int64               `json:"terminationGracePeriodSeconds,omitempty"`
		Containers                    []ownedContainerView `json:"containers"`
	} `json:"spec"`
}

type ownedContainerView struct {
	ReadinessProbe *corev1.Probe     `json:"readinessProbe,omitempty"`
	Lifecycle      *corev1.Lifecycle `json:"lifecycle,omitempty"`
}

func ownedViewOf(pod *corev1.Pod) ownedView {
	var v ownedView
	v.Metadata.Annotations = pod.Annotations
	v.Spec.TerminationGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
	v.Spec.Containers = make([]ownedContainerView, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		v.Spec.Containers[i] = ownedContainerView{ReadinessProbe: c.ReadinessProbe, Lifecycle: c.Lifecycle}
	}
	return v
}

// patchResponse answers with the JSON patch from original to mutated, computed by controller-runtime's
// PatchResponseFromRaw (gomodules.xyz/jsonpatch) over the owned views of both. The paths are those of the whole Pod,
// so the patch applies to the request's object; diffing views instead of whole pods spares serialising and parsing
// everything the webhook never touches (a 64 KB pod's env, volumes, …), and by construction no operation can reach a
// field the webhook does not own, including fields unknown to this build's k8s.io/api.
func patchResponse(original, mutated *corev1.Pod) cradmission.Response {
	before, err := json.Marshal(ownedViewOf(original))
	if err != nil {
		return cradmission.Errored(http.StatusInternalServerError, err)
	}
	after, err := json.Marshal(ownedViewOf(mutated))
	if err != nil {
		return cradmission.Errored(http.StatusInternalServerError, err)
	}
	return cradmission.PatchResponseFromRaw(before, after)
}

// ownedCopy copies the fields mutate.Pod may change into an otherwise empty Pod, so the handler keeps the "before"
// side of the patch without deep-copying the whole object.
func ownedCopy(pod *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{}
	if pod.Annotations != nil {
		out.Annotations = make(map[string]string, len(pod.Annotations))
		for k, v := range pod.Annotations {
			out.Annotations[k] = v
		}
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g := *pod.Spec.TerminationGracePeriodSeconds
		out.Spec.TerminationGracePeriodSeconds = &g
	}
	out.Spec.Containers = make([]corev1.Container, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		if c.ReadinessProbe != nil {
			out.Spec.Containers[i].ReadinessProbe = c.ReadinessProbe.DeepCopy()
		}
		if c.Lifecycle != nil {
			out.Spec.Containers[i].Lifecycle = c.Lifecycle.DeepCopy()
		}
	}
	return out
}
