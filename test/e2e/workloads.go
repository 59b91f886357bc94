package e2e

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// appLabels select one app's pods: the workload's selector and its Service's.
func appLabels(a App) map[string]string { return map[string]string{"app": a.Name} }

// podLabels are the labels of an app's pods: its own, the fleet's (the runtime and the report find pods by it) and,
// for an app sharing a PDB, the label that PDB selects.
func podLabels(a App) map[string]string {
	l := map[string]string{"app": a.Name, fleetLabel: "true"}
	if a.SharedPDB != "" {
		l[partOfLabel] = a.SharedPDB
	}
	return l
}

func service(a App) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace, Labels: map[string]string{fleetLabel: "true"}},
		Spec: corev1.ServiceSpec{
			Selector: appLabels(a),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

// pdb is the PodDisruptionBudget of an opted-in app: maxUnavailable 1 over its pods, or over the pods of every app
// sharing it (selected by app.kubernetes.io/part-of). unhealthyPodEvictionPolicy AlwaysAllow, as ha-webhook advises
// (pdb-unhealthy-eviction): a pod that is not ready does not spend the budget, so it cannot stall a drain.
func pdb(a App) *policyv1.PodDisruptionBudget {
	selector := appLabels(a)
	if a.SharedPDB != "" {
		selector = map[string]string{partOfLabel: a.SharedPDB}
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: a.PDB(), Namespace: a.Namespace},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             ptr.To(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: selector},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

// podTemplate is a plain web pod, as a team would write it: one container serving HTTP on a named port, no
// readiness probe, no preStop hook, the default grace period. The opted-in ones carry the prestop-sleep annotation
// that keeps the drill short; everything else comes from the webhook. The finalizer lets the drill's runtime hold a
// deleted pod until its simulated process has exited.
func podTemplate(a App, pool string, o FleetOptions) corev1.PodTemplateSpec {
	annotations := map[string]string{}
	if a.Group == groupOptedIn {
		annotations[names.AnnotationPreStopSleepSeconds] = strconv.Itoa(o.PreStopSleepSeconds)
	}
	var affinity *corev1.Affinity
	if a.Colocated {
		affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: appLabels(a)}}}},
		}}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels(a), Annotations: annotations, Finalizers: []string{processFinalizer}},
		Spec: corev1.PodSpec{
			NodeSelector:                 map[string]string{poolLabel: pool},
			Affinity:                     affinity,
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "registry.example/" + a.Name + ":1.0",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}},
		},
	}
}

func objectMeta(a App) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace}
	if a.SharedPDB != "" {
		m.Labels = map[string]string{partOfLabel: a.SharedPDB}
	}
	return m
}

func deployment(a App, pool string, o FleetOptions) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(a),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(a.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: appLabels(a)},
			Template: podTemplate(a, pool, o),
		},
	}
}

// statefulSet is a StatefulSet as a team would write it, with the controller's defaults: pods created and replaced
// in order (OrderedReady), rolling updates one pod at a time. Its pods have stable names (sessions-0, sessions-1…):
// when a drain evicts one, the StatefulSet controller recreates a pod of the same name, with a new UID, once the
// old one is gone. serviceName names the app's Service (the drill needs no per-pod DNS, so no headless Service).
func statefulSet(a App, pool string, o FleetOptions) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: objectMeta(a),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(a.Replicas),
			ServiceName: a.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: appLabels(a)},
			Template:    podTemplate(a, pool, o),
		},
	}
}

// workloadSteady reports whether the app's workload has all its replicas updated, ready and available.
func workloadSteady(ctx context.Context, c kubernetes.Interface, a App) (bool, error) {
	if a.Kind == validate.KindStatefulSet {
		s, err := c.AppsV1().StatefulSets(a.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return statefulSetSteady(s), nil
	}
	d, err := c.AppsV1().Deployments(a.Namespace).Get(ctx, a.Name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return deploymentSteady(d), nil
}

func deploymentSteady(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.Replicas == want && s.UpdatedReplicas == want &&
		s.ReadyReplicas == want && s.AvailableReplicas == want
}

func statefulSetSteady(st *appsv1.StatefulSet) bool {
	want := ptr.Deref(st.Spec.Replicas, 1)
	s := st.Status
	return s.ObservedGeneration >= st.Generation && s.Replicas == want && s.UpdatedReplicas == want &&
		s.ReadyReplicas == want && s.AvailableReplicas == want && s.CurrentRevision == s.UpdateRevision
}
