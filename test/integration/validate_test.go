package integration

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
)

func deployment(ns, name string, replicas *int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/" + name + ":1.0",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
}

func pdb(ns, name string, selector map[string]string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selector},
		},
	}
}

// denial asserts err is the webhook's 403 denial and that its message holds every wanted fragment.
func denial(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a denial, got none")
	}
	if !apierrors.IsForbidden(err) {
		t.Fatalf("want 403 Forbidden, got %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("denial lacks %q:\n%v", w, err)
		}
	}
}

func TestDeploymentWithoutPDBIsDeniedThenAcceptedOncePDBExists(t *testing.T) {
	ns := namespace(t, optedIn())
	ctx := testContext(t)
	err := env.Client.Create(ctx, deployment(ns, "web", ptr.To[int32](3)))
	denial(t, err,
		`admission webhook "deployments.ha-webhook.io" denied the request`,
		"spec.template.metadata.labels: Required value: pdb-missing:",
		"kubectl create pdb web -n "+ns+" --selector=app=web --max-unavailable=1",
		"kubectl apply -f dir/",
	)
	if err := env.Client.Create(ctx, pdb(ns, "web", map[string]string{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	// The webhook reads PDBs from its informer cache, which follows the API server within moments.
	eventually(t, func() error { return env.Client.Create(ctx, deployment(ns, "web", ptr.To[int32](3))) })
}

func TestSingleReplicaDeniedWithBothViolations(t *testing.T) {
	ns := namespace(t, optedIn())
	err := env.Client.Create(testContext(t), deployment(ns, "solo", ptr.To[int32](1)))
	denial(t, err, "spec.replicas: Invalid value: 1: min-replicas:", "pdb-missing:", "--replicas=2")
}

func TestHPAManagedDeploymentUsesMinReplicas(t *testing.T) {
	ns := namespace(t, optedIn())
	ctx := testContext(t)
	for _, o := range []client.Object{
		pdb(ns, "api", map[string]string{"app": "api"}),
		&autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "api"},
				MinReplicas:    ptr.To[int32](1),
				MaxReplicas:    10,
			},
		},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// spec.replicas 3 would pass, but the HPA may scale down to 1.
	eventually(t, func() error {
		err := env.Client.Create(ctx, deployment(ns, "api", ptr.To[int32](3)))
		if err == nil || !strings.Contains(err.Error(), "HPA api may scale to 1") {
			return errorf("want the HPA's minReplicas denied, got %v", err)
		}
		return nil
	})
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, hpa); err != nil {
		t.Fatal(err)
	}
	hpa.Spec.MinReplicas = ptr.To[int32](2)
	if err := env.Client.Update(ctx, hpa); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { return env.Client.Create(ctx, deployment(ns, "api", nil)) })
}

func TestKubectlScaleToOneIsDenied(t *testing.T) {
	ns := namespace(t, optedIn())
	ctx := testContext(t)
	if err := env.Client.Create(ctx, pdb(ns, "web", map[string]string{"app": "web"})); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error { return env.Client.Create(ctx, deployment(ns, "web", ptr.To[int32](3))) })

	_, stderr, err := kubectl(t, "", "scale", "deployment/web", "-n", ns, "--replicas=1")
	if err == nil {
		t.Fatalf("kubectl scale --replicas=1 succeeded; want a denial")
	}
	for _, w := range []string{`admission webhook "deployments-scale.ha-webhook.io" denied the request`, "min-replicas"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("kubectl stderr lacks %q:\n%s", w, stderr)
		}
	}
	got := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, got); err != nil {
		t.Fatal(err)
	}
	if r := ptr.Deref(got.Spec.Replicas, -1); r != 3 {
		t.Errorf("replicas after denied scale = %d, want 3", r)
	}
	if _, stderr, err := kubectl(t, "", "scale", "deployment/web", "-n", ns, "--replicas=4"); err != nil {
		t.Errorf("kubectl scale --replicas=4 failed: %v\n%s", err, stderr)
	}
}

func TestRatchetingAllowsImageRollbackOfNonCompliantDeployment(t *testing.T) {
	// The Deployment exists from before enforcement: created while its namespace was in audit mode.
	ns := namespace(t, optedInAudit())
	ctx := testContext(t)
	c, warnings := env.WarningClient(t)
	if err := c.Create(ctx, deployment(ns, "legacy", ptr.To[int32](1))); err != nil {
		t.Fatalf("audit mode denied: %v", err)
	}
	if w := strings.Join(warnings.All(), "\n"); !strings.Contains(w, "ha-webhook audit: min-replicas:") || !strings.Contains(w, "ha-webhook audit: pdb-missing:") {
		t.Errorf("audit warnings missing:\n%s", w)
	}

	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels[names.LabelMode] = string(policy.ModeEnforce)
	if err := env.Client.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}

	// A brand-new violation is denied once the namespace enforces...
	eventually(t, func() error {
		err := env.Client.Create(ctx, deployment(ns, "fresh", ptr.To[int32](1)))
		if !apierrors.IsForbidden(err) {
			return errorf("want a denial in enforce mode, got %v", err)
		}
		return nil
	})
	// ...but an image change on the pre-existing Deployment passes with warnings.
	before := len(warnings.All())
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "legacy"}, d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/legacy:0.9"
	if err := c.Update(ctx, d); err != nil {
		t.Fatalf("image rollback denied: %v", err)
	}
	w := strings.Join(warnings.All()[before:], "\n")
	for _, want := range []string{"ha-webhook pre-existing: min-replicas:", "ha-webhook pre-existing: pdb-missing:"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	// Scaling to zero leaves nothing to protect.
	d.Spec.Replicas = ptr.To[int32](0)
	if err := c.Update(ctx, d); err != nil {
		t.Errorf("scaling to zero denied: %v", err)
	}
}

func TestServerSideDryRunWorks(t *testing.T) {
	ns := namespace(t, optedIn())
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: dry, namespace: ` + ns + `}
spec:
  replicas: 1
  selector: {matchLabels: {app: dry}}
  template:
    metadata: {labels: {app: dry}}
    spec: {containers: [{name: app, image: registry.example/dry:1.0}]}
`
	_, stderr, err := kubectl(t, manifest, "apply", "--dry-run=server", "-f", "-")
	if err == nil || !strings.Contains(stderr, "min-replicas") {
		t.Errorf("dry-run of a non-compliant Deployment: err=%v, stderr:\n%s", err, stderr)
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dry","namespace":"` + ns + `"},
"spec":{"containers":[{"name":"app","image":"registry.example/web:1.0","ports":[{"containerPort":8080}]}]}}`
	stdout, stderr, err := kubectl(t, pod, "apply", "--dry-run=server", "-o", "jsonpath={.spec.terminationGracePeriodSeconds}", "-f", "-")
	if err != nil || stdout != "45" {
		t.Errorf("dry-run pod: grace %q, err %v, stderr:\n%s", stdout, err, stderr)
	}
}

// TestDeploymentRightAfterItsPDB: Helm and Argo CD create a PDB and, milliseconds later, its Deployment. The
// webhook's informer cache may not have the PDB yet; the denial path confirms against the API server, so these are
// admitted on the first try, every time.
func TestDeploymentRightAfterItsPDB(t *testing.T) {
	ns := namespace(t, optedIn())
	ctx := testContext(t)
	for i := range 20 {
		name := fmt.Sprintf("app-%d", i)
		if err := env.Client.Create(ctx, pdb(ns, name, map[string]string{"app": name})); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, deployment(ns, name, ptr.To[int32](2))); err != nil {
			t.Errorf("Deployment created right after its PDB was denied: %v", err)
		}
	}
}

// TestFreshAuditNamespace: a namespace created with the audit label and used at once is audited, not enforced,
// even before the webhook's cache has seen it.
func TestFreshAuditNamespace(t *testing.T) {
	ctx := testContext(t)
	for i := range 5 {
		ns := namespace(t, optedInAudit())
		if err := env.Client.Create(ctx, deployment(ns, fmt.Sprintf("solo-%d", i), ptr.To[int32](1))); err != nil {
			t.Errorf("a Deployment in a fresh audit namespace was denied: %v", err)
		}
	}
}
