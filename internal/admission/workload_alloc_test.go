// The race detector adds allocations of its own: the allocation gates are built without it, so that they never skip
// (CI runs them without -race; make unit, with -race, leaves them out).

//go:build !race

package admission

import (
	"context"
	"fmt"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// TestDeploymentHandlerAllocations is a regression gate for the admission adapter on a compliant Deployment in a
// namespace with ten PDBs and ten HPAs (decode.go, the matchLabels pre-check in pdb.go). The budget is the figure
// measured when the gate was written plus a small margin; raise it only with a reason.
func TestDeploymentHandlerAllocations(t *testing.T) {
	const budget = 65 // measured 58 (Go 1.26, k8s.io/apimachinery v0.37.2)
	var c validate.Cluster
	for i := range 9 {
		app := fmt.Sprintf("app-%d", i)
		c.PDBs = append(c.PDBs, fixture.PDB(app, fixture.SelectApp(app), nil, fixture.IntOrStr("1")))
		c.HPAs = append(c.HPAs, fixture.HPA(app, "apps/v1", "Deployment", app, fixture.Replicas(2)))
	}
	c.PDBs = append(c.PDBs, fixture.MaxUnavailable("web", "1"))
	c.HPAs = append(c.HPAs, fixture.WebHPA(fixture.Replicas(3)))
	h := NewWorkloadHandler(validate.DefaultOptions(), fixedMode(policy.ModeEnforce), fixedCluster(c), nopRecorder{})
	req := deploymentRequest(t, admissionv1.Create, fixture.Deployment("web", fixture.Replicas(3)), nil)
	var resp cradmission.Response
	allocs := testing.AllocsPerRun(200, func() { resp = h.Handle(context.Background(), req) })
	t.Logf("DeploymentHandler.Handle: %.0f allocations per request", allocs)
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("the measured Deployment is not compliant: %+v", resp)
	}
	if allocs > budget {
		t.Errorf("DeploymentHandler.Handle made %.0f allocations per request, budget %d", allocs, budget)
	}
}
