package monitoring

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// contract is what `ha-webhook serve` exports for monitoring (docs/runbooks.md, "Metrics"): series names and their
// label names (besides the ones the scrape adds), which the alerts and the dashboard are written against. Every
// one is on a dashboard panel (TestDashboardQueries) and exported with exactly these labels (TestMetricsExist).
var contract = map[string][]string{
	"ha_webhook_audit_workloads":                              {"namespace", "state"},
	"ha_webhook_audit_workload_violations":                    {"namespace", "rule"},
	"ha_webhook_audit_stalling_pdbs":                          {"namespace"},
	"ha_webhook_audit_cut_services":                           {"namespace"},
	"ha_webhook_audit_uninjected_pods":                        {"namespace"},
	"ha_webhook_audit_last_completed_timestamp_seconds":       nil,
	"ha_webhook_audit_duration_seconds":                       nil,
	"ha_webhook_serving_certificate_expiry_timestamp_seconds": nil,
	"ha_webhook_mutations_total":                              {"field", "mode"},
	"ha_webhook_violations_total":                             {"mode", "rule"},
	"ha_webhook_exemptions_total":                             nil,
	"controller_runtime_webhook_requests_total":               {"code", "webhook"},
	"controller_runtime_webhook_latency_seconds_bucket":       {"le", "webhook"},
	"controller_runtime_webhook_requests_in_flight":           {"webhook"},
}

// fixture is what the audit must count in auditedNamespace, given createAuditedObjects: each gauge the alerts read
// is above 0 there, so each audit alert would fire on this cluster.
var fixture = []struct {
	name   string
	labels map[string]string
}{
	{"ha_webhook_audit_workloads", map[string]string{"state": "violating"}},
	{"ha_webhook_audit_workloads", map[string]string{"state": "compliant"}},
	{"ha_webhook_audit_workloads", map[string]string{"state": "exempt"}},
	{"ha_webhook_audit_workload_violations", map[string]string{"rule": "min-replicas"}},
	{"ha_webhook_audit_workload_violations", map[string]string{"rule": "pdb-missing"}},
	{"ha_webhook_audit_stalling_pdbs", nil},
	{"ha_webhook_audit_cut_services", nil},
	{"ha_webhook_audit_uninjected_pods", nil},
}

// auditedNamespace is the namespace of examples/admission-review/*.json, which the test posts to the webhook.
const auditedNamespace = "shop"

// Every metric an alert or a dashboard panel reads is exported by a live `ha-webhook serve` (the binary, built from
// ./cmd/webhook) connected to a real kube-apiserver: a misspelt or renamed metric would leave an alert that can
// never fire, or an empty panel. The opted-in namespace holds something for every audit gauge (a violating, a
// compliant and an exempt Deployment, a PDB that allows no disruption, a bare serving pod behind a Service), and
// the test posts a pod and a Deployment to the webhook so that the admission counters and the latency histogram
// have series. `up` is Prometheus's own. The exported label names must be the contract's (the queries group and
// filter by them), and the audit gauges must count the objects in the namespace (each audit alert would fire).
func TestMetricsExist(t *testing.T) {
	referenced := map[string]string{}
	_, groups := renderedRules(t, prometheusRuleEnabled)
	p := newParser()
	for _, g := range groups {
		for _, r := range g.Rules {
			e, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("alert %s: %v", r.Alert, err)
			}
			for _, vs := range vectorSelectors(e) {
				referenced[metricName(vs)] = "alert " + r.Alert
			}
		}
	}
	for name, where := range dashboardMetrics(t, loadDashboard(t)) {
		referenced[name] = where
	}
	for name := range contract {
		if _, ok := referenced[name]; !ok {
			referenced[name] = "the contract"
		}
	}
	delete(referenced, "up")

	env, err := suite.ControlPlane()
	if err != nil {
		t.Fatalf("control plane: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	createAuditedObjects(t, ctx, env)
	srv := startServe(t, ctx, env)
	srv.admit(t, "pod.json", true)
	srv.admit(t, "deployment.json", false)

	var want []string
	for name := range referenced {
		want = append(want, name)
	}
	slices.Sort(want)
	scraped := srv.waitForMetrics(t, want, 2*time.Minute)
	exported := map[string]bool{}
	for _, s := range scraped {
		exported[s.name] = true
	}
	var missing []string
	for _, name := range want {
		if !exported[name] {
			missing = append(missing, fmt.Sprintf("%s (read by %s)", name, referenced[name]))
		}
	}
	if len(missing) > 0 {
		t.Errorf("ha-webhook serve does not export %d metrics the chart's alerts and dashboard read:\n  %s\nexported ha_webhook_* series: %v",
			len(missing), strings.Join(missing, "\n  "), withPrefix(exported, "ha_webhook_"))
	} else {
		t.Logf("all %d metrics the alerts and the dashboard read are exported: %s", len(want), strings.Join(want, ", "))
	}

	// The labels the queries group and filter by are the ones exported.
	for name, wantLabels := range contract {
		got := map[string]bool{}
		for _, s := range scraped {
			if s.name == name {
				for l := range s.labels {
					got[l] = true
				}
			}
		}
		if !exported[name] {
			continue // reported above
		}
		gotLabels := slices.Sorted(maps.Keys(got))
		if diff := cmp.Diff(wantLabels, gotLabels, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: label names (-contract +exported):\n%s", name, diff)
		}
	}
	for _, f := range fixture {
		if v, ok := value(scraped, f.name, f.labels); !ok || v <= 0 {
			t.Errorf("%s%v in namespace %s = %v (exported: %v), want > 0 for the objects created there", f.name, f.labels,
				auditedNamespace, v, ok)
		}
	}
}

// value is the value of the series name with the labels (and namespace auditedNamespace), and whether it exists.
func value(scraped []sample, name string, labels map[string]string) (float64, bool) {
	for _, s := range scraped {
		if s.name != name || s.labels["namespace"] != auditedNamespace {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && s.labels[k] == v
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// createAuditedObjects creates the opted-in namespace and what gives each audit gauge a series. No controllers run
// against this API server, so nothing is scheduled and the PDB's status is written here as the disruption
// controller would write it.
func createAuditedObjects(t *testing.T, ctx context.Context, env *testenv.Env) {
	t.Helper()
	labelsOf := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	template := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: servingPod(app)}
	}
	deployment := func(name string, replicas int32, annotations map[string]string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: auditedNamespace, Annotations: annotations},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: labelsOf(name), Template: template(name)}}
	}
	stuck := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "stuck", Namespace: auditedNamespace},
		Spec: policyv1.PodDisruptionBudgetSpec{Selector: labelsOf("stuck"), MinAvailable: ptr.To(intstr.FromInt32(1))}}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: auditedNamespace, Labels: map[string]string{names.LabelEnabled: "true"}}},
		// violating: min-replicas and pdb-missing.
		deployment("single", 1, nil),
		// compliant: 2 replicas, a PDB that lets one go.
		deployment("web", 2, nil),
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: auditedNamespace},
			Spec: policyv1.PodDisruptionBudgetSpec{Selector: labelsOf("web"), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
		// exempt.
		deployment("legacy", 1, map[string]string{names.AnnotationExempt: "moving to a StatefulSet"}),
		stuck,
		// An uninjected serving pod, the only one behind its Service: a drain would cut it.
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: auditedNamespace, Labels: map[string]string{"app": "bare"}},
			Spec: servingPod("bare")},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: auditedNamespace},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "bare"},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}},
	}
	for _, obj := range objs {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), objs[0]) })
	// Stalling: it expects its pod and allows no disruption.
	stuck.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: stuck.Generation, ExpectedPods: 1,
		CurrentHealthy: 1, DesiredHealthy: 1, DisruptionsAllowed: 0}
	if err := env.Client.Status().Update(ctx, stuck); err != nil {
		t.Fatalf("writing the status of PDB stuck: %v", err)
	}
}

func servingPod(app string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + app + ":1.0",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}
}

// serveProc is a running `ha-webhook serve`.
type serveProc struct {
	webhookURL, metricsURL string
	client                 *http.Client
	log                    *testenv.SyncBuffer
}

// startServe builds ha-webhook, starts `ha-webhook serve` on loopback ports against env as admin, waits until it is
// ready and stops it (SIGTERM, by its pid) when the test ends.
func startServe(t *testing.T, ctx context.Context, env *testenv.Env) *serveProc {
	t.Helper()
	bin, err := testenv.BuildWebhook(ctx, t.TempDir(), testenv.BuildDev)
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(t.TempDir(), "certs")
	caPEM, err := devcert.Write(certDir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	addr := func() string {
		port, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	webhookAddr, healthAddr, metricsAddr := addr(), addr(), addr()
	_, webhookPort, _ := net.SplitHostPort(webhookAddr)
	p := &serveProc{
		webhookURL: "https://" + webhookAddr,
		metricsURL: "http://" + metricsAddr + "/metrics",
		client:     &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		log:        &testenv.SyncBuffer{},
	}
	cmd := exec.Command(bin, "serve",
		"--kubeconfig", env.Kubeconfig,
		"--webhook-host", "127.0.0.1",
		"--webhook-port", webhookPort,
		"--webhook-cert-path", certDir,
		"--health-probe-bind-address", healthAddr,
		"--metrics-bind-address", metricsAddr,
		"--shutdown-delay", "0s", "--client-idle-timeout", "0s")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ha-webhook serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("log of ha-webhook serve (last 4 KB):\n%s", testenv.Tail(p.log.String(), 4096))
		}
	})
	if err := testenv.WaitReady(ctx, "http://"+healthAddr+"/readyz", exited); err != nil {
		t.Fatalf("ha-webhook serve: %v", err)
	}
	return p
}

// admit posts examples/admission-review/<file> to the webhook path for its kind and checks the answer: the pod is
// allowed (and patched), the single-replica Deployment denied. Either way the request counts in the metrics.
func (p *serveProc) admit(t *testing.T, file string, wantAllowed bool) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "admission-review", file))
	if err != nil {
		t.Fatal(err)
	}
	path := names.PathMutatePod
	if !wantAllowed {
		path = names.PathValidateDeployment
	}
	resp, err := p.client.Post(p.webhookURL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	var review struct {
		Response struct{ Allowed bool } `json:"response"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &review) != nil {
		t.Fatalf("POST %s: HTTP %d: %s", path, resp.StatusCode, answer)
	}
	if review.Response.Allowed != wantAllowed {
		t.Errorf("POST %s %s: allowed = %v, want %v: %s", path, file, review.Response.Allowed, wantAllowed, answer)
	}
}

// waitForMetrics scrapes /metrics until every name in want has a series and the fixture's gauges are counted, or
// timeout passes (the audit gauges appear once the first audit has completed), and returns the last scrape.
func (p *serveProc) waitForMetrics(t *testing.T, want []string, timeout time.Duration) []sample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.scrape(t)
		names := map[string]bool{}
		for _, s := range got {
			names[s.name] = true
		}
		complete := true
		for _, name := range want {
			complete = complete && names[name]
		}
		for _, f := range fixture {
			v, ok := value(got, f.name, f.labels)
			complete = complete && ok && v > 0
		}
		if complete || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Second)
	}
}

// sample is one exported series: its name (a histogram's _bucket, _sum and _count separately), labels and value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads /metrics (the text format) into samples.
func (p *serveProc) scrape(t *testing.T) []sample {
	t.Helper()
	resp, err := http.Get(p.metricsURL)
	if err != nil {
		t.Fatalf("GET %s: %v", p.metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", p.metricsURL, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", p.metricsURL, err)
	}
	var out []sample
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			add := func(name string, v float64, extra ...string) {
				ls := maps.Clone(labels)
				for i := 0; i+1 < len(extra); i += 2 {
					ls[extra[i]] = extra[i+1]
				}
				out = append(out, sample{name: name, labels: ls, value: v})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				add(name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				add(name+"_sum", m.GetSummary().GetSampleSum())
				add(name+"_count", float64(m.GetSummary().GetSampleCount()))
				for _, q := range m.GetSummary().GetQuantile() {
					add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
			default:
				add(name, m.GetUntyped().GetValue())
			}
		}
	}
	return out
}

func withPrefix(names map[string]bool, prefix string) []string {
	var out []string
	for n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
