package integration

import (
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/manifest"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// podsOf returns a pod for every pod template and pod in objs, named after its owner.
func podsOf(objs []manifest.Object) map[string]*corev1.Pod {
	out := map[string]*corev1.Pod{}
	add := func(kind string, meta metav1.ObjectMeta, tpl corev1.PodTemplateSpec) {
		out[kind+"/"+meta.Name] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: strings.ToLower(kind) + "-" + meta.Name, Labels: tpl.Labels, Annotations: tpl.Annotations},
			Spec:       tpl.Spec,
		}
	}
	for _, o := range objs {
		switch v := o.Object.(type) {
		case *appsv1.Deployment:
			add("Deployment", v.ObjectMeta, v.Spec.Template)
		case *appsv1.StatefulSet:
			add("StatefulSet", v.ObjectMeta, v.Spec.Template)
		case *appsv1.DaemonSet:
			add("DaemonSet", v.ObjectMeta, v.Spec.Template)
		case *appsv1.ReplicaSet:
			add("ReplicaSet", v.ObjectMeta, v.Spec.Template)
		case *batchv1.Job:
			add("Job", v.ObjectMeta, v.Spec.Template)
		case *corev1.Pod:
			add("Pod", v.ObjectMeta, corev1.PodTemplateSpec{ObjectMeta: v.ObjectMeta, Spec: v.Spec})
		}
	}
	return out
}

// TestEveryExamplePodIsValidAfterMutation creates, for real, every pod of examples/ in an opted-in namespace: the
// API server's own validation accepts what the webhook made of it (e.g. the sleep stays below the grace period).
func TestEveryExamplePodIsValidAfterMutation(t *testing.T) {
	objs, err := manifest.Read([]string{filepath.Join(testenv.RepoRoot(), "examples")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pods := podsOf(objs)
	if len(pods) < 8 {
		t.Fatalf("found only %d pods in examples/; the test reads the wrong directory?", len(pods))
	}
	ns := namespace(t, optedIn())
	for name, pod := range pods {
		t.Run(name, func(t *testing.T) {
			pod.Namespace = ns
			got := stored(t, env.Client, pod)
			grace := ptr.Deref(got.Spec.TerminationGracePeriodSeconds, 0)
			serving := false
			for _, c := range got.Spec.Containers {
				for _, p := range c.Ports {
					serving = serving || p.Protocol == corev1.ProtocolTCP
				}
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil &&
					c.Lifecycle.PreStop.Sleep.Seconds >= grace {
					t.Errorf("container %s: sleep %d not below grace %d", c.Name, c.Lifecycle.PreStop.Sleep.Seconds, grace)
				}
			}
			injected := got.Annotations[names.AnnotationInjected] != ""
			leftAlone := got.Spec.RestartPolicy != corev1.RestartPolicyAlways || pod.Annotations[names.AnnotationSkipMutation] == "true"
			if serving && !leftAlone && !injected {
				t.Errorf("a serving pod was not mutated: %+v", got.Spec.Containers)
			}
			if leftAlone && injected {
				t.Errorf("a pod the webhook must leave alone was mutated: %s", got.Annotations[names.AnnotationInjected])
			}
			for _, c := range got.Spec.InitContainers {
				if c.ReadinessProbe != nil || c.Lifecycle != nil {
					t.Errorf("init container %s was touched", c.Name)
				}
			}
		})
	}
}
