package chart

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/server"
	"github.com/ha-webhook/ha-webhook/test/testenv"
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
// clientConfig rewritten to the local URL and CA), the server running as the chart's ServiceAccount with nothing but
// the rendered ClusterRole: every webhook is called for its kind in opted-in namespaces (each write is denied by the
// webhook of its name), a PDB DELETE is warned about and never denied, and nothing else is sent to the webhook, even
// when the release namespace or kube-system carry the opt-in label.
func TestRenderedConfigurationsThroughTheAPIServer(t *testing.T) {
	e := controlPlane(t)
	ctx := testContext(t)
	const ns = "ha-webhook-system"
	m := mustRender(t, ns, "")
	mutating := one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration")
	validating := one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration")

	optIn := map[string]string{names.LabelEnabled: "true"}
	releaseNamespace(t, ns, optIn) // labelled opted-in: the selector must exclude it anyway
	asServiceAccount := applyRBAC(t, m)
	cfg, err := e.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, ctx, asServiceAccount, cfg)
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

	// The served namespace first: once its cache-dependent checks pass, the server's cache holds every namespace's
	// compliant workloads, so a write sent by mistake to an excluded namespace would be denied there too.
	tests := []struct {
		name, namespace string
		served          bool
	}{
		{"opted-in namespace", "opted-in", true},
		{"namespace without the label", "not-labelled", false},
		{"release namespace, labelled", ns, false},
		{"kube-system, labelled", "kube-system", false},
		{"kube-public, labelled", "kube-public", false},
		{"kube-node-lease, labelled", "kube-node-lease", false},
	}
	for _, tc := range tests {
		createCompliantWorkloads(t, ctx, tc.namespace)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkServed(t, ctx, tc.namespace, tc.served)
		})
	}
}

// applyRBAC creates the rendered ServiceAccount, ClusterRole and ClusterRoleBinding and returns a REST config that
// impersonates the ServiceAccount, once the API server's authorizer lets it list what the server caches.
func applyRBAC(t *testing.T, m manifest) *rest.Config {
	t.Helper()
	ctx := testContext(t)
	sa := one[corev1.ServiceAccount](t, m, "ServiceAccount")
	role := one[rbacv1.ClusterRole](t, m, "ClusterRole")
	binding := one[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding")
	for _, obj := range []client.Object{sa, role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("creating the rendered %T %s: %v", obj, obj.GetName(), err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		// What the API server authenticates a token of this ServiceAccount as.
		UserName: "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"},
	}
	c, err := client.New(cfg, client.Options{Scheme: server.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The RBAC authorizer follows the API server's informers: wait until the binding is in effect.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.List(ctx, &appsv1.StatefulSetList{}, client.Limit(1))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ServiceAccount %s/%s cannot list statefulsets with the rendered ClusterRole: %v", sa.Namespace, sa.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cfg
}

// runServer runs ha-webhook's server (the code path of `serve`) with restCfg until the test ends. It is ready only
// once its caches have synced, which needs list and watch on every kind it caches.
func runServer(t *testing.T, ctx context.Context, restCfg *rest.Config, cfg server.Config) {
	t.Helper()
	srv, err := server.New(restCfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	serverCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(serverCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	if err := testenv.WaitReady(ctx, "http://"+cfg.HealthAddr+"/readyz", done); err != nil {
		t.Fatalf("ha-webhook running as the chart's ServiceAccount never became ready (does the rendered ClusterRole "+
			"grant list and watch on everything it caches?): %v", err)
	}
}

// createCompliantWorkloads creates, in namespace ns, a Deployment web and a StatefulSet db of 2 replicas, each with
// a PodDisruptionBudget that lets one pod go: nothing the webhook denies. They stay until the test ends.
func createCompliantWorkloads(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	for _, obj := range []client.Object{
		pdb(ns, "web"), pdb(ns, "db"),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2), Selector: selectApp("web"), Template: podTemplate("web")}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](2), ServiceName: "db", Selector: selectApp("db"), Template: podTemplate("db")}},
	} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("creating the compliant %T %s/%s: %v", obj, ns, obj.GetName(), err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// checkServed makes one write per webhook in namespace ns (all dry-run). served: each is answered by the webhook of
// its name; otherwise the webhook sees none of them.
func checkServed(t *testing.T, ctx context.Context, ns string, served bool) {
	t.Helper()
	c, warnings := env.WarningClient(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: podTemplate("web").Spec}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pod, client.GracePeriodSeconds(0)) })
	got := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatal(err)
	}
	injected := got.Annotations[names.AnnotationInjected]
	mutated := injected != "" || got.Spec.Containers[0].ReadinessProbe != nil || got.Spec.Containers[0].Lifecycle != nil
	if mutated != served {
		t.Errorf("pod mutated = %v (%s = %q), want %v", mutated, names.AnnotationInjected, injected, served)
	}

	scale := func(obj client.Object, replicas int32) error {
		return c.SubResource("scale").Update(ctx, obj, client.WithSubResourceBody(&autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}),
			client.DryRunAll)
	}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}
	hpa := func(name string, target client.Object, kind string) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](1), MaxReplicas: 5,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: target.GetName()}}}
	}
	// Each write breaks a rule (min-replicas, or pdb-blocks-drain for the PDB): the webhook named denies it.
	writes := []struct {
		what, webhook string
		write         func() error
	}{
		{"a single-replica Deployment", names.WebhookValidateDeployment, func() error {
			return c.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "single", Namespace: ns},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: selectApp("single"), Template: podTemplate("single")}},
				client.DryRunAll)
		}},
		{"deployments/scale to 1", names.WebhookValidateScale, func() error { return scale(web, 1) }},
		{"a single-replica StatefulSet", names.WebhookValidateStatefulSet, func() error {
			return c.Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "single", Namespace: ns},
				Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), ServiceName: "single", Selector: selectApp("single"),
					Template: podTemplate("single")}}, client.DryRunAll)
		}},
		{"statefulsets/scale to 1", names.WebhookValidateStatefulSetScale, func() error { return scale(db, 1) }},
		{"a PDB that blocks every drain", names.WebhookValidatePDB, func() error {
			return c.Patch(ctx, pdb(ns, "web"), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"minAvailable":2}}`)), client.DryRunAll)
		}},
		{"an HPA that may scale a Deployment to 1", names.WebhookValidateHPA, func() error {
			return c.Create(ctx, hpa("web", web, "Deployment"), client.DryRunAll)
		}},
		{"an HPA that may scale a StatefulSet to 1", names.WebhookValidateHPA, func() error {
			return c.Create(ctx, hpa("db", db, "StatefulSet"), client.DryRunAll)
		}},
		{"an autoscaling/v1 HPA (matchPolicy Equivalent)", names.WebhookValidateHPA, func() error {
			return c.Create(ctx, &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web-v1", Namespace: ns},
				Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](1), MaxReplicas: 5,
					ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}},
				client.DryRunAll)
		}},
	}
	for _, w := range writes {
		// A write judged against the workloads waits for them to reach the server's cache: retry a served one.
		var err error
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			err = w.write()
			if !served || deniedBy(err) == w.webhook || time.Now().After(deadline) {
				break
			}
		}
		switch {
		case served && deniedBy(err) != w.webhook:
			t.Errorf("%s: want a denial by %s, got %v", w.what, w.webhook, err)
		case !served && err != nil:
			t.Errorf("%s: want it admitted (the webhook must not be called here), got %v", w.what, err)
		}
	}

	// A PDB DELETE is never denied; where the webhook is called it warns that web loses its protection.
	var err error
	var warned []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		warnings.Reset()
		err = c.Delete(ctx, pdb(ns, "web"), client.DryRunAll)
		warned = haWebhookWarnings(warnings.All())
		if err != nil || !served || len(warned) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Errorf("deleting a PDB: want it admitted, got %v", err)
	}
	if (len(warned) > 0) != served || served && !strings.Contains(strings.Join(warned, "\n"), "deployment/web: no PodDisruptionBudget") {
		t.Errorf("deleting the PDB of web: ha-webhook warnings %q; want some naming deployment/web (in %s): %v", warned, ns, served)
	}
}

var deniedByWebhook = regexp.MustCompile(`admission webhook "([^"]+)" denied the request`)

// deniedBy is the webhook that denied a request (a 403 naming it), or "".
func deniedBy(err error) string {
	if !apierrors.IsForbidden(err) {
		return ""
	}
	if m := deniedByWebhook.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

func haWebhookWarnings(all []string) []string {
	var out []string
	for _, w := range all {
		if strings.HasPrefix(w, "ha-webhook") {
			out = append(out, w)
		}
	}
	return out
}

func selectApp(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

// podTemplate is a serving pod labelled app=app.
func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + app + ":1.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
}

// pdb is a PodDisruptionBudget app in namespace ns over the pods app=app that lets one of two go.
func pdb(ns, app string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: selectApp(app), MinAvailable: ptr.To(intstr.FromInt32(1))}}
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
