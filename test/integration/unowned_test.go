package integration

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// richPod sets many fields the webhook does not own, some in non-canonical forms (1000m, 0.5Gi) that a careless
// round trip would rewrite.
func richPod(ns string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "rich", Namespace: ns,
			Labels:      map[string]string{"app": "rich", "tier": "web"},
			Annotations: map[string]string{"example.com/owner": "team-a", names.AnnotationReadinessPath: "/healthz"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "registry.example/migrate:1"}},
			Containers: []corev1.Container{
				{
					Name: "app", Image: "registry.example/web:1.0",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
					Env:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000m"), corev1.ResourceMemory: resource.MustParse("0.5Gi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
					},
					LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/live", Port: intstr.FromString("http")}}},
					Lifecycle:     &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/warm"}}}},
					SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true),
						Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}},
				},
				{Name: "sidecar", Image: "registry.example/proxy:2", Ports: []corev1.ContainerPort{{ContainerPort: 15001, Protocol: corev1.ProtocolUDP}}},
			},
			Volumes:     []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("500Mi"))}}}},
			Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rich"}}}}}}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rich"}}}},
			HostAliases:                   []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"db.local"}}},
			DNSConfig:                     &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}}},
			TerminationGracePeriodSeconds: ptr.To[int64](20),
			PriorityClassName:             "",
		},
	}
}

// TestMutationTouchesOnlyOwnedFields stores the same rich pod in an opted-in and in a plain namespace and compares
// what the API server kept: apart from the fields the webhook owns, the two must be identical.
func TestMutationTouchesOnlyOwnedFields(t *testing.T) {
	mutated := stored(t, env.Client, richPod(namespace(t, optedIn())))
	plain := stored(t, env.Client, richPod(namespace(t, nil)))

	app := mutated.Spec.Containers[0]
	if app.ReadinessProbe == nil || app.ReadinessProbe.HTTPGet == nil || app.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("want an httpGet /healthz readiness probe, got %+v", app.ReadinessProbe)
	}
	if app.Lifecycle.PreStop == nil || app.Lifecycle.PreStop.Sleep == nil || app.Lifecycle.PostStart == nil {
		t.Errorf("want the preStop sleep added next to the existing postStart, got %+v", app.Lifecycle)
	}
	if g := ptr.Deref(mutated.Spec.TerminationGracePeriodSeconds, 0); g != 35 {
		t.Errorf("grace = %d, want 20 + 15", g)
	}

	// Remove what the webhook owns; the rest must be the same as the untouched pod.
	app.ReadinessProbe, app.Lifecycle.PreStop = nil, nil
	mutated.Spec.Containers[0] = app
	mutated.Spec.TerminationGracePeriodSeconds = plain.Spec.TerminationGracePeriodSeconds
	delete(mutated.Annotations, names.AnnotationInjected)
	ignore := []cmp.Option{
		cmp.FilterPath(func(p cmp.Path) bool {
			switch p.Last().String() {
			case ".Namespace", ".UID", ".ResourceVersion", ".CreationTimestamp", ".ManagedFields":
				return true
			}
			return false
		}, cmp.Ignore()),
	}
	if diff := cmp.Diff(plain, mutated, ignore...); diff != "" {
		t.Errorf("the webhook changed fields it does not own (-untouched +mutated):\n%s", diff)
	}
}
