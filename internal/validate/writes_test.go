package validate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// summary renders impacts as "Deployment shop/web: rule,rule", one per impact, for comparison.
func summary(impacts []Impact) []string {
	var out []string
	for _, im := range impacts {
		if len(im.Added) == 0 {
			out = append(out, im.Workload.String()+": (nothing added)")
			continue
		}
		out = append(out, im.Workload.String()+": "+strings.Join(rules(im.Added), ","))
	}
	return out
}

func appPDB(name, app, minAvail, maxUnavail string) *policyv1.PodDisruptionBudget {
	p := shopPDB(minAvail, maxUnavail)
	p.Name, p.Spec.Selector = name, fixture.SelectApp(app)
	return p
}

func TestPDBWrite(t *testing.T) {
	web, api := dw(fixture.Deployment("web", fixture.Replicas(3))), dw(fixture.Deployment("api", fixture.Replicas(3)))
	webPDB, apiPDB := fixture.MaxUnavailable("web", "1"), appPDB("api", "api", "", "1")
	both := Cluster{PDBs: []*policyv1.PodDisruptionBudget{webPDB, apiPDB}, Workloads: []Workload{web, api}}
	withPDBs := func(c Cluster, ps ...*policyv1.PodDisruptionBudget) Cluster {
		c.PDBs = ps
		return c
	}
	exemptWeb := func() Workload {
		w := web
		w.Annotations = map[string]string{names.AnnotationExempt: "INC-1"}
		return w
	}()
	web2, api2 := dw(partOf("web", 2)), dw(partOf("api", 2))
	tests := map[string]struct {
		old, new *policyv1.PodDisruptionBudget
		cluster  Cluster
		opts     func(*Options)
		want     []string
	}{
		"patch to maxUnavailable 0 adds pdb-blocks-drain": {
			old: webPDB, new: fixture.MaxUnavailable("web", "0"), cluster: both,
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"patch to minAvailable 100% adds pdb-blocks-drain": {
			old: webPDB, new: fixture.MinAvailable("web", "100%"), cluster: both,
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"patch to maxUnavailable 100% adds pdb-unprotective": {
			old: webPDB, new: fixture.MaxUnavailable("web", "100%"), cluster: both,
			want: []string{"Deployment shop/web: pdb-unprotective"},
		},
		"patch removing both budget fields adds pdb-blocks-drain": {
			old: webPDB, new: fixture.PDB("web", fixture.SelectApp("web"), nil, nil), cluster: both,
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"a second PDB over the same pods adds pdb-multiple": {
			new: fixture.MaxUnavailable("web-v2", "1"), cluster: both,
			want: []string{"Deployment shop/web: pdb-multiple"},
		},
		"a PDB over every pod adds pdb-multiple to each": {
			new: fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("1")), cluster: both,
			want: []string{"Deployment shop/api: pdb-multiple", "Deployment shop/web: pdb-multiple"},
		},
		"delete adds pdb-missing": {
			old: webPDB, cluster: both, want: []string{"Deployment shop/web: pdb-missing"},
		},
		"delete while the cache already lost the PDB": {
			old: webPDB, cluster: withPDBs(both, apiPDB), want: []string{"Deployment shop/web: pdb-missing"},
		},
		"delete of one of two PDBs adds nothing": {
			old: fixture.MaxUnavailable("web-v1", "1"), cluster: withPDBs(both, webPDB, fixture.MaxUnavailable("web-v1", "1"), apiPDB),
		},
		"delete of one of two PDBs leaving a blocking one adds pdb-blocks-drain": {
			old: webPDB, cluster: withPDBs(both, webPDB, fixture.MaxUnavailable("web-v1", "0"), apiPDB),
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"create of the first PDB adds nothing": {
			new: webPDB, cluster: withPDBs(both, apiPDB),
		},
		"create of a first PDB that blocks: pdb-missing goes, pdb-blocks-drain comes": {
			new: fixture.MaxUnavailable("web", "0"), cluster: withPDBs(both, apiPDB),
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"create while the cache already has it adds nothing": {
			new: webPDB, cluster: both,
		},
		"no-op update adds nothing": {
			old: webPDB, new: webPDB.DeepCopy(), cluster: both,
		},
		"no-op update of a blocking PDB adds nothing": {
			old: fixture.MaxUnavailable("web", "0"), new: fixture.MaxUnavailable("web", "0"),
			cluster: withPDBs(both, fixture.MaxUnavailable("web", "0"), apiPDB),
		},
		"no-op update while the cache lags adds nothing": {
			old: webPDB, new: webPDB.DeepCopy(), cluster: withPDBs(both, apiPDB),
		},
		"a fixing write adds nothing": {
			old: fixture.MaxUnavailable("web", "0"), new: webPDB, cluster: withPDBs(both, fixture.MaxUnavailable("web", "0"), apiPDB),
		},
		"an update that unblocks passes": {
			old: fixture.MinAvailable("web", "3"), new: fixture.MinAvailable("web", "2"), cluster: withPDBs(both, fixture.MinAvailable("web", "3"), apiPDB),
		},
		// Ratcheting by rule: web blocks before and after.
		"one blocking budget for another adds nothing": {
			old: fixture.MaxUnavailable("web", "0"), new: fixture.MinAvailable("web", "100%"), cluster: withPDBs(both, fixture.MaxUnavailable("web", "0"), apiPDB),
		},
		// web(1) under minAvailable 1: min-replicas and the stall at 1 replica. maxUnavailable 1 fixes the stall
		// and leaves min-replicas, which was there before.
		"fixing one of two problems adds nothing": {
			old: fixture.MinAvailable("web", "1"), new: webPDB,
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MinAvailable("web", "1")}, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(1)))}},
		},
		"a selector moved to other pods: web loses, api doubles": {
			old: webPDB, new: appPDB("web", "api", "", "1"), cluster: both,
			want: []string{"Deployment shop/api: pdb-multiple", "Deployment shop/web: pdb-missing"},
		},
		"workloads not selected by old or new are untouched": {
			old: apiPDB, new: appPDB("api", "api", "", "0"),
			// web has no PDB (pdb-missing) and one replica (min-replicas): neither is the write's doing.
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{apiPDB}, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(1))), api}},
			want:    []string{"Deployment shop/api: pdb-blocks-drain"},
		},
		"exempt workloads add nothing": {
			old: webPDB, new: fixture.MaxUnavailable("web", "0"), cluster: Cluster{PDBs: both.PDBs, Workloads: []Workload{exemptWeb, api}},
		},
		"exempt workloads add nothing on delete": {
			old: webPDB, cluster: Cluster{PDBs: both.PDBs, Workloads: []Workload{exemptWeb, api}},
		},
		"exemption ignored when exemptions are disabled": {
			old: webPDB, new: fixture.MaxUnavailable("web", "0"), cluster: Cluster{PDBs: both.PDBs, Workloads: []Workload{exemptWeb, api}},
			opts: func(o *Options) { o.AllowExemptions = false },
			want: []string{"Deployment shop/web: pdb-blocks-drain"},
		},
		"a workload scaled to 0 adds nothing": {
			old: webPDB, cluster: Cluster{PDBs: both.PDBs, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(0)))}},
		},
		"a PDB with a nil selector touches nothing": {
			new: fixture.PDB("none", nil, nil, fixture.IntOrStr("0")), cluster: both,
		},
		"a StatefulSet": {
			old: dbPDB("1"), new: dbPDB("0"), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, Workloads: []Workload{sw(db(3)), web}},
			want: []string{"StatefulSet shop/db: pdb-blocks-drain"},
		},
		// A shared PDB over web(2)+api(2): maxUnavailable 1 allows 1 of 4; minAvailable 4 allows 0 for both.
		"a shared PDB made blocking names both workloads": {
			old: shopPDB("", "1"), new: shopPDB("4", ""),
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("", "1")}, Workloads: []Workload{web2, api2}},
			want:    []string{"Deployment shop/api: pdb-blocks-drain", "Deployment shop/web: pdb-blocks-drain"},
		},
		// maxUnavailable 2 of 4 lets all of web's 2 pods go.
		"a shared PDB made unprotective": {
			old: shopPDB("", "1"), new: shopPDB("", "2"),
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("", "1")}, Workloads: []Workload{web2, api2}},
			want:    []string{"Deployment shop/api: pdb-unprotective", "Deployment shop/web: pdb-unprotective"},
		},
		// minAvailable 3 over web(2)+api(2) allows 1: compliant, though each alone would block.
		"a shared PDB created compliant": {
			new: shopPDB("3", ""), cluster: Cluster{Workloads: []Workload{web2, api2}},
		},
		// Widening the selector from app=web to part-of=shop: web gains api's pods in its count (minAvailable 2 of
		// 2 blocked; of 4 it allows 2, unprotective), api gains a second PDB.
		"a widened selector changes the count and doubles api": {
			old: appPDB("web", "web", "2", ""), new: func() *policyv1.PodDisruptionBudget { p := shopPDB("2", ""); p.Name = "web"; return p }(),
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{appPDB("web", "web", "2", ""), appPDB("api", "api", "", "1")}, Workloads: []Workload{web2, api2}},
			want:    []string{"Deployment shop/api: pdb-multiple", "Deployment shop/web: pdb-unprotective"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			impacts := PDBWrite(tc.old, tc.new, tc.cluster, opts)
			if diff := cmp.Diff(tc.want, summary(impacts)); diff != "" {
				t.Errorf("impacts mismatch (-want +got):\n%s", diff)
			}
			for _, im := range impacts {
				for _, w := range im.Warnings("ha-webhook audit: ") {
					if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
						t.Errorf("warning of %d characters: %q", n, w)
					}
				}
			}
		})
	}
}

func TestHPAWrite(t *testing.T) {
	web, api := dw(fixture.Deployment("web", fixture.Replicas(3))), dw(fixture.Deployment("api", fixture.Replicas(3)))
	pdbsOf := []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1"), appPDB("api", "api", "", "1")}
	c := Cluster{PDBs: pdbsOf, Workloads: []Workload{web, api}}
	withHPAs := func(hs ...*autoscalingv2.HorizontalPodAutoscaler) Cluster {
		c := c
		c.HPAs = hs
		return c
	}
	webHPA := func(n int32) *autoscalingv2.HorizontalPodAutoscaler { return fixture.WebHPA(fixture.Replicas(n)) }
	web2, api2 := dw(partOf("web", 2)), dw(partOf("api", 2))
	tests := map[string]struct {
		old, new *autoscalingv2.HorizontalPodAutoscaler
		cluster  Cluster
		want     []string
	}{
		"created with minReplicas 1 adds min-replicas": {
			new: webHPA(1), cluster: c, want: []string{"Deployment shop/web: min-replicas"},
		},
		"created without minReplicas (1) adds min-replicas": {
			new: fixture.WebHPA(nil), cluster: c, want: []string{"Deployment shop/web: min-replicas"},
		},
		"created with minReplicas 2 adds nothing": {new: webHPA(2), cluster: c},
		"lowered from 3 to 1 adds min-replicas": {
			old: webHPA(3), new: webHPA(1), cluster: withHPAs(webHPA(3)), want: []string{"Deployment shop/web: min-replicas"},
		},
		"lowered while the cache lags adds min-replicas": {
			old: webHPA(3), new: webHPA(1), cluster: c, want: []string{"Deployment shop/web: min-replicas"},
		},
		"no-op update adds nothing":   {old: webHPA(1), new: webHPA(1), cluster: withHPAs(webHPA(1))},
		"a fixing write adds nothing": {old: webHPA(1), new: webHPA(3), cluster: withHPAs(webHPA(1))},
		"an HPA with extensions/v1beta1 counts": {
			new: fixture.HPA("web", "extensions/v1beta1", "Deployment", "web", fixture.Replicas(1)), cluster: c,
			want: []string{"Deployment shop/web: min-replicas"},
		},
		"a second HPA with a lower minimum adds min-replicas": {
			new: fixture.HPA("web-2", "apps/v1", "Deployment", "web", fixture.Replicas(1)), cluster: withHPAs(webHPA(3)),
			want: []string{"Deployment shop/web: min-replicas"},
		},
		// web at 1 replica under HPA minimum 3: retargeting the HPA to api leaves web at its spec.replicas.
		"retargeted: the workload it leaves is judged too": {
			old: fixture.HPA("hpa", "apps/v1", "Deployment", "web", fixture.Replicas(3)), new: fixture.HPA("hpa", "apps/v1", "Deployment", "api", fixture.Replicas(3)),
			cluster: Cluster{PDBs: pdbsOf, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(1))), api},
				HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("hpa", "apps/v1", "Deployment", "web", fixture.Replicas(3))}},
			want: []string{"Deployment shop/web: min-replicas"},
		},
		"an HPA of the StatefulSet web leaves the Deployment web alone": {
			new:     fixture.StatefulSetHPA("web", "web", fixture.Replicas(1)),
			cluster: Cluster{PDBs: pdbsOf, Workloads: []Workload{web, api, sw(fixture.StatefulSet("web", fixture.Replicas(3)))}},
			// The StatefulSet's pods carry app=web too: web's PDB selects all 6. web: 3 + 1 = 4, allowed 1 < 3.
			// The StatefulSet: at max(1, 2) = 2, 3+2 = 5, allowed 1 < 2; at 1, 4, allowed 1: no stall.
			want: []string{"StatefulSet shop/web: min-replicas"},
		},
		"an HPA of a workload the namespace lacks adds nothing": {
			new: fixture.HPA("ghost", "apps/v1", "Deployment", "ghost", fixture.Replicas(1)), cluster: c,
		},
		"an exempt workload adds nothing": {
			new: webHPA(1),
			cluster: Cluster{PDBs: pdbsOf, Workloads: []Workload{func() Workload {
				w := web
				w.Annotations = map[string]string{names.AnnotationExempt: "INC-2"}
				return w
			}(), api}},
		},
		"a workload scaled to 0 adds nothing": {
			new: webHPA(1), cluster: Cluster{PDBs: pdbsOf, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(0))), api}},
		},
		// web(2)+api(2) under minAvailable 3 (allowed 1). An HPA floor of 1 on web: web runs 1 + 2 = 3 pods, so
		// minAvailable 3 allows 0 — for web (the stall at 1 replica) and for api, which shares the budget.
		"an HPA on one workload of a shared PDB touches the other": {
			new: fixture.WebHPA(fixture.Replicas(1)), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("3", "")}, Workloads: []Workload{web2, api2}},
			want: []string{"Deployment shop/api: pdb-blocks-drain", "Deployment shop/web: min-replicas,pdb-blocks-drain"},
		},
		// An HPA floor of 4 on web: 4+2 = 6, minAvailable 3 allows 3 >= api's 2.
		"an HPA raising one workload of a shared PDB can leave the other unprotected": {
			new: fixture.WebHPA(fixture.Replicas(4)), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("3", "")}, Workloads: []Workload{web2, api2}},
			want: []string{"Deployment shop/api: pdb-unprotective"},
		},
		"an HPA of a StatefulSet": {
			new: fixture.StatefulSetHPA("db", "db", nil), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, Workloads: []Workload{sw(db(3))}},
			want: []string{"StatefulSet shop/db: min-replicas"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			impacts := HPAWrite(tc.old, tc.new, tc.cluster, DefaultOptions())
			if diff := cmp.Diff(tc.want, summary(impacts)); diff != "" {
				t.Errorf("impacts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddedRules(t *testing.T) {
	v := func(rule string) Violation { return Violation{Rule: rule} }
	tests := map[string]struct {
		impacts []Impact
		want    []string
	}{
		"none":  {},
		"empty": {impacts: []Impact{{Workload: dw(fixture.Deployment("web", nil))}}},
		"in order, each once": {
			impacts: []Impact{
				{Added: []Violation{v(RuleMinReplicas), v(RulePDBBlocksDrain)}},
				{Added: []Violation{v(RulePDBBlocksDrain), v(RulePDBMultiple)}},
				{Added: []Violation{v(RuleMinReplicas)}},
			},
			want: []string{RuleMinReplicas, RulePDBBlocksDrain, RulePDBMultiple},
		},
		"first seen first": {
			impacts: []Impact{{Added: []Violation{v(RulePDBMultiple)}}, {Added: []Violation{v(RulePDBMissing), v(RulePDBMultiple)}}},
			want:    []string{RulePDBMultiple, RulePDBMissing},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AddedRules(tc.impacts)); diff != "" {
				t.Errorf("AddedRules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteMessage(t *testing.T) {
	web2, api2 := dw(partOf("web", 2)), dw(partOf("api", 2))
	fix := `kubectl patch pdb shop -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}' (a blocked drain makes GKE wait up to 1h per node, then evict anyway)`
	tests := map[string]struct {
		object  string
		impacts []Impact
		want    []string
	}{
		"shared PDB made blocking": {
			object: "PodDisruptionBudget shop/shop",
			impacts: PDBWrite(shopPDB("", "1"), shopPDB("4", ""),
				Cluster{PDBs: []*policyv1.PodDisruptionBudget{shopPDB("", "1")}, Workloads: []Workload{web2, api2}}, DefaultOptions()),
			want: []string{"PodDisruptionBudget shop/shop would make node drains stall or cut traffic:", "Deployment shop/api: pdb-blocks-drain: PDB shop (minAvailable 4) allows 0 evictions at 4 shared pods: drains stall; fix: " + fix, "Deployment shop/web: pdb-blocks-drain: PDB shop (minAvailable 4) allows 0 evictions at 4 shared pods: drains stall; fix: " + fix},
		},
		"HPA lowered": {
			object: "HorizontalPodAutoscaler shop/web",
			impacts: HPAWrite(nil, fixture.WebHPA(fixture.Replicas(1)),
				Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, Workloads: []Workload{dw(fixture.Deployment("web", fixture.Replicas(3)))}}, DefaultOptions()),
			want: []string{
				"HorizontalPodAutoscaler shop/web would make node drains stall or cut traffic:",
				`Deployment shop/web: min-replicas: HPA web may scale to 1 replica(s), below 2: a drain then cuts all traffic; fix: kubectl patch hpa web -n shop --type=merge -p '{"spec":{"minReplicas":2}}'`,
			},
		},
		"a violation without a fix has no fix clause": {
			object:  "PodDisruptionBudget shop/web",
			impacts: []Impact{{Workload: sw(db(3)), Added: []Violation{{Rule: RulePDBMissing, Why: "gone"}}}},
			want:    []string{"PodDisruptionBudget shop/web would make node drains stall or cut traffic:", "StatefulSet shop/db: pdb-missing: gone"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, strings.Split(WriteMessage(tc.object, tc.impacts), "\n")); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteMessageDeterministic: the informer cache lists a namespace's workloads in no particular order; the
// denial text, the rules and so the "violations" audit annotation must not depend on it.
func TestWriteMessageDeterministic(t *testing.T) {
	ws := []Workload{
		dw(fixture.Deployment("web", fixture.Replicas(3))), dw(fixture.Deployment("api", fixture.Replicas(3))),
		dw(fixture.Deployment("cart", fixture.Replicas(3))), sw(db(3)),
	}
	// The PDB web moves from web's pods to api's: web loses its PDB, api gets a second one.
	old, moved := fixture.MaxUnavailable("web", "1"), appPDB("web", "api", "", "1")
	c := Cluster{PDBs: []*policyv1.PodDisruptionBudget{old, appPDB("api", "api", "", "1"), appPDB("cart", "cart", "", "1"), dbPDB("1")}, Workloads: ws}
	impacts := PDBWrite(old, moved, c, DefaultOptions())
	want, wantRules := WriteMessage("PodDisruptionBudget shop/web", impacts), AddedRules(impacts)
	if len(wantRules) != 2 {
		t.Fatalf("want two rules, got %v:\n%s", wantRules, want)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		shuffled := c
		shuffled.Workloads = append([]Workload(nil), ws...)
		rng.Shuffle(len(shuffled.Workloads), func(i, j int) {
			shuffled.Workloads[i], shuffled.Workloads[j] = shuffled.Workloads[j], shuffled.Workloads[i]
		})
		impacts := PDBWrite(old, moved, shuffled, DefaultOptions())
		if got := WriteMessage("PodDisruptionBudget shop/web", impacts); got != want {
			t.Fatalf("message depends on the order of Cluster.Workloads:\n%s\nvs\n%s", got, want)
		}
		if diff := cmp.Diff(wantRules, AddedRules(impacts)); diff != "" {
			t.Fatalf("AddedRules depend on the order of Cluster.Workloads (-want +got):\n%s", diff)
		}
	}
}

func TestImpactWarnings(t *testing.T) {
	long := strings.Repeat("n", 63)
	longWeb := dw(fixture.Deployment(long, fixture.Replicas(3)))
	longWeb.Namespace = strings.Repeat("s", 63)
	longPDB := fixture.PDB(long, fixture.SelectApp(long), nil, fixture.IntOrStr("1"))
	tests := map[string]struct {
		impacts []Impact
		want    int
	}{
		"long names, blocking": {
			impacts: PDBWrite(longPDB, fixture.PDB(long, fixture.SelectApp(long), nil, fixture.IntOrStr("0")),
				Cluster{PDBs: []*policyv1.PodDisruptionBudget{longPDB}, Workloads: []Workload{longWeb}}, DefaultOptions()),
			want: 1,
		},
		"long names, deleted": {
			impacts: PDBWrite(longPDB, nil, Cluster{PDBs: []*policyv1.PodDisruptionBudget{longPDB}, Workloads: []Workload{longWeb}}, DefaultOptions()),
			want:    1,
		},
		"long names, HPA": {
			impacts: HPAWrite(nil, fixture.HPA(long, "apps/v1", "Deployment", long, nil),
				Cluster{PDBs: []*policyv1.PodDisruptionBudget{longPDB}, Workloads: []Workload{longWeb}}, DefaultOptions()),
			want: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var n int
			for _, im := range tc.impacts {
				ws := im.Warnings("ha-webhook audit: ")
				if len(ws) != len(im.Added) {
					t.Errorf("%d warnings for %d added violations", len(ws), len(im.Added))
				}
				for i, w := range ws {
					n++
					if got := utf8.RuneCountInString(w); got > text.MaxWarningLength {
						t.Errorf("warning of %d characters: %q", got, w)
					}
					if want := "ha-webhook audit: deployment/"; !strings.HasPrefix(w, want) {
						t.Errorf("warning %q, want prefix %q", w, want)
					}
					if !utf8.ValidString(w) {
						t.Errorf("warning %d is not valid UTF-8: %q", i, w)
					}
				}
			}
			if n != tc.want {
				t.Errorf("%d warnings, want %d", n, tc.want)
			}
		})
	}
}

// TestImpactWarningsWhole: with the short names of a real namespace, the warning of a write (audit mode, a PDB
// DELETE, the pdb-multiple of a PDB CREATE) carries its whole why, as the workload warnings do (TestWarningsFit).
func TestImpactWarningsWhole(t *testing.T) {
	web := dw(fixture.Deployment("web", fixture.Replicas(3)))
	c := Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, Workloads: []Workload{web}}
	tests := map[string][]Impact{
		"PDB deleted":       PDBWrite(fixture.MaxUnavailable("web", "1"), nil, c, DefaultOptions()),
		"PDB made blocking": PDBWrite(fixture.MaxUnavailable("web", "1"), fixture.MaxUnavailable("web", "0"), c, DefaultOptions()),
		"second PDB":        PDBWrite(nil, fixture.MaxUnavailable("web2", "1"), c, DefaultOptions()),
		"HPA at 1":          HPAWrite(nil, fixture.WebHPA(nil), c, DefaultOptions()),
	}
	for name, impacts := range tests {
		t.Run(name, func(t *testing.T) {
			if len(impacts) != 1 {
				t.Fatalf("impacts %v, want one", summary(impacts))
			}
			for _, prefix := range wholeWarningPrefixes {
				for _, w := range impacts[0].Warnings(prefix) {
					assertWarningWhole(t, w)
				}
			}
		})
	}
}

func TestPDBAdvisories(t *testing.T) {
	withPolicy := func(p *policyv1.PodDisruptionBudget, policy policyv1.UnhealthyPodEvictionPolicyType) *policyv1.PodDisruptionBudget {
		p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policy)
		return p
	}
	fix := func(name string) string {
		return fmt.Sprintf(`kubectl patch pdb %s -n shop --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'`, name)
	}
	long := strings.Repeat("p", 63)
	tests := map[string]struct {
		pdb     *policyv1.PodDisruptionBudget
		wantWhy string
		wantFix string
	}{
		"no policy": {
			pdb: fixture.MaxUnavailable("web", "1"), wantWhy: "PDB web: one crash-looping pod spends the budget and stalls every drain", wantFix: fix("web"),
		},
		"IfHealthyBudget": {
			pdb: withPolicy(fixture.MaxUnavailable("web", "1"), policyv1.IfHealthyBudget), wantWhy: "PDB web: one crash-looping pod spends the budget and stalls every drain", wantFix: fix("web"),
		},
		"AlwaysAllow": {pdb: withPolicy(fixture.MaxUnavailable("web", "1"), policyv1.AlwaysAllow)},
		"long name cut in the why, whole in the fix": {
			pdb: fixture.MaxUnavailable(long, "1"), wantWhy: "PDB " + strings.Repeat("p", 39) + "…: one crash-looping pod spends the budget and stalls every drain", wantFix: fix(long),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vs := PDBAdvisories(tc.pdb)
			if tc.wantWhy == "" {
				if len(vs) != 0 {
					t.Errorf("advisories %v, want none", rules(vs))
				}
				return
			}
			if len(vs) != 1 {
				t.Fatalf("advisories %v, want one", rules(vs))
			}
			v := vs[0]
			if v.Rule != RulePDBUnhealthyEviction || v.Field.String() != "spec.unhealthyPodEvictionPolicy" || v.Why != tc.wantWhy || v.Fix != tc.wantFix {
				t.Errorf("advisory = %+v\nwant why %q, fix %q", v, tc.wantWhy, tc.wantFix)
			}
			for _, prefix := range wholeWarningPrefixes {
				if w := v.Warning(prefix); utf8.RuneCountInString(w) > text.MaxWarningLength {
					t.Errorf("warning of %d characters: %q", utf8.RuneCountInString(w), w)
				}
			}
		})
	}
}
