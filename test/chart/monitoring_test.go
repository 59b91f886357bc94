package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// prometheusOperatorModule ships the monitoring.coreos.com/v1 CRDs in example/prometheus-operator-crd. v0.85.0 is
// the newest version the Go module proxy serves (later ones answer 403: "not available").
const prometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

// monitoringValues turn on all three monitoring objects, with every value changed from its default.
const monitoringValues = `
monitoring:
  serviceMonitor:
    enabled: true
    interval: 15s
    scrapeTimeout: 5s
    labels: {release: kube-prometheus-stack}
  prometheusRule:
    enabled: true
    labels: {release: kube-prometheus-stack}
    alertLabels: {team: platform}
    runbookBaseURL: https://wiki.example.com/runbooks.md
    errorRatio: 0.1
    certificateExpiryDays: 21
    auditStaleSeconds: 3600
  dashboard:
    enabled: true
    labels: {team: platform}
    annotations: {grafana_folder: Platform}
    namespace: hw-grafana
`

// serviceMonitor is the part of a monitoring.coreos.com/v1 ServiceMonitor the tests read.
type serviceMonitor struct {
	Metadata struct {
		Name, Namespace string
		Labels          map[string]string
	}
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		}
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port, Path, Scheme, Interval string
			ScrapeTimeout                string `json:"scrapeTimeout"`
			HonorLabels                  bool   `json:"honorLabels"`
		}
	}
}

// rawObject decodes the rendered object kind/name into v.
func rawObject(t *testing.T, m manifest, kind, name string, v any) {
	t.Helper()
	for _, o := range m.Objects {
		if o.Kind == kind && o.Name == name {
			if err := json.Unmarshal(o.JSON, v); err != nil {
				t.Fatalf("decoding %s/%s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("%s/%s is not rendered; rendered: %v", kind, name, m.kinds())
}

// The monitoring objects are off by default, and each value turns its own object on.
func TestMonitoringObjectsAreOptIn(t *testing.T) {
	monitoringKinds := func(m manifest) []string {
		var out []string
		for _, k := range m.kinds() {
			if strings.HasPrefix(k, "ServiceMonitor/") || strings.HasPrefix(k, "PrometheusRule/") || k == "ConfigMap/ha-webhook-dashboard" {
				out = append(out, k)
			}
		}
		return out
	}
	tests := map[string]struct {
		values string
		want   []string
	}{
		"defaults":       {values: "", want: nil},
		"serviceMonitor": {values: "monitoring: {serviceMonitor: {enabled: true}}\n", want: []string{"ServiceMonitor/ha-webhook"}},
		"prometheusRule": {values: "monitoring: {prometheusRule: {enabled: true}}\n", want: []string{"PrometheusRule/ha-webhook"}},
		"dashboard":      {values: "monitoring: {dashboard: {enabled: true}}\n", want: []string{"ConfigMap/ha-webhook-dashboard"}},
		"all": {values: monitoringValues,
			want: []string{"ConfigMap/ha-webhook-dashboard", "PrometheusRule/ha-webhook", "ServiceMonitor/ha-webhook"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, monitoringKinds(mustRender(t, "ha-webhook", tc.values))); diff != "" {
				t.Errorf("monitoring objects (-want +got):\n%s", diff)
			}
		})
	}
}

// The ServiceMonitor selects the chart's Service, in its namespace, by the port named metrics, which targets the
// container's metrics port; the values land where they belong.
func TestServiceMonitorSelectsTheMetricsPort(t *testing.T) {
	const ns = "hw-monitoring"
	m := mustRender(t, ns, monitoringValues)
	var sm serviceMonitor
	rawObject(t, m, "ServiceMonitor", releaseName, &sm)
	svc := one[corev1.Service](t, m, "Service")

	if !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) || len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("the ServiceMonitor's selector %v does not select the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if diff := cmp.Diff([]string{svc.Namespace}, sm.Spec.NamespaceSelector.MatchNames); diff != "" {
		t.Errorf("namespaceSelector.matchNames (-want the Service's namespace +got):\n%s", diff)
	}
	if sm.Metadata.Namespace != ns || sm.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor in %q with labels %v; want namespace %q and the release label of the values", sm.Metadata.Namespace, sm.Metadata.Labels, ns)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("want one endpoint, got %+v", sm.Spec.Endpoints)
	}
	ep := sm.Spec.Endpoints[0]
	got := fmt.Sprintf("port=%s path=%s scheme=%s interval=%s scrapeTimeout=%s honorLabels=%v", ep.Port, ep.Path, ep.Scheme, ep.Interval, ep.ScrapeTimeout, ep.HonorLabels)
	if want := "port=metrics path=/metrics scheme=http interval=15s scrapeTimeout=5s honorLabels=true"; got != want {
		t.Errorf("endpoint:\n got %s\nwant %s", got, want)
	}
	var target string
	for _, p := range svc.Spec.Ports {
		if p.Name == ep.Port {
			target = p.TargetPort.String()
		}
	}
	dep := one[appsv1.Deployment](t, m, "Deployment")
	found := false
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			found = found || target != "" && p.Name == target
		}
	}
	if !found {
		t.Errorf("the Service port %q (targetPort %q) does not reach a container port of the Deployment", ep.Port, target)
	}
}

// The dashboard ConfigMap carries the sidecar's label (default grafana_dashboard: "1", both configurable), goes to
// the namespace the values name, and holds the chart's dashboard JSON.
func TestDashboardConfigMap(t *testing.T) {
	tests := map[string]struct {
		values          string
		wantNamespace   string
		wantLabels      map[string]string
		wantAnnotations map[string]string
	}{
		"defaults": {values: "monitoring: {dashboard: {enabled: true}}\n", wantNamespace: "ha-webhook",
			wantLabels: map[string]string{"grafana_dashboard": "1"}},
		"every value set": {values: monitoringValues, wantNamespace: "hw-grafana",
			wantLabels:      map[string]string{"grafana_dashboard": "1", "team": "platform"},
			wantAnnotations: map[string]string{"grafana_folder": "Platform"}},
		"another sidecar label": {
			values:        "monitoring: {dashboard: {enabled: true, sidecarLabel: dashboards.example.com/grafana, sidecarLabelValue: \"true\"}}\n",
			wantNamespace: "ha-webhook", wantLabels: map[string]string{"dashboards.example.com/grafana": "true"}},
	}
	file, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "ha-webhook.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, "ha-webhook", tc.values)
			var cm corev1.ConfigMap
			rawObject(t, m, "ConfigMap", releaseName+"-dashboard", &cm)
			if cm.Namespace != tc.wantNamespace {
				t.Errorf("namespace %q, want %q", cm.Namespace, tc.wantNamespace)
			}
			for k, v := range tc.wantLabels {
				if cm.Labels[k] != v {
					t.Errorf("label %s=%q, want %q (labels: %v)", k, cm.Labels[k], v, cm.Labels)
				}
			}
			if diff := cmp.Diff(tc.wantAnnotations, cm.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(strings.TrimRight(string(file), "\n"), cm.Data["ha-webhook.json"]); diff != "" {
				t.Errorf("ha-webhook.json differs from dashboards/ha-webhook.json (-file +ConfigMap):\n%s", diff)
			}
			if !json.Valid([]byte(cm.Data["ha-webhook.json"])) {
				t.Errorf("ha-webhook.json is not JSON")
			}
		})
	}
}

// Monitoring without a metrics endpoint is refused with a message that says what to change; the schema rejects
// keys and durations it does not know. _validate.tpl's checks hold with --skip-schema-validation too.
func TestMonitoringValuesRejected(t *testing.T) {
	tests := map[string]struct {
		values     string
		skipSchema bool
		wantErr    string
	}{
		"ServiceMonitor without metrics": {
			values:  "server: {metricsPort: 0}\nmonitoring: {serviceMonitor: {enabled: true}}\n",
			wantErr: "ha-webhook: monitoring.serviceMonitor.enabled needs the metrics endpoint, but server.metricsPort is 0",
		},
		"PrometheusRule without metrics": {
			values:  "server: {metricsPort: 0}\nmonitoring: {prometheusRule: {enabled: true}}\n",
			wantErr: "ha-webhook: monitoring.prometheusRule.enabled needs the metrics endpoint, but server.metricsPort is 0",
		},
		"empty sidecar label with the schema skipped": {
			values: "monitoring: {dashboard: {enabled: true, sidecarLabel: \"\"}}\n", skipSchema: true,
			wantErr: "ha-webhook: monitoring.dashboard.sidecarLabel must not be empty",
		},
		"unknown key":          {values: "monitoring: {serviceMonitor: {enabled: true, scheme: https}}\n", wantErr: "scheme"},
		"not a duration":       {values: "monitoring: {serviceMonitor: {interval: 30 seconds}}\n", wantErr: "interval"},
		"ratio above 1":        {values: "monitoring: {prometheusRule: {errorRatio: 5}}\n", wantErr: "errorRatio"},
		"runbook URL fragment": {values: "monitoring: {prometheusRule: {runbookBaseURL: \"https://x.example/r#a\"}}\n", wantErr: "runbookBaseURL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var extra []string
			if tc.skipSchema {
				extra = append(extra, "--skip-schema-validation")
			}
			_, err := helmTemplate(t, "ha-webhook", tc.values, extra...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("want an error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
	// The dashboard alone needs no metrics endpoint: it renders.
	mustRender(t, "ha-webhook", "server: {metricsPort: 0}\nmonitoring: {dashboard: {enabled: true}}\n")
}

func TestHelmLintMonitoring(t *testing.T) {
	file := filepath.Join(t.TempDir(), "values.yaml")
	writeFile(t, file, monitoringValues)
	out, err := helm("lint", "--strict", chartDir, "--namespace", "hw-monitoring", "--kube-version", kubeVersion, "--values", file)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint:\n%s", out)
	}
}

var (
	monitoringCRDsOnce sync.Once
	monitoringCRDsErr  error
)

// The chart with every monitoring object passes the real API server's validation with the Prometheus Operator's
// CRDs installed (strict field validation: a field the CRD does not know fails), and the ServiceMonitor,
// PrometheusRule and dashboard ConfigMap are stored as rendered.
func TestMonitoringObjectsThroughTheAPIServer(t *testing.T) {
	controlPlane(t)
	monitoringCRDsOnce.Do(func() { monitoringCRDsErr = installMonitoringCRDs() })
	if monitoringCRDsErr != nil {
		t.Fatalf("Prometheus Operator CRDs: %v", monitoringCRDsErr)
	}
	const ns = "hw-monitoring"
	releaseNamespace(t, ns, nil)
	releaseNamespace(t, "hw-grafana", nil)
	m := mustRender(t, ns, monitoringValues)

	out, stderr, err := kubectl(m.YAML, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "Warning:") {
		t.Errorf("the API server warned:\n%s", stderr)
	}
	for _, o := range m.Objects {
		reported := regexp.MustCompile(`(?m)^` + strings.ToLower(o.Kind) + `(\.[a-z0-9.-]+)?/` + regexp.QuoteMeta(o.Name) + ` (created|configured|unchanged) \(server dry run\)$`)
		if !reported.MatchString(out) {
			t.Errorf("kubectl did not report %s/%s:\n%s", o.Kind, o.Name, out)
		}
	}

	for _, o := range m.Objects {
		if o.Kind != "ServiceMonitor" && o.Kind != "PrometheusRule" && o.Name != releaseName+"-dashboard" {
			continue
		}
		t.Run(o.Kind, func(t *testing.T) {
			if _, stderr, err := kubectl(string(o.JSON), "apply", "--server-side", "--validate=strict", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply %s/%s: %v\n%s", o.Kind, o.Name, err, stderr)
			}
			stored, stderr, err := kubectl("", "get", strings.ToLower(o.Kind), o.Name, "-n", o.Namespace, "-o", "json")
			if err != nil {
				t.Fatalf("kubectl get: %v\n%s", err, stderr)
			}
			var want, got map[string]any
			if err := json.Unmarshal(o.JSON, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(stored), &got); err != nil {
				t.Fatal(err)
			}
			// Stored objects gain metadata and defaults; every rendered field must be there unchanged.
			if path, ok := subset(want, got, ""); !ok {
				t.Errorf("%s/%s: stored without (or with another) %s: the CRD pruned or changed it", o.Kind, o.Name, path)
			}
		})
	}
}

// subset reports whether every field of want is in got with the same value, and the first path where not.
func subset(want, got any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, v := range w {
			if p, ok := subset(v, g[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		return path, reflect.DeepEqual(want, got)
	}
}

// installMonitoringCRDs applies the ServiceMonitor and PrometheusRule CRDs of the Prometheus Operator module and
// waits until they are established.
func installMonitoringCRDs() error {
	download := exec.Command("go", "mod", "download", "-json", prometheusOperatorModule)
	download.Dir = tmpDir // outside this module: go.mod and go.sum stay untouched
	download.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := download.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w\n%s", prometheusOperatorModule, err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: no module directory in %s (%v)", prometheusOperatorModule, out, err)
	}
	dir := filepath.Join(mod.Dir, "example", "prometheus-operator-crd")
	// Server-side apply: the CRDs are larger than the last-applied annotation allows.
	if _, stderr, err := kubectl("", "apply", "--server-side",
		"-f", filepath.Join(dir, "monitoring.coreos.com_servicemonitors.yaml"),
		"-f", filepath.Join(dir, "monitoring.coreos.com_prometheusrules.yaml")); err != nil {
		return fmt.Errorf("applying the Prometheus Operator CRDs from %s: %w\n%s", dir, err, stderr)
	}
	if _, stderr, err := kubectl("", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com"); err != nil {
		return fmt.Errorf("waiting for the Prometheus Operator CRDs: %w\n%s", err, stderr)
	}
	return nil
}
