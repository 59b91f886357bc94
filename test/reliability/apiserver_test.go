package reliability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// scenarioLabel confines each test's webhook configurations to the namespaces that test creates, so that tests
// registering webhooks with different failure policies never see each other's.
const scenarioLabel = "reliability.ha-webhook.io/scenario"

// registration is ha-webhook's webhook configurations (internal/webhookconfig, the chart's) pointed at base, with
// the given failure policy and timeout, selecting only the namespaces of one scenario.
type registration struct {
	name     string
	base     string
	caBundle []byte
	policy   admissionregistrationv1.FailurePolicyType
	timeout  int32
}

func (r registration) objects() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	o := webhookconfig.DefaultOptions()
	o.Name = "reliability-" + r.name
	o.MutatingFailurePolicy, o.ValidatingFailurePolicy = r.policy, r.policy
	o.TimeoutSeconds = r.timeout
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		url := r.base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: r.caBundle}
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{scenarioLabel: r.name}}
	m, v := webhookconfig.Mutating(o), webhookconfig.Validating(o)
	for i := range m.Webhooks {
		m.Webhooks[i].NamespaceSelector = sel
	}
	for i := range v.Webhooks {
		v.Webhooks[i].NamespaceSelector = sel
	}
	return m, v
}

// register creates (or replaces) the configurations; they are deleted at the end of the test.
func register(t *testing.T, r registration) {
	t.Helper()
	ctx := context.Background()
	m, v := r.objects()
	for _, obj := range []client.Object{m, v} {
		_ = env.Client.Delete(ctx, obj)
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("registering %s: %v", obj.GetName(), err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// setPolicy changes the failure policy of a registration in place.
func setPolicy(t *testing.T, r registration, policy admissionregistrationv1.FailurePolicyType) {
	t.Helper()
	ctx := context.Background()
	m, v := r.objects()
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
		t.Fatal(err)
	}
	for i := range m.Webhooks {
		m.Webhooks[i].FailurePolicy = ptr.To(policy)
	}
	if err := env.Client.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(v), v); err != nil {
		t.Fatal(err)
	}
	for i := range v.Webhooks {
		v.Webhooks[i].FailurePolicy = ptr.To(policy)
	}
	if err := env.Client.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
}

// scenarioNamespace creates an opted-in namespace that registration name selects.
func scenarioNamespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "reliability-" + name + "-",
		Labels:       map[string]string{scenarioLabel: name, names.LabelEnabled: "true"},
	}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
	return ns.Name
}

func servingPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/web:1.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
}

// lonelyDeployment violates min-replicas and pdb-missing.
func lonelyDeployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1.0",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			},
		},
	}
}

// waitUntil retries f every 200 ms until it returns nil or timeout passes; the API server's webhook configuration
// cache follows changes asynchronously.
func waitUntil(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
}

// dryRunPod creates a pod with dry-run and returns it as the API server would store it.
func dryRunPod(ns string) (*corev1.Pod, error) {
	pod := servingPod(ns, "")
	pod.GenerateName = "probe-"
	err := env.Client.Create(context.Background(), pod, client.DryRunAll)
	return pod, err
}

// mutatedByWebhook waits until the API server calls the registered webhook for pods of ns.
func mutatedByWebhook(t *testing.T, ns string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the API server calls the webhook", func() error {
		pod, err := dryRunPod(ns)
		if err != nil {
			return err
		}
		if pod.Annotations[names.AnnotationInjected] == "" {
			return errors.New("pod not mutated yet")
		}
		return nil
	})
}

// deniedWith waits until creating a pod in ns fails, then checks the error mentions every fragment.
func deniedWith(t *testing.T, ns string, want ...string) error {
	t.Helper()
	var denial error
	waitUntil(t, 30*time.Second, "pod creation denied", func() error {
		_, err := dryRunPod(ns)
		if err == nil {
			return errors.New("pod admitted")
		}
		denial = err
		return nil
	})
	for _, w := range want {
		if !strings.Contains(denial.Error(), w) {
			t.Errorf("denial lacks %q: %v", w, denial)
		}
	}
	return denial
}

// unmutated lists the pods of ns that lack the ha-webhook.io/injected record: what an audit would find.
func unmutated(t *testing.T, ns string) []string {
	t.Helper()
	var pods corev1.PodList
	if err := env.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if _, ok := p.Annotations[names.AnnotationInjected]; !ok {
			out = append(out, p.Name)
		}
	}
	return out
}

func createPods(t *testing.T, ns string, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i+1)
		if err := env.Client.Create(context.Background(), servingPod(ns, name)); err != nil {
			t.Fatalf("creating pod %s: %v", name, err)
		}
		out = append(out, name)
	}
	return out
}

// errUnmutated marks a pod creation the API server admitted without the webhook's mutation: under failurePolicy
// Ignore, a call that failed or timed out.
var errUnmutated = errors.New("admitted without mutation")

// apiServerPodLoad creates rate pods per second in ns through kube-apiserver (server-side dry runs: admitted through
// the webhooks, not stored), named prefix + the request's uid, each of which must come back mutated (errUnmutated
// otherwise). Its client has no client-side rate limit (the default is 5/s).
func apiServerPodLoad(t *testing.T, ns, prefix string, rate int) *loadGen {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &loadGen{
		rate:   rate,
		target: func() (string, string, bool) { return "", "kube-apiserver", true },
		admit: func(_ *http.Client, _, uid string) (bool, error) {
			pod := servingPod(ns, prefix+uid)
			if err := c.Create(context.Background(), pod, client.DryRunAll); err != nil {
				return false, err
			}
			if pod.Annotations[names.AnnotationInjected] == "" {
				return false, errUnmutated
			}
			return false, nil
		},
	}
}
