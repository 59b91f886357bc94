package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

const (
	unitTestsFile  = "testdata/alerts_test.yaml"
	rulesFileName  = "ha-webhook.rules.yaml" // the rule_files entry of unitTestsFile
	defaultRunbook = "https://github.com/ha-webhook/ha-webhook/blob/main/docs/runbooks.md"
)

// The alerts the chart renders, evaluated by promtool on the series of testdata/alerts_test.yaml: `promtool check
// rules` on the PrometheusRule's groups, then `promtool test rules`. The unit tests must show each alert firing and
// staying silent, its `for:` one evaluation before it elapses, and the annotations as they are rendered.
func TestAlertRules(t *testing.T) {
	raw, groups := renderedRules(t, prometheusRuleEnabled)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, rulesFileName)
	writeRulesFile(t, rulesFile, raw)
	// promtool reads rule_files relative to the test file: both go in one directory.
	unitTests, err := os.ReadFile(unitTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	testsFile := filepath.Join(dir, filepath.Base(unitTestsFile))
	if err := os.WriteFile(testsFile, unitTests, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("promtool check rules", func(t *testing.T) {
		out, err := promtool("check", "rules", rulesFile)
		t.Logf("promtool check rules:\n%s", out)
		if err != nil {
			t.Fatalf("promtool check rules %s: %v", rulesFile, err)
		}
		if !strings.Contains(out, "SUCCESS") {
			t.Errorf("promtool check rules reported no SUCCESS")
		}
	})
	t.Run("promtool test rules", func(t *testing.T) {
		out, err := promtool("test", "rules", testsFile)
		t.Logf("promtool test rules:\n%s", out)
		if err != nil {
			t.Fatalf("promtool test rules %s: %v (rules under test: %s)", unitTestsFile, err, rulesFile)
		}
	})
	t.Run("every alert is shown to fire and to stay silent", func(t *testing.T) {
		checkCoverage(t, groups, unitTests)
	})
}

// writeRulesFile writes a Prometheus rules file holding groups, as the Prometheus Operator writes a PrometheusRule.
func writeRulesFile(t *testing.T, path string, groups json.RawMessage) {
	t.Helper()
	js, err := json.Marshal(map[string]json.RawMessage{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, y, 0o600); err != nil {
		t.Fatal(err)
	}
}

// promtool runs promtool of the Prometheus version this module pins (its go.mod tool directive); `go tool` builds it
// once and keeps the binary in the build cache.
func promtool(args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"tool", "promtool"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// unitTestFile is the part of promtool's unit-test format the coverage check reads.
type unitTestFile struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Name  string `json:"name"`
		Cases []struct {
			EvalTime  string            `json:"eval_time"`
			Alertname string            `json:"alertname"`
			ExpAlerts []json.RawMessage `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// checkCoverage fails unless the unit tests, for every alert of groups, hold a case where it fires and one where it
// stays silent, and for an alert with `for:` a silent case one evaluation before a firing one in the same test
// (the hold is what is checked). A case naming no alert of the rules passes vacuously in promtool: it fails here.
func checkCoverage(t *testing.T, groups []ruleGroup, unitTests []byte) {
	var f unitTestFile
	if err := yaml.Unmarshal(unitTests, &f); err != nil {
		t.Fatalf("%s: %v", unitTestsFile, err)
	}
	if diff := cmp.Diff([]string{rulesFileName}, f.RuleFiles); diff != "" {
		t.Errorf("%s rule_files (-want +got):\n%s", unitTestsFile, diff)
	}
	interval := parseDuration(t, f.EvaluationInterval)
	type coverage struct{ fires, silent, hold bool }
	covered := map[string]*coverage{}
	holds := map[string]string{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				covered[r.Alert] = &coverage{}
				holds[r.Alert] = r.For
			}
		}
	}
	for _, test := range f.Tests {
		silentAt := map[string][]time.Duration{}
		for _, c := range test.Cases {
			cov, ok := covered[c.Alertname]
			if !ok {
				t.Errorf("test %q: alertname %q is no alert of the chart", test.Name, c.Alertname)
				continue
			}
			if len(c.ExpAlerts) == 0 {
				cov.silent = true
				silentAt[c.Alertname] = append(silentAt[c.Alertname], parseDuration(t, c.EvalTime))
			}
		}
		for _, c := range test.Cases {
			if cov, ok := covered[c.Alertname]; ok && len(c.ExpAlerts) > 0 {
				cov.fires = true
				if slices.Contains(silentAt[c.Alertname], parseDuration(t, c.EvalTime)-interval) {
					cov.hold = true
				}
			}
		}
	}
	for alert, cov := range covered {
		if !cov.fires {
			t.Errorf("%s: no case in %s where it fires", alert, unitTestsFile)
		}
		if !cov.silent {
			t.Errorf("%s: no case in %s where it stays silent", alert, unitTestsFile)
		}
		if holds[alert] != "" && !cov.hold {
			t.Errorf("%s (for: %s): no test in %s where it is silent one evaluation (%s) before it fires", alert,
				holds[alert], unitTestsFile, interval)
		}
	}
}

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := model.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: duration %q: %v", unitTestsFile, s, err)
	}
	return time.Duration(d)
}

// Every alert carries a severity, a summary, a description and a runbook_url pointing at its own section of
// docs/runbooks.md (and every alert section there belongs to an alert); the values that shape the rules do so:
// runbookBaseURL, alertLabels (which never override severity), job and the thresholds.
func TestAlertConventions(t *testing.T) {
	anchors := runbookAnchors(t)
	tests := map[string]struct {
		values     string
		runbook    string
		job        string
		extra      map[string]string
		thresholds []string
	}{
		"defaults": {values: prometheusRuleEnabled, runbook: defaultRunbook, job: releaseName,
			thresholds: []string{"> 0.05", "< 14 * 86400", "> 1800"}},
		"custom values": {
			values: `
monitoring:
  prometheusRule:
    enabled: true
    runbookBaseURL: https://wiki.example.com/ha-webhook/
    alertLabels: {team: platform, severity: page}
    job: kubernetes-pods
    errorRatio: 0.2
    certificateExpiryDays: 30
    auditStaleSeconds: 3600
`,
			runbook: "https://wiki.example.com/ha-webhook", job: "kubernetes-pods", extra: map[string]string{"team": "platform"},
			thresholds: []string{"> 0.2", "< 30 * 86400", "> 3600"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, groups := renderedRules(t, tc.values)
			var exprs []string
			alerts := 0
			for _, g := range groups {
				for _, r := range g.Rules {
					if r.Alert == "" {
						t.Errorf("group %s: a recording rule (%s): the chart renders alerts only", g.Name, r.Record)
						continue
					}
					alerts++
					exprs = append(exprs, r.Expr)
					checkAlert(t, r, tc.runbook, tc.job, tc.extra, anchors)
				}
			}
			if alerts == 0 {
				t.Fatal("the PrometheusRule holds no alert")
			}
			all := strings.Join(exprs, "\n")
			for _, th := range tc.thresholds {
				if !strings.Contains(all, th) {
					t.Errorf("no alert expression compares %q:\n%s", th, all)
				}
			}
		})
	}
	t.Run("every runbook section is an alert's", func(t *testing.T) {
		_, groups := renderedRules(t, prometheusRuleEnabled)
		alerts := map[string]bool{}
		for _, g := range groups {
			for _, r := range g.Rules {
				alerts[strings.ToLower(r.Alert)] = true
			}
		}
		for anchor, heading := range anchors {
			if strings.HasPrefix(heading, "HAWebhook") && !alerts[anchor] {
				t.Errorf("docs/runbooks.md has a section %q but the chart has no such alert", heading)
			}
		}
	})
}

func checkAlert(t *testing.T, r rule, runbook, job string, extra map[string]string, anchors map[string]string) {
	t.Helper()
	if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
		t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
	}
	for k, v := range extra {
		if r.Labels[k] != v {
			t.Errorf("%s: label %s=%q, want %q (monitoring.prometheusRule.alertLabels)", r.Alert, k, r.Labels[k], v)
		}
	}
	var keys []string
	for k, v := range r.Annotations {
		keys = append(keys, k)
		if strings.TrimSpace(v) == "" {
			t.Errorf("%s: annotation %s is empty", r.Alert, k)
		}
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"description", "runbook_url", "summary"}, keys); diff != "" {
		t.Errorf("%s: annotations (-want +got):\n%s", r.Alert, diff)
	}
	anchor := strings.ToLower(r.Alert)
	if want := runbook + "#" + anchor; r.Annotations["runbook_url"] != want {
		t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
	}
	if _, ok := anchors[anchor]; !ok {
		t.Errorf("%s: docs/runbooks.md has no section with anchor #%s (a heading \"## %s\")", r.Alert, anchor, r.Alert)
	}
	// Every selector names the job, so that the alert never matches another application's series.
	expr, err := newParser().ParseExpr(r.Expr)
	if err != nil {
		t.Fatalf("%s: %v", r.Alert, err)
	}
	for _, vs := range vectorSelectors(expr) {
		if !selects(vs, "job", job) {
			t.Errorf("%s: selector %s does not select job=%q", r.Alert, vs, job)
		}
	}
}

// runbookAnchors maps the anchor GitHub gives each heading of docs/runbooks.md to the heading's text.
func runbookAnchors(t *testing.T) map[string]string {
	t.Helper()
	md, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	// Lines starting with # inside code blocks are no headings.
	md = regexp.MustCompile("(?ms)^```.*?^```").ReplaceAll(md, nil)
	anchors := map[string]string{}
	heading := regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
	unsafe := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, m := range heading.FindAllStringSubmatch(string(md), -1) {
		slug := strings.ReplaceAll(unsafe.ReplaceAllString(strings.ToLower(m[1]), ""), " ", "-")
		anchors[slug] = m[1]
	}
	return anchors
}
