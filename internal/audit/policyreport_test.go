package audit

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestPolicyReportGolden: one namespace with a compliant, a violating and an exempt workload, rendered as the API
// server stores the report.
func TestPolicyReportGolden(t *testing.T) {
	r := newCluster().
		deployment("web", 2).pdb("web", "1").
		deployment("api", 1).
		deployment("legacy", 1, names.AnnotationExempt, "single writer").
		report()
	reports := PolicyReports(r)
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1 (one per opted-in namespace)", len(reports))
	}
	obj, err := reports[0].Object()
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "policyreport.yaml", out)
	want := PolicyReportSummary{Pass: 5 + 3 + 3, Fail: 2, Skip: 2}
	if d := cmp.Diff(want, reports[0].Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
}

// TestPolicyReportStaysBounded: a namespace with more results than MaxResults keeps the failures, drops passes
// first, counts every result in the summary and says how many it left out.
func TestPolicyReportStaysBounded(t *testing.T) {
	tests := map[string]struct {
		compliant, violating int
		wantKept, wantFail   int
	}{
		"under the bound":             {compliant: 10, violating: 10, wantKept: 100, wantFail: 20},
		"passes dropped":              {compliant: 300, violating: 100, wantKept: MaxResults, wantFail: 200},
		"failures beyond the bound":   {compliant: 0, violating: 600, wantKept: MaxResults, wantFail: 1200},
		"exactly the bound is intact": {compliant: 200, violating: 0, wantKept: 1000, wantFail: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newCluster()
			for i := range tc.compliant {
				n := fmt.Sprintf("ok-%d", i)
				c.deployment(n, 2).pdb(n, "1")
			}
			for i := range tc.violating {
				c.deployment(fmt.Sprintf("bad-%d", i), 1)
			}
			p := PolicyReports(c.report())[0]
			total := (tc.compliant + tc.violating) * 5
			if got := len(p.Results); got != tc.wantKept || got > MaxResults {
				t.Errorf("kept %d results, want %d (bound %d)", got, tc.wantKept, MaxResults)
			}
			if p.Summary.Fail != tc.wantFail || p.Summary.Pass+p.Summary.Fail != total {
				t.Errorf("summary %+v, want %d failures of %d results", p.Summary, tc.wantFail, total)
			}
			if p.Omitted != total-len(p.Results) {
				t.Errorf("omitted %d, want %d", p.Omitted, total-len(p.Results))
			}
			obj, err := p.Object()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := obj.GetAnnotations()[names.AnnotationOmittedResults], fmt.Sprint(p.Omitted); p.Omitted > 0 && got != want {
				t.Errorf("annotation %s = %q, want %q", names.AnnotationOmittedResults, got, want)
			}
		})
	}
}
