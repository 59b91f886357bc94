// The race detector adds allocations of its own: the allocation gates are built without it, so that they never skip
// (CI runs them without -race; make unit, with -race, leaves them out).

//go:build !race

package validate

import (
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
)

// TestDeploymentAllocations is a regression gate for the rules on a namespace with ten PDBs (one selecting the
// Deployment, one with set-based selectors, the others for other apps) and two HPAs. The budget is the figure
// measured when the gate was written plus a small margin; raise it only with a reason.
func TestDeploymentAllocations(t *testing.T) {
	const budget = 35 // measured 29 (Go 1.26, k8s.io/apimachinery v0.37.2); 116 before the matchLabels pre-check in pdb.go
	d := fixture.Deployment("web", fixture.Replicas(3))
	d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "frontend", "team": "shop"}
	c := Cluster{HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("api", "apps/v1", "Deployment", "api", fixture.Replicas(2)), fixture.WebHPA(fixture.Replicas(3))}}
	for i := range 8 {
		c.PDBs = append(c.PDBs, fixture.PDB(fmt.Sprintf("app-%d", i), fixture.SelectApp(fmt.Sprintf("app-%d", i)), nil, fixture.IntOrStr("1")))
	}
	c.PDBs = append(c.PDBs,
		fixture.PDB("batch", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"batch", "cron"}}}}, nil, fixture.IntOrStr("1")),
		fixture.MaxUnavailable("web", "25%"))
	opts := DefaultOptions()

	var v Verdict
	allocs := testing.AllocsPerRun(200, func() { v = Deployment(d, c, opts) })
	t.Logf("validate.Deployment with %d PDBs: %.0f allocations per call", len(c.PDBs), allocs)
	if len(v.Violations) != 0 || len(v.Advisories) != 0 {
		t.Fatalf("the measured Deployment is not compliant: %v %v", rules(v.Violations), rules(v.Advisories))
	}
	if allocs > budget {
		t.Errorf("validate.Deployment made %.0f allocations per call, budget %d", allocs, budget)
	}
}
