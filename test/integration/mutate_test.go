package integration

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
)

// stored creates pod through the API server and returns what the API server stored.
func stored(t *testing.T, c client.Client, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := testContext(t)
	if err := c.Create(ctx, pod); err != nil {
		t.Fatalf("creating pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	got := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatalf("reading pod back: %v", err)
	}
	return got
}

func TestPodInOptedInNamespaceIsStoredMutated(t *testing.T) {
	ns := namespace(t, optedIn())
	got := stored(t, env.Client, servingPod(ns, "web"))

	c := got.Spec.Containers[0]
	wantProbe := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
		PeriodSeconds:    5,
		TimeoutSeconds:   1,
		FailureThreshold: 3,
		SuccessThreshold: 1,
	}
	if diff := cmp.Diff(wantProbe, c.ReadinessProbe); diff != "" {
		t.Errorf("readinessProbe (-want +got):\n%s", diff)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatalf("want a native preStop sleep, got lifecycle %+v", c.Lifecycle)
	}
	if s := c.Lifecycle.PreStop.Sleep.Seconds; s != 15 {
		t.Errorf("preStop sleep = %d, want 15", s)
	}
	// The API server defaulted the grace period to 30 before the webhook saw the pod; 30 + 15 = 45.
	if g := ptr.Deref(got.Spec.TerminationGracePeriodSeconds, -1); g != 45 {
		t.Errorf("terminationGracePeriodSeconds = %d, want 45", g)
	}
	want := "readinessProbe:app,preStop:app,terminationGracePeriodSeconds"
	if a := got.Annotations[names.AnnotationInjected]; a != want {
		t.Errorf("%s = %q, want %q", names.AnnotationInjected, a, want)
	}
}

func TestPodsLeftAlone(t *testing.T) {
	plain := namespace(t, nil)
	enabled := namespace(t, optedIn())
	tests := map[string]*corev1.Pod{
		"namespace not opted in": servingPod(plain, "web"),
		"job pod": func() *corev1.Pod {
			p := servingPod(enabled, "job")
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			return p
		}(),
		"mirror pod": func() *corev1.Pod {
			p := servingPod(enabled, "mirror")
			p.Annotations = map[string]string{names.AnnotationMirrorPod: "checksum"}
			p.Spec.NodeName = "node-1" // the API server requires it of mirror pods
			return p
		}(),
		"skip-mutation": func() *corev1.Pod {
			p := servingPod(enabled, "skipped")
			p.Annotations = map[string]string{names.AnnotationSkipMutation: "true"}
			return p
		}(),
	}
	for name, pod := range tests {
		t.Run(name, func(t *testing.T) {
			got := stored(t, env.Client, pod)
			c := got.Spec.Containers[0]
			if c.ReadinessProbe != nil || c.Lifecycle != nil || got.Annotations[names.AnnotationInjected] != "" {
				t.Errorf("pod was mutated: probe %v, lifecycle %v, annotations %v", c.ReadinessProbe, c.Lifecycle, got.Annotations)
			}
			if g := ptr.Deref(got.Spec.TerminationGracePeriodSeconds, -1); g != 30 {
				t.Errorf("terminationGracePeriodSeconds = %d, want the API server's default 30", g)
			}
		})
	}
}

func TestAuditNamespaceWarnsAndPatchesNothing(t *testing.T) {
	ns := namespace(t, optedInAudit())
	c, warnings := env.WarningClient(t)
	got := stored(t, c, servingPod(ns, "web"))
	if got.Spec.Containers[0].ReadinessProbe != nil || got.Spec.Containers[0].Lifecycle != nil || got.Annotations[names.AnnotationInjected] != "" {
		t.Errorf("audit mode patched the pod: %+v", got.Spec.Containers[0])
	}
	want := []string{
		`ha-webhook audit: would inject readinessProbe into container "app"`,
		`ha-webhook audit: would inject preStop into container "app"`,
		`ha-webhook audit: would set terminationGracePeriodSeconds to 45`,
	}
	if diff := cmp.Diff(want, warnings.All()); diff != "" {
		t.Errorf("client-go warnings (-want +got):\n%s", diff)
	}

	manifest := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kubectl-web","namespace":"` + ns + `"},
"spec":{"containers":[{"name":"app","image":"registry.example/web:1.0","ports":[{"containerPort":8080}]}]}}`
	_, stderr, err := kubectl(t, manifest, "create", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, "Warning: "+w) {
			t.Errorf("kubectl stderr lacks %q:\n%s", w, stderr)
		}
	}
}

func TestNativeSleepDetectedOnRealServer(t *testing.T) {
	dc, err := discoveryClient()
	if err != nil {
		t.Fatal(err)
	}
	d, err := server.NewNativeSleepDetector(dc, 0)
	if err != nil {
		t.Fatalf("detecting: %v", err)
	}
	if !d.Supported() {
		v, _ := dc.ServerVersion()
		t.Errorf("native sleep not detected on %v", v)
	}
}
