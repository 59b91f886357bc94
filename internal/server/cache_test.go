package server

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
)

// realPod is a pod as large as a real one: env, volumes, resources, probes, status.
func realPod(name, app string, probe, preStop bool, annotations map[string]string) corev1.Pod {
	c := corev1.Container{
		Name: "app", Image: "registry.example/" + app + ":1.2.3", Command: []string{"/app", "--serve"},
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 9090, Protocol: corev1.ProtocolUDP}},
		Env:          []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
	}
	if probe {
		c.ReadinessProbe = fixture.HTTPProbe("/ready", intstr.FromString("http"))
	}
	if preStop {
		c.Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/bin/drain", "--wait")}
	}
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "shop", UID: "uid-" + "name", ResourceVersion: "42",
			Labels:      map[string]string{"app": app, "pod-template-hash": "abc"},
			Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "now"},
			OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "ConfigMap", Name: "not-the-controller"},
				{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-abc", Controller: ptr.To(true)},
			},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-1", RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptr.To[int64](45),
			Containers: []corev1.Container{c, {Name: "sidecar", Image: "proxy:1"}},
			Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for k, v := range annotations {
		p.Annotations[k] = v
	}
	return p
}

// TestStrippedCacheReportsTheSame: the audit reads the informer cache, whose Pods, Services, Deployments,
// StatefulSets and HPAs the transforms strip; on stripped objects the report must be the one on whole objects.
func TestStrippedCacheReportsTheSame(t *testing.T) {
	web := fixture.Deployment("web", fixture.Replicas(2))
	lonely := fixture.Deployment("lonely", fixture.Replicas(1))
	lonely.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	sts := fixture.StatefulSet("db", fixture.Replicas(3))
	in := report.Input{
		Namespaces:   []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{names.LabelEnabled: "true"}}}},
		Deployments:  []appsv1.Deployment{*web, *lonely},
		StatefulSets: []appsv1.StatefulSet{*sts},
		PDBs:         []policyv1.PodDisruptionBudget{*fixture.MaxUnavailable("web", "1")},
		HPAs:         []autoscalingv2.HorizontalPodAutoscaler{*fixture.WebHPA(fixture.Replicas(1))},
		Pods: []corev1.Pod{
			realPod("web-1", "web", true, true, nil),
			realPod("web-2", "web", false, false, nil),
			realPod("web-3", "web", true, false, map[string]string{names.AnnotationInjected: "preStop"}),
			realPod("lonely-1", "lonely", false, true, map[string]string{names.AnnotationPreStopSleepSeconds: "30"}),
			realPod("mirror", "lonely", false, false, map[string]string{names.AnnotationMirrorPod: "x"}),
			realPod("skipped", "lonely", false, false, map[string]string{names.AnnotationSkipMutation: "true"}),
		},
		Services: []corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Name: "lonely", Namespace: "shop", Annotations: map[string]string{"a": "b"}},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: map[string]string{"app": "lonely"},
					Ports: []corev1.ServicePort{{Port: 80}}, ClusterIP: "10.1.1.1"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "shop"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", Selector: map[string]string{"app": "web"}}},
		},
	}
	in.Pods[1].Spec.RestartPolicy = ""
	in.PDBs[0].Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}
	in.PDBs[0].Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2,
		DisruptedPods: map[string]metav1.Time{"web-1": metav1.Now()}}
	st := &stripper{}
	stripped := report.Input{Namespaces: in.Namespaces}
	for _, p := range in.PDBs {
		stripped.PDBs = append(stripped.PDBs, *mustStrip(t, st.pdb, &p))
	}
	for _, d := range in.Deployments {
		stripped.Deployments = append(stripped.Deployments, *mustStrip(t, st.deployment, &d))
	}
	for _, s := range in.StatefulSets {
		stripped.StatefulSets = append(stripped.StatefulSets, *mustStrip(t, st.statefulSet, &s))
	}
	for _, h := range in.HPAs {
		stripped.HPAs = append(stripped.HPAs, *mustStrip(t, stripHPA, &h))
	}
	for _, p := range in.Pods {
		stripped.Pods = append(stripped.Pods, *mustStrip(t, st.pod, &p))
	}
	for _, s := range in.Services {
		stripped.Services = append(stripped.Services, *mustStrip(t, st.service, &s))
	}
	r := report.Build(in, report.DefaultOptions())
	whole, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cached, err := json.MarshalIndent(report.Build(stripped, report.DefaultOptions()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(whole), string(cached)); d != "" {
		t.Errorf("report on stripped objects differs (-whole +stripped):\n%s", d)
	}
	if len(r.UninjectedPods) == 0 || len(r.CutServices) == 0 || len(r.StallingPDBs) == 0 || r.Summary.WorkloadsWithViolations == 0 {
		t.Errorf("the fixture should exercise every finding: %s", r.Summary.Text)
	}
}

func mustStrip[T any](t *testing.T, strip func(any) (any, error), obj *T) *T {
	t.Helper()
	out, err := strip(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*T)
}

// TestLabelInterner: pods with the same labels share one map, others get their own, and past the bound the
// interner starts over without touching the maps it handed out.
func TestLabelInterner(t *testing.T) {
	var l labelInterner
	a := l.intern(map[string]string{"app": "web", "pod-template-hash": "abc"})
	b := l.intern(map[string]string{"pod-template-hash": "abc", "app": "web"})
	c := l.intern(map[string]string{"app": "web", "pod-template-hash": "xyz"})
	d := l.intern(map[string]string{"app": "web"})
	if fmt.Sprintf("%p", a) != fmt.Sprintf("%p", b) {
		t.Errorf("equal label sets got two maps")
	}
	if fmt.Sprintf("%p", a) == fmt.Sprintf("%p", c) || fmt.Sprintf("%p", a) == fmt.Sprintf("%p", d) {
		t.Errorf("different label sets share a map")
	}
	if d := cmp.Diff(map[string]string{"app": "web", "pod-template-hash": "xyz"}, c); d != "" {
		t.Errorf("interned labels (-want +got):\n%s", d)
	}
	if got := l.intern(nil); got != nil {
		t.Errorf("no labels interned as %v", got)
	}
	for i := range maxInternedLabels + 10 {
		l.intern(map[string]string{"i": fmt.Sprint(i)})
	}
	if n := len(l.maps); n > maxInternedLabels {
		t.Errorf("the interner holds %d label sets, bound %d", n, maxInternedLabels)
	}
	if d := cmp.Diff(map[string]string{"app": "web", "pod-template-hash": "abc"}, a); d != "" {
		t.Errorf("a map handed out changed after the reset (-want +got):\n%s", d)
	}
}
