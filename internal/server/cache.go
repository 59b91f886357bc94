package server

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// cachedObjects are the only kinds the server reads from its informer cache: never Pods.
func cachedObjects() []client.Object {
	return []client.Object{
		&policyv1.PodDisruptionBudget{}, &autoscalingv2.HorizontalPodAutoscaler{}, &corev1.Namespace{},
		&appsv1.Deployment{}, &appsv1.StatefulSet{},
	}
}

// cacheOptions strip every cached object of its managedFields, and the workloads of everything the rules do not
// read (validate.Workload): their pod template's spec, status, other annotations. A cluster's Deployments and
// StatefulSets outnumber its PDBs and are far larger; kept whole they would be most of the webhook's memory.
func cacheOptions() cache.Options {
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range cachedObjects() {
		switch o.(type) {
		case *appsv1.Deployment:
			byObject[o] = cache.ByObject{Transform: stripDeployment}
		case *appsv1.StatefulSet:
			byObject[o] = cache.ByObject{Transform: stripStatefulSet}
		default:
			byObject[o] = cache.ByObject{}
		}
	}
	return cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
}

// strippedMeta keeps what identifies a workload and what the rules read of its metadata: labels, and of its
// annotations only ha-webhook's own (kubectl's last-applied-configuration alone is the size of the object).
func strippedMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
	}
	for k, v := range m.Annotations {
		if strings.HasPrefix(k, names.Prefix) {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	return out
}

func stripDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil // a cache.DeletedFinalStateUnknown tombstone
	}
	out := &appsv1.Deployment{TypeMeta: d.TypeMeta, ObjectMeta: strippedMeta(d.ObjectMeta)}
	out.Spec.Replicas, out.Spec.Selector, out.Spec.Strategy = d.Spec.Replicas, d.Spec.Selector, d.Spec.Strategy
	out.Spec.Template.Labels = d.Spec.Template.Labels
	return out, nil
}

func stripStatefulSet(obj any) (any, error) {
	s, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return obj, nil
	}
	out := &appsv1.StatefulSet{TypeMeta: s.TypeMeta, ObjectMeta: strippedMeta(s.ObjectMeta)}
	out.Spec.Replicas, out.Spec.Selector, out.Spec.UpdateStrategy = s.Spec.Replicas, s.Spec.Selector, s.Spec.UpdateStrategy
	out.Spec.Template.Labels = s.Spec.Template.Labels
	return out, nil
}
