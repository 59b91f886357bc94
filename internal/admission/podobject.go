package admission

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podObject is the part of a Pod that the pod path reads: what mutate.Pod reads and may change, and the namespace.
// The request's pod is decoded into it, so the decoder walks past everything else — env, volumes, resources,
// affinity, status — without allocating any of it: decoding a whole corev1.Pod was the largest part of the webhook's
// own work per pod creation (three times the time and allocations of this one, for a realistic pod; more for a
// large one). The fields it does read are decoded and type-checked exactly as before; the API server sends webhooks
// the pod it decoded and defaulted, so nothing skipped here can be malformed. TestPodObjectKeepsWhatMutateReads
// (and its fuzz target) hold mutate.Pod's results on it equal to those on the whole pod; a field mutate.Pod starts
// reading belongs here.
type podObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        struct {
		Name         string            `json:"name,omitempty"`
		GenerateName string            `json:"generateName,omitempty"`
		Namespace    string            `json:"namespace,omitempty"`
		Annotations  map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		RestartPolicy                 corev1.RestartPolicy `json:"restartPolicy,omitempty"`
		TerminationGracePeriodSeconds *int64               `json:"terminationGracePeriodSeconds,omitempty"`
		Containers                    []podObjectContainer `json:"containers"`
	} `json:"spec"`
}

type podObjectContainer struct {
	Name           string                 `json:"name"`
	Ports          []corev1.ContainerPort `json:"ports,omitempty"`
	ReadinessProbe *corev1.Probe          `json:"readinessProbe,omitempty"`
	Lifecycle      *corev1.Lifecycle      `json:"lifecycle,omitempty"`
}

// pod is the decoded part as a corev1.Pod, for the pure functions; it shares o's maps and pointers.
func (o *podObject) pod() *corev1.Pod {
	pod := &corev1.Pod{TypeMeta: o.TypeMeta}
	pod.Name, pod.GenerateName, pod.Namespace = o.Metadata.Name, o.Metadata.GenerateName, o.Metadata.Namespace
	pod.Annotations = o.Metadata.Annotations
	pod.Spec.RestartPolicy = o.Spec.RestartPolicy
	pod.Spec.TerminationGracePeriodSeconds = o.Spec.TerminationGracePeriodSeconds
	if o.Spec.Containers != nil {
		pod.Spec.Containers = make([]corev1.Container, len(o.Spec.Containers))
	}
	for i, c := range o.Spec.Containers {
		pod.Spec.Containers[i] = corev1.Container{Name: c.Name, Ports: c.Ports, ReadinessProbe: c.ReadinessProbe, Lifecycle: c.Lifecycle}
	}
	return pod
}
