package monitoring

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

const (
	// releaseName and releaseNamespace make the Service, and so the ServiceMonitor's job label, "ha-webhook": the
	// job testdata/alerts_test.yaml and testdata/series.txt write.
	releaseName      = "ha-webhook"
	releaseNamespace = "ha-webhook"
	// kubeVersion is what `helm template` assumes: the version of the API server testenv builds.
	kubeVersion = "v1.37.2"
)

var (
	chartDir    = filepath.Join(testenv.RepoRoot(), "charts", "ha-webhook")
	runbookPath = filepath.Join(testenv.RepoRoot(), "docs", "runbooks.md")
)

// object is one rendered document.
type object struct {
	Kind     string
	Metadata struct {
		Name, Namespace string
		Labels          map[string]string
	}
	JSON []byte
}

// render runs `helm template` on the chart with a values file holding values, and returns the rendered objects.
func render(t *testing.T, values string) []object {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"template", releaseName, chartDir, "--namespace", releaseNamespace, "--kube-version", kubeVersion,
		"--values", file}
	cmd := exec.Command(helmBin, args...)
	// Keep helm away from the user's configuration and caches.
	home := filepath.Join(tmpDir, "helm-home")
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home+"/config", "HELM_CACHE_HOME="+home+"/cache",
		"HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template with values\n%s\n%v\n%s", values, err, stderr.String())
	}
	var out []object
	r := utilyaml.NewYAMLReader(bufio.NewReader(&stdout))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading rendered YAML: %v", err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // a document holding only comments
		}
		o := object{JSON: js}
		if err := json.Unmarshal(js, &o); err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		out = append(out, o)
	}
}

// find decodes the rendered object of a kind and name into v.
func find(t *testing.T, objs []object, kind, name string, v any) {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			if err := json.Unmarshal(o.JSON, v); err != nil {
				t.Fatalf("decoding %s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("the rendered chart has no %s %s", kind, name)
}

// prometheusRule is the part of a monitoring.coreos.com/v1 PrometheusRule the tests read. Groups stays raw for the
// rules file, so that promtool reads every field the chart renders, including any this struct does not know.
type prometheusRule struct {
	Spec struct {
		Groups json.RawMessage `json:"groups"`
	} `json:"spec"`
}

type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// renderedRules renders the chart with values (which enable the PrometheusRule) and returns its groups, raw and
// decoded.
func renderedRules(t *testing.T, values string) (json.RawMessage, []ruleGroup) {
	t.Helper()
	var pr prometheusRule
	find(t, render(t, values), "PrometheusRule", releaseName, &pr)
	var groups []ruleGroup
	if err := json.Unmarshal(pr.Spec.Groups, &groups); err != nil {
		t.Fatalf("decoding the PrometheusRule's groups: %v", err)
	}
	return pr.Spec.Groups, groups
}

// prometheusRuleEnabled are the values that render the PrometheusRule, the rest left at the chart's defaults.
const prometheusRuleEnabled = "monitoring: {prometheusRule: {enabled: true}}\n"

// renderedDashboard renders the chart with the dashboard enabled and returns the dashboard JSON its ConfigMap holds.
func renderedDashboard(t *testing.T) []byte {
	t.Helper()
	var cm struct{ Data map[string]string }
	find(t, render(t, "monitoring: {dashboard: {enabled: true}}\n"), "ConfigMap", releaseName+"-dashboard", &cm)
	js, ok := cm.Data["ha-webhook.json"]
	if !ok {
		t.Fatalf("the dashboard ConfigMap has no key ha-webhook.json; keys: %v", cm.Data)
	}
	return []byte(js)
}
