package validate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
)

// TestWorkloadWrite: a write of one workload under a shared PDB changes the budget its neighbours are judged by.
// web(2) and api(2) share PDB shop; expected counts from getExpectedPodCount as in TestSharedPDB.
func TestWorkloadWrite(t *testing.T) {
	web2, api2 := dw(partOf("web", 2)), dw(partOf("api", 2))
	shared := func(p *policyv1.PodDisruptionBudget) Cluster {
		return Cluster{PDBs: []*policyv1.PodDisruptionBudget{p}, Workloads: []Workload{web2, api2}}
	}
	tests := map[string]struct {
		old     *Workload
		w       Workload
		cluster Cluster
		want    []string
	}{
		// minAvailable 3: of 4 pods 1 may go; with web at 0, api's 2 pods are all the PDB expects: 0 may go.
		"scaling web to 0 makes api's PDB block drains": {
			old: &web2, w: dw(partOf("web", 0)), cluster: shared(shopPDB("3", "")),
			want: []string{"Deployment shop/api: pdb-blocks-drain"},
		},
		// maxUnavailable 50%: of 4 pods 2 may go (all of api's); of 12, 6 — api is unprotected either way: no change.
		"scaling web up when api is unprotected already adds nothing": {
			old: &web2, w: dw(partOf("web", 10)), cluster: shared(shopPDB("", "50%")),
		},
		// minAvailable 1: api alone may lose 1 of its 2 pods (fine); with web's 2 created, 3 of 4 may go: all of api's.
		"creating web under the shared PDB leaves api unprotected": {
			w: web2, cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("1", "")}, Workloads: []Workload{api2}},
			want: []string{"Deployment shop/api: pdb-unprotective"},
		},
		"a workload with a PDB of its own touches nobody": {
			old: &web2, w: dw(partOf("web", 0)),
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.PDB("web", fixture.SelectLabels("app", "web"), fixture.IntOrStr("1"), nil)}, Workloads: []Workload{web2, api2}},
		},
		"no other workload": {
			old: &web2, w: dw(partOf("web", 0)), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("3", "")}, Workloads: []Workload{web2}},
		},
		// web moves out of the shared PDB: api's count drops from 4 to 2 under minAvailable 3.
		"relabelling web out of the shared PDB": {
			old: &web2, w: dw(fixture.TemplateLabels(fixture.Deployment("web", fixture.Replicas(2)), "app", "web")), cluster: shared(shopPDB("3", "")),
			want: []string{"Deployment shop/api: pdb-blocks-drain"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, summary(WorkloadWrite(tc.old, tc.w, tc.cluster, DefaultOptions()))); diff != "" {
				t.Errorf("impacts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
