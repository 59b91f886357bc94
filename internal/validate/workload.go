package validate

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Workload kinds the rules check.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// Workload is what the rules read of a Deployment or a StatefulSet. The server's cache keeps only these fields of
// the cluster's workloads; DeploymentWorkload and StatefulSetWorkload take them from the full objects.
type Workload struct {
	// Kind is KindDeployment or KindStatefulSet.
	Kind        string
	Namespace   string
	Name        string
	Annotations map[string]string
	// Replicas is spec.replicas; nil means 1.
	Replicas *int32
	Selector *metav1.LabelSelector
	// TemplateLabels are the labels of the pods it creates: what PDBs select.
	TemplateLabels map[string]string
	Rollout        Rollout
}

// Rollout is how a workload replaces its pods on an update.
type Rollout struct {
	// Recreate: the Deployment strategy Recreate stops every pod before starting new ones.
	Recreate bool
	// OnDelete: a StatefulSet with updateStrategy OnDelete replaces a pod only when someone deletes it.
	OnDelete bool
	// MaxUnavailable of a rolling update; nil means the kind's default (Deployment 25%, StatefulSet 1).
	MaxUnavailable *intstr.IntOrString
}

// DeploymentWorkload is the workload of a Deployment.
func DeploymentWorkload(d *appsv1.Deployment) Workload {
	w := Workload{
		Kind: KindDeployment, Namespace: d.Namespace, Name: d.Name, Annotations: d.Annotations,
		Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, TemplateLabels: d.Spec.Template.Labels,
	}
	w.Rollout.Recreate = d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		w.Rollout.MaxUnavailable = ru.MaxUnavailable
	}
	return w
}

// StatefulSetWorkload is the workload of a StatefulSet.
func StatefulSetWorkload(s *appsv1.StatefulSet) Workload {
	w := Workload{
		Kind: KindStatefulSet, Namespace: s.Namespace, Name: s.Name, Annotations: s.Annotations,
		Replicas: s.Spec.Replicas, Selector: s.Spec.Selector, TemplateLabels: s.Spec.Template.Labels,
	}
	w.Rollout.OnDelete = s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		w.Rollout.MaxUnavailable = ru.MaxUnavailable
	}
	return w
}

// String names the workload as messages do: "Deployment shop/web".
func (w Workload) String() string { return w.Kind + " " + w.namespace() + "/" + w.Name }

// namespace is the workload's namespace; a manifest read by `check` may name none.
func (w Workload) namespace() string {
	if w.Namespace == "" {
		return metav1.NamespaceDefault
	}
	return w.Namespace
}

// resource is the workload's kind as kubectl names it: deployment, statefulset.
func (w Workload) resource() string { return strings.ToLower(w.Kind) }

// same reports whether o is the same object as w (a stored version of it).
func (w Workload) same(o Workload) bool {
	return w.Kind == o.Kind && w.Name == o.Name && w.namespace() == o.namespace()
}

// scaledToZero: a workload with spec.replicas 0 has nothing to protect (an HPA does not scale it up from 0 either).
func (w Workload) scaledToZero() bool { return w.Replicas != nil && *w.Replicas == 0 }
