package audit

import (
	"encoding/json"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/text"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// The PolicyReport API (wgpolicyk8s.io/v1alpha2) that Kyverno, Kubescape and Policy Reporter read. Its Go types
// live in Kyverno's module, whose dependency tree would enter ha-webhook's go.mod for four structs; these are the
// fields ha-webhook writes, with the CRD's JSON names, checked against the real CRD in test/integration.
var PolicyReportGVK = schema.GroupVersionKind{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: "PolicyReport"}

const (
	// PolicyReportName is the one report per opted-in namespace.
	PolicyReportName = "ha-webhook"
	// Source and Policy name ha-webhook in each result.
	Source = "ha-webhook"
	Policy = "ha-webhook"
	// Category groups the results in Policy Reporter's views.
	Category = "Availability"
	// MaxResults bounds a report: an object must stay far below etcd's request limit (1.5 MiB) whatever the
	// namespace holds. Passes are dropped first; the summary always counts every result.
	MaxResults = 1000
)

// Result values of the CRD.
const (
	ResultPass = "pass"
	ResultFail = "fail"
	ResultWarn = "warn"
	ResultSkip = "skip"
)

// PolicyReport is the content of one namespace's report.
type PolicyReport struct {
	Namespace string
	Summary   PolicyReportSummary
	Results   []PolicyReportResult
	// Omitted counts results left out to stay within MaxResults.
	Omitted int
}

// PolicyReportSummary counts the results by outcome (the CRD's summary).
type PolicyReportSummary struct {
	Pass  int `json:"pass"`
	Fail  int `json:"fail"`
	Warn  int `json:"warn"`
	Error int `json:"error"`
	Skip  int `json:"skip"`
}

// PolicyReportResult is one rule's outcome on one object (the CRD's results[]).
type PolicyReportResult struct {
	Source     string            `json:"source"`
	Policy     string            `json:"policy"`
	Rule       string            `json:"rule"`
	Category   string            `json:"category"`
	Severity   string            `json:"severity"`
	Result     string            `json:"result"`
	Scored     bool              `json:"scored"`
	Message    string            `json:"message"`
	Properties map[string]string `json:"properties,omitempty"`
	// Resources is the one object the result is about.
	Resources []corev1.ObjectReference `json:"resources"`
}

// severity ranks a rule by what it does to an upgrade: a drain that stalls or traffic that is cut is high.
func severity(rule string) string {
	switch rule {
	case validate.RuleMinReplicas, validate.RulePDBMissing, validate.RulePDBBlocksDrain:
		return "high"
	case validate.RulePDBMultiple, validate.RulePDBUnprotective:
		return "medium"
	}
	return "low"
}

// PolicyReports builds one report per namespace of r, results per workload and rule: for each rule of
// validate.WorkloadRules a fail (a violation), skip (the workload is exempt: the violation is only an advisory) or
// pass; a warn per warning-only finding, on workloads and on PDBs (pdb-unhealthy-eviction). Results keep r's order.
func PolicyReports(r report.Report) []PolicyReport {
	byNS := map[string]*PolicyReport{}
	var out []*PolicyReport
	for _, ns := range r.Namespaces {
		p := &PolicyReport{Namespace: ns.Name}
		byNS[ns.Name] = p
		out = append(out, p)
	}
	add := func(ns string, res PolicyReportResult) {
		if p, ok := byNS[ns]; ok {
			p.Results = append(p.Results, res)
		}
	}
	for _, w := range r.Workloads {
		ref := corev1.ObjectReference{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID}
		for _, res := range workloadResults(w) {
			res.Resources = []corev1.ObjectReference{ref}
			add(w.Namespace, res)
		}
	}
	for _, p := range r.PDBWarnings {
		add(p.Namespace, result(p.Rule, ResultWarn, p.Why, p.Fix, corev1.ObjectReference{
			APIVersion: policyv1.SchemeGroupVersion.String(), Kind: "PodDisruptionBudget", Namespace: p.Namespace, Name: p.Name,
		}))
	}
	reports := make([]PolicyReport, 0, len(out))
	for _, p := range out {
		p.bound()
		reports = append(reports, *p)
	}
	return reports
}

// workloadResults are one workload's results, without the resource.
func workloadResults(w report.Workload) []PolicyReportResult {
	v := w.Result
	find := func(vs []validate.Violation, rule string) (validate.Violation, bool) {
		for _, x := range vs {
			if x.Rule == rule {
				return x, true
			}
		}
		return validate.Violation{}, false
	}
	var out []PolicyReportResult
	for _, rule := range validate.WorkloadRules() {
		if x, ok := find(v.Violations, rule); ok {
			out = append(out, result(rule, ResultFail, x.Why, x.Fix))
		} else if x, ok := find(v.Advisories, rule); ok && v.Exemption != "" {
			out = append(out, result(rule, ResultSkip, fmt.Sprintf("exempt (%s=%s): %s", names.AnnotationExempt, text.Quote(v.Exemption), x.Why), x.Fix))
		} else {
			out = append(out, result(rule, ResultPass, "", ""))
		}
	}
	for _, x := range v.Advisories {
		if slices.Contains(validate.WorkloadRules(), x.Rule) {
			continue // an exempt workload's violation, reported above as a skip
		}
		out = append(out, result(x.Rule, ResultWarn, x.Why, x.Fix))
	}
	return out
}

func result(rule, outcome, why, fix string, refs ...corev1.ObjectReference) PolicyReportResult {
	res := PolicyReportResult{
		Source: Source, Policy: Policy, Rule: rule, Category: Category, Severity: severity(rule), Result: outcome,
		Scored: true, Message: why, Resources: refs,
	}
	if outcome == ResultPass {
		res.Message = "passed"
	}
	if fix != "" {
		res.Properties = map[string]string{"fix": fix}
	}
	return res
}

// bound counts the results and keeps at most MaxResults of them, in order: every failure, warning and skip, and as
// many passes as fit; beyond MaxResults non-passes, the first ones.
func (p *PolicyReport) bound() {
	p.Summary = PolicyReportSummary{}
	for _, r := range p.Results {
		switch r.Result {
		case ResultPass:
			p.Summary.Pass++
		case ResultFail:
			p.Summary.Fail++
		case ResultWarn:
			p.Summary.Warn++
		case ResultSkip:
			p.Summary.Skip++
		}
	}
	if len(p.Results) <= MaxResults {
		return
	}
	passRoom := MaxResults - (len(p.Results) - p.Summary.Pass)
	var kept []PolicyReportResult
	for _, r := range p.Results {
		if r.Result == ResultPass {
			if passRoom <= 0 {
				continue
			}
			passRoom--
		}
		kept = append(kept, r)
	}
	if len(kept) > MaxResults {
		kept = kept[:MaxResults]
	}
	p.Omitted = len(p.Results) - len(kept)
	p.Results = kept
}

// policyReportObject is the stored form: what PolicyReport's Object encodes.
type policyReportObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Summary           PolicyReportSummary  `json:"summary"`
	Results           []PolicyReportResult `json:"results"`
}

// Object is the report as the API server stores it: name, label, and, when results were omitted, an annotation
// saying how many.
func (p PolicyReport) Object() (*unstructured.Unstructured, error) {
	o := policyReportObject{
		TypeMeta: metav1.TypeMeta{APIVersion: PolicyReportGVK.GroupVersion().String(), Kind: PolicyReportGVK.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name: PolicyReportName, Namespace: p.Namespace, Labels: map[string]string{names.LabelManagedBy: names.ManagedByValue},
		},
		Summary: p.Summary,
		Results: p.Results,
	}
	if o.Results == nil {
		o.Results = []PolicyReportResult{}
	}
	if p.Omitted > 0 {
		o.Annotations = map[string]string{names.AnnotationOmittedResults: fmt.Sprint(p.Omitted)}
	}
	// Through JSON, so that the unstructured content holds only JSON types (what its deep copy and the API expect).
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return u, nil
}
