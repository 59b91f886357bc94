package main

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// The workloads of the fill: one per PDB and HPA, as a Helm chart or kubectl apply leaves them in a real cluster.
// They carry what ha-webhook's cache transform strips (the pod template's spec, kubectl's
// last-applied-configuration, other annotations, managedFields), so that the memory measurement sees what the
// stripping saves.

// annotationLastApplied is what `kubectl apply` (client-side) writes: the whole manifest as JSON.
const annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// fieldManagerApply is the field manager of client-side `kubectl apply`, for the fill's creates.
const fieldManagerApply = "kubectl-client-side-apply"

// filledKind is the kind of the i-th workload of a filled namespace: every fifth a StatefulSet, the others
// Deployments. The workload validate_10k admits is always a Deployment.
func filledKind(i, perNamespace int) string {
	if i%5 == 4 && i != perNamespace/2 {
		return validate.KindStatefulSet
	}
	return validate.KindDeployment
}

// workloadLabels are the metadata labels of a chart's workload.
func workloadLabels(app string) map[string]string {
	return map[string]string{
		"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/instance": "shop",
		"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/version": "1.4.2", "helm.sh/chart": "shop-" + app + "-1.4.2",
	}
}

// workloadPodSpec is podSpec as a chart fills it: more configuration in env, probes, a security context, spreading.
func workloadPodSpec(app string) corev1.PodSpec {
	s := podSpec()
	c := &s.Containers[0]
	c.Image = fmt.Sprintf("registry.example/shop/%s:1.4.2", app)
	for _, kv := range [][2]string{
		{"CACHE_URL", "redis://redis-master.shop.svc.cluster.local:6379/0"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability.svc.cluster.local:4317"},
		{"OTEL_SERVICE_NAME", app},
		{"FEATURE_FLAGS", "checkout-v2,recommendations,async-inventory"},
		{"HTTP_READ_TIMEOUT", "15s"},
		{"HTTP_WRITE_TIMEOUT", "15s"},
		{"GOMEMLIMIT", "460MiB"},
	} {
		c.Env = append(c.Env, corev1.EnvVar{Name: kv[0], Value: kv[1]})
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "DATABASE_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: app + "-db"}, Key: "password"}}})
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
		PeriodSeconds: 5, FailureThreshold: 3}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
		InitialDelaySeconds: 10, PeriodSeconds: 10, FailureThreshold: 6}
	c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	s.ServiceAccountName = app
	s.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](10001), FSGroup: ptr.To[int64](10001),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
		WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
	s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
		Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}}}}
	return s
}

// workloadTemplate is the pod template of the fill's workload app.
func workloadTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podTemplateLabels(app), Annotations: map[string]string{
			"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
			"checksum/config": "5f2b9c1e7a4d3086b1e9f0c2a7d4e6b8c3f1a09d2e7b4c6a8f0e1d3c5b7a9e2f"}},
		Spec: workloadPodSpec(app),
	}
}

// filledDeployment is the fill's Deployment app: 3 replicas (its HPA's floor is 2), rolling update.
func filledDeployment(namespace, app string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: workloadLabels(app)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit: ptr.To[int32](5),
			Template:             workloadTemplate(app),
		},
	}
	setLastApplied(&d.ObjectMeta, d)
	return d
}

// filledStatefulSet is the fill's StatefulSet app: 3 replicas behind a headless Service, a volume per pod.
func filledStatefulSet(namespace, app string) *appsv1.StatefulSet {
	t := workloadTemplate(app)
	t.Spec.Volumes = nil
	t.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/" + app}}
	s := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: workloadLabels(app)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To[int32](3),
			ServiceName:         app + "-headless",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			Template:            t,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To("standard-rwo"),
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}},
				},
			}},
		},
	}
	setLastApplied(&s.ObjectMeta, s)
	return s
}

// setLastApplied records obj as client-side `kubectl apply` does: the manifest as JSON, without status and
// server-set fields, in the last-applied-configuration annotation.
func setLastApplied(meta *metav1.ObjectMeta, obj any) {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		md["annotations"] = map[string]any{}
	}
	raw, err = json.Marshal(m)
	if err != nil {
		panic(err)
	}
	meta.Annotations = map[string]string{annotationLastApplied: string(raw)}
}

// pdbUpdated is what validate_pdb_10k writes over pdbFor: the fix ha-webhook's advisory suggests
// (unhealthyPodEvictionPolicy AlwaysAllow) and a label, the budget unchanged.
func pdbUpdated(namespace, app string) *policyv1.PodDisruptionBudget {
	p := pdbFor(namespace, app)
	p.Labels["team"] = "shop"
	p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	return p
}
