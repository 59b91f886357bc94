// The race detector adds allocations of its own: the allocation gates are built without it, so that they never skip
// (CI runs them without -race; make unit, with -race, leaves them out).

//go:build !race

package mutate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// realisticPod is a typical Deployment pod: an app container serving HTTP and metrics, a log shipper without
// ports, a few annotations, and an httpGet readiness override.
func realisticPod() *corev1.Pod {
	app := fixture.Container("app", fixture.TCPPort("http", 8080), fixture.TCPPort("metrics", 9102))
	app.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")}
	app.Env = []corev1.EnvVar{{Name: "PORT", Value: "8080"}, {Name: "LOG_LEVEL", Value: "info"}}
	pod := fixture.NewPod(app, fixture.Container("log-shipper"))
	pod.Annotations = map[string]string{
		"prometheus.io/scrape":              "true",
		"prometheus.io/port":                "9102",
		names.AnnotationReadinessPath:       "/healthz",
		names.AnnotationPreStopSleepSeconds: "20",
	}
	return pod
}

// TestPodAllocations is a regression gate: Pod runs for every pod creation in opted-in namespaces. The budget is
// the figure measured when the gate was written plus a small margin; raise it only with a reason.
func TestPodAllocations(t *testing.T) {
	const budget = 16 // measured 14 (Go 1.26, k8s.io/api v0.37.2)
	opts := testOptions()
	const runs = 200
	pods := make([]*corev1.Pod, runs+1) // AllocsPerRun makes one warm-up call
	for i := range pods {
		pods[i] = realisticPod()
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		Pod(pods[i], opts)
		i++
	})
	t.Logf("mutate.Pod: %.0f allocations per call", allocs)
	if allocs > budget {
		t.Errorf("mutate.Pod made %.0f allocations per call, budget %d", allocs, budget)
	}
	if i != runs+1 || pods[runs].Spec.Containers[0].Lifecycle == nil || pods[runs].Annotations[names.AnnotationInjected] == "" {
		t.Fatalf("the measured calls did not mutate every pod (%d calls)", i)
	}
}
