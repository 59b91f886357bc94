package chart

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

const podSecurityWarning = "would violate PodSecurity"

// releaseNamespace creates a namespace whose Pod Security level "restricted" only warns, as kubectl then prints
// the API server's verdict on every pod template, and deletes it afterwards.
func releaseNamespace(t *testing.T, name string, extraLabels map[string]string) {
	t.Helper()
	e := controlPlane(t)
	l := map[string]string{"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}
	for k, v := range extraLabels {
		l[k] = v
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
}

// Every rendered set passes the real API server's validation (schemas, CRDs, CEL match conditions, strict field
// validation), and the API server's own Pod Security admission finds nothing to warn about in the Deployment.
func TestServerSideDryRun(t *testing.T) {
	controlPlane(t)
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			ns := "dry-run-" + set.namespace
			releaseNamespace(t, ns, nil)
			m := mustRender(t, ns, set.values)
			out, stderr, err := kubectl(m.YAML, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, stderr)
			}
			if strings.Contains(stderr, podSecurityWarning) || strings.Contains(stderr, "Warning:") {
				t.Errorf("the API server warned:\n%s", stderr)
			}
			for _, o := range m.Objects {
				reported := regexp.MustCompile(`(?m)^` + strings.ToLower(o.Kind) + `(\.[a-z0-9.-]+)?/` + regexp.QuoteMeta(o.Name) + ` (created|configured|unchanged) \(server dry run\)$`)
				if !reported.MatchString(out) {
					t.Errorf("kubectl did not report %s/%s:\n%s", o.Kind, o.Name, out)
				}
			}
		})
	}
}

// The Pod Security check above is not vacuous: the same namespace warns about a pod template that is not
// restricted.
func TestServerSideDryRunWarnsAboutUnrestrictedPods(t *testing.T) {
	controlPlane(t)
	ns := "dry-run-control"
	releaseNamespace(t, ns, nil)
	m := mustRender(t, ns, "")
	var dep []byte
	for _, o := range m.Objects {
		if o.Kind == "Deployment" {
			dep = o.JSON
		}
	}
	// The chart's Deployment with its container's securityContext dropped.
	unrestricted := bytes.Replace(dep, []byte(`"securityContext":{"allowPrivilegeEscalation":false`), []byte(`"securityContext":{"privileged":true,"allowPrivilegeEscalation":true`), 1)
	if bytes.Equal(unrestricted, dep) {
		t.Fatalf("could not find the container securityContext in %s", dep)
	}
	_, stderr, err := kubectl(string(unrestricted), "apply", "--dry-run=server", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, podSecurityWarning) {
		t.Errorf("no Pod Security warning for a privileged container:\n%s", stderr)
	}
}

// With tls.mode generate, `helm upgrade` finds the Secret the install created (lookup) and keeps its certificate
// and CA, so an upgrade never breaks TLS. A real install and upgrade into the test API server (no controllers run
// there, so nothing starts; the release's webhooks select no namespace so that other tests never call them).
func TestGeneratedCertificateIsStableAcrossUpgrades(t *testing.T) {
	e := controlPlane(t)
	ctx := testContext(t)
	const ns, release = "hw-generate-upgrade", "upgrade-check"
	releaseNamespace(t, ns, nil)
	values := filepath.Join(t.TempDir(), "values.yaml")
	writeFile(t, values, "tls: {mode: generate}\nwebhooks: {namespaceSelector: {matchLabels: {ha-webhook.io/enabled: no-namespace-has-this}}}\n")
	helmRelease := func(verb string) (*corev1.Secret, []byte) {
		t.Helper()
		if out, err := helm(verb, release, chartDir, "--namespace", ns, "--kubeconfig", e.Kubeconfig, "--values", values); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		secret := &corev1.Secret{}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: release + "-ha-webhook-tls"}, secret); err != nil {
			t.Fatal(err)
		}
		hooks := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := e.Client.Get(ctx, client.ObjectKey{Name: release + "-ha-webhook"}, hooks); err != nil {
			t.Fatal(err)
		}
		return secret, hooks.Webhooks[0].ClientConfig.CABundle
	}
	installed, caBundle := helmRelease("install")
	t.Cleanup(func() {
		if out, err := helm("uninstall", release, "--namespace", ns, "--kubeconfig", e.Kubeconfig); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	})
	if !bytes.Equal(caBundle, installed.Data["ca.crt"]) {
		t.Errorf("installed caBundle is not the generated CA")
	}
	upgraded, caBundle := helmRelease("upgrade")
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if !bytes.Equal(installed.Data[k], upgraded.Data[k]) {
			t.Errorf("%s changed across helm upgrade", k)
		}
	}
	if !bytes.Equal(caBundle, installed.Data["ca.crt"]) {
		t.Errorf("caBundle changed across helm upgrade")
	}
	// Without the cluster (helm template) every render generates a new CA: the lookup is what keeps it.
	a := one[corev1.Secret](t, mustRender(t, ns, "tls: {mode: generate}\n"), "Secret")
	b := one[corev1.Secret](t, mustRender(t, ns, "tls: {mode: generate}\n"), "Secret")
	if bytes.Equal(a.Data["ca.crt"], b.Data["ca.crt"]) {
		t.Errorf("two offline renders produced the same CA")
	}
}

// NOTES.txt tells how to opt a namespace in (audit first) and then enforce; `helm install --dry-run=server` against
// the real API server renders it, and checks the chart's kubeVersion against the server's.
func TestNotesTellHowToOptIn(t *testing.T) {
	e := controlPlane(t)
	ns := "hw-notes"
	releaseNamespace(t, ns, nil)
	out, err := helm("install", releaseName, chartDir, "--namespace", ns, "--dry-run=server", "--kubeconfig", e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	notes := out[strings.Index(out, "NOTES:"):]
	for _, want := range []string{
		"kubectl label namespace NAMESPACE ha-webhook.io/enabled=true ha-webhook.io/mode=audit",
		"kubectl label namespace NAMESPACE ha-webhook.io/mode=enforce --overwrite",
		"kubectl -n " + ns + " get certificate ha-webhook-serving",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES lack %q:\n%s", want, notes)
		}
	}
}

// The configurations the chart renders, registered with a real API server in front of ha-webhook's server (only
// clientConfig rewritten to the local URL and CA): opted-in namespaces are served, everything else is not, even
// when the release namespace or kube-system carry the opt-in label.
func TestRenderedConfigurationsThroughTheAPIServer(t *testing.T) {
	e := controlPlane(t)
	ctx := testContext(t)
	const ns = "ha-webhook-system"
	m := mustRender(t, ns, "")
	mutating := one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration")
	validating := one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration")

	cfg, err := e.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	serverCtx, stop := context.WithCancel(ctx)
	done, err := e.RunServer(serverCtx, cfg)
	if err != nil {
		stop()
		t.Fatalf("starting ha-webhook: %v", err)
	}
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	optIn := map[string]string{names.LabelEnabled: "true"}
	releaseNamespace(t, ns, optIn) // labelled opted-in: the selector must exclude it anyway
	if err := e.RegisterConfigurations(ctx, mutating, validating); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.Client.Delete(context.Background(), mutating)
		_ = e.Client.Delete(context.Background(), validating)
	})
	for _, system := range []string{"kube-system", "kube-public", "kube-node-lease"} {
		optInExisting(t, system)
	}
	releaseNamespace(t, "opted-in", optIn)
	releaseNamespace(t, "not-labelled", nil)

	tests := map[string]struct {
		namespace string
		served    bool
	}{
		"opted-in namespace":          {"opted-in", true},
		"namespace without the label": {"not-labelled", false},
		"release namespace, labelled": {ns, false},
		"kube-system, labelled":       {"kube-system", false},
		"kube-public, labelled":       {"kube-public", false},
		"kube-node-lease, labelled":   {"kube-node-lease", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: tc.namespace},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1.0",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
			}
			if err := e.Client.Create(ctx, pod); err != nil {
				t.Fatalf("creating pod: %v", err)
			}
			t.Cleanup(func() { _ = e.Client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
			got := &corev1.Pod{}
			if err := e.Client.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
				t.Fatal(err)
			}
			injected := got.Annotations[names.AnnotationInjected]
			mutated := injected != "" || got.Spec.Containers[0].ReadinessProbe != nil || got.Spec.Containers[0].Lifecycle != nil
			if mutated != tc.served {
				t.Errorf("pod mutated = %v (%s = %q), want %v", mutated, names.AnnotationInjected, injected, tc.served)
			}

			// A single-replica Deployment without a PDB: denied where the validating webhook is called (enforce).
			dep := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "single", Namespace: tc.namespace},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr.To[int32](1),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "single"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "single"}},
						Spec:       pod.Spec,
					},
				},
			}
			err := e.Client.Create(ctx, dep, client.DryRunAll)
			if denied := apierrors.IsForbidden(err); denied != tc.served || (err != nil && !denied) {
				t.Errorf("single-replica Deployment: denied = %v (err %v), want %v", denied, err, tc.served)
			}
		})
	}
}

// optInExisting labels an existing namespace opted-in and removes the label afterwards.
func optInExisting(t *testing.T, name string) {
	t.Helper()
	patch := func(value any) {
		body := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, names.LabelEnabled, value)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := env.Client.Patch(context.Background(), ns, client.RawPatch(types.MergePatchType, []byte(body))); err != nil {
			t.Fatalf("labelling namespace %s: %v", name, err)
		}
	}
	patch(`"true"`)
	t.Cleanup(func() { patch("null") })
}
