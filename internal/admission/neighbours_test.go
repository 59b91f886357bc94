package admission

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// TestWorkloadWriteWarnsNeighbours: scaling web to 0 under the shared PDB shop (minAvailable 3 over web 2 + api 2)
// leaves api's PDB expecting 2 pods and allowing 0 evictions. web's own write passes (scaled to 0), in both modes;
// the answer warns about api and never denies for it.
func TestWorkloadWriteWarnsNeighbours(t *testing.T) {
	for _, mode := range []policy.Mode{policy.ModeEnforce, policy.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			c := sharedCluster()
			c.PDBs = []*policyv1.PodDisruptionBudget{alwaysAllow(fixture.PDB("shop", fixture.SelectLabels("part-of", "shop"), fixture.IntOrStr("3"), nil))}
			h := &ScaleHandler{Kind: validate.KindDeployment, Workloads: NewWorkloadHandler(validate.DefaultOptions(), fixedMode(mode), fixedCluster(c), &violationCounter{}),
				Get: func(context.Context, string, string, string) (validate.Workload, error) { return c.Workloads[0], nil }}
			req := scaleRequest(t, admissionv1.Update, scale(0), scale(2))
			resp := complete(t, req, h.Handle(context.Background(), req))
			if !resp.Allowed {
				t.Fatalf("denied: %+v", resp.Result)
			}
			want := []string{"ha-webhook: a shared PDB: deployment/api: PDB shop (minAvailable 3) allows 0 evictions at 2 shared pods: drains stall"}
			if diff := cmp.Diff(want, resp.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if got := resp.AuditAnnotations["neighbour-violations"]; got != validate.RulePDBBlocksDrain {
				t.Errorf("audit annotation neighbour-violations = %q", got)
			}
		})
	}
	// A workload with a PDB of its own warns about nobody.
	h := NewWorkloadHandler(validate.DefaultOptions(), fixedMode(policy.ModeEnforce), fixedCluster(writeCluster()), &violationCounter{})
	req := deploymentRequest(t, admissionv1.Update, fixture.Deployment("web", fixture.Replicas(2)), fixture.Deployment("web", fixture.Replicas(3)))
	if resp := complete(t, req, h.Handle(context.Background(), req)); !resp.Allowed || strings.Contains(strings.Join(resp.Warnings, "\n"), "shared PDB") {
		t.Errorf("a PDB of its own: %+v %q", resp.Result, resp.Warnings)
	}
}
