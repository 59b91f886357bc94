package validate

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// The cases below derive the expected count and the allowed evictions by hand, as the disruption controller
// computes them (k8s.io/kubernetes pkg/controller/disruption):
//
//	getExpectedPodCount: maxUnavailable, or minAvailable as a percentage: expected = getExpectedScale = the sum of
//	    the scale of every controller owning a selected pod; desiredHealthy = expected - maxUnavailable (>= 0), or
//	    minAvailable, percentages scaled with round-up.
//	    minAvailable as an integer: expected = len(pods) (the same sum when every workload runs its replicas);
//	    desiredHealthy = minAvailable.
//	updatePdbStatus: disruptionsAllowed = currentHealthy - desiredHealthy, 0 when negative or when expected <= 0;
//	    with every pod healthy, currentHealthy = expected.
//
// Replicas are the effective ones: an HPA's minReplicas replaces spec.replicas, a workload scaled to 0 counts 0.

// partOf is a Deployment of n replicas whose pods carry app=name and part-of=shop.
func partOf(name string, n int32) *appsv1.Deployment {
	return fixture.TemplateLabels(fixture.Deployment(name, fixture.Replicas(n)), "app", name, "part-of", "shop")
}

// shopPDB is the PDB "shop" selecting part-of=shop; minAvail or maxUnavail "" leaves the field unset.
func shopPDB(minAvail, maxUnavail string) *policyv1.PodDisruptionBudget {
	var minA, maxU *intstr.IntOrString
	if minAvail != "" {
		minA = fixture.IntOrStr(minAvail)
	}
	if maxUnavail != "" {
		maxU = fixture.IntOrStr(maxUnavail)
	}
	return fixture.PDB("shop", fixture.SelectLabels("part-of", "shop"), minA, maxU)
}

func workloads(ds ...*appsv1.Deployment) []Workload {
	out := make([]Workload, len(ds))
	for i, d := range ds {
		out[i] = dw(d)
	}
	return out
}

func TestSharedPDB(t *testing.T) {
	web2, api2 := partOf("web", 2), partOf("api", 2)
	apiHPA := func(n int32) []*autoscalingv2.HorizontalPodAutoscaler {
		return []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("api", "apps/v1", "Deployment", "api", fixture.Replicas(n))}
	}
	tests := map[string]struct {
		pdb     *policyv1.PodDisruptionBudget
		stored  []Workload // Cluster.Workloads
		checked []Workload // each judged against stored
		hpas    []*autoscalingv2.HorizontalPodAutoscaler
		opts    func(*Options)
		// wantExpected and wantAllowed are the hand-derived counts of the first checked workload's judgement
		// (at its own replicas, at least min-replicas); they are checked against allowedDisruptions.
		wantExpected, wantAllowed int32
		want                      map[string][]string // rules by workload
		wantText                  map[string][]string // substrings of the message by workload
	}{
		// expected 2+2 = 4; maxUnavailable 1: desired 3, allowed 1 < 2 for either.
		"maxUnavailable 1 over web(2)+api(2)": {
			pdb: shopPDB("", "1"), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 1,
			want: map[string][]string{},
		},
		// expected 4; maxUnavailable 2: desired 2, allowed 2: all of web's 2 pods (or api's) may go at once.
		"maxUnavailable 2 over web(2)+api(2)": {
			pdb: shopPDB("", "2"), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 2,
			want: map[string][]string{"web": {RulePDBUnprotective}, "api": {RulePDBUnprotective}},
			wantText: map[string][]string{
				"web": {"pdb-unprotective: PDB shop (maxUnavailable 2) lets 2 of 4 shared pods go at once: all of these"},
			},
		},
		// minAvailable 3 (an integer): expected len(pods) = 4, desired 3, allowed 1.
		"minAvailable 3 over web(2)+api(2)": {
			pdb: shopPDB("3", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 1, want: map[string][]string{},
		},
		// expected 4, desired 4, allowed 0.
		"minAvailable 4 over web(2)+api(2) blocks": {
			pdb: shopPDB("4", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 0,
			want: map[string][]string{"web": {RulePDBBlocksDrain}, "api": {RulePDBBlocksDrain}},
			wantText: map[string][]string{
				"api": {"pdb-blocks-drain: PDB shop (minAvailable 4) allows 0 evictions at 4 shared pods: drains stall"},
			},
		},
		// minAvailable 75%: expected getExpectedScale = 4, desired ceil(3.0) = 3, allowed 1.
		"minAvailable 75% of 4": {
			pdb: shopPDB("75%", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 1, want: map[string][]string{},
		},
		// minAvailable 50%: desired ceil(2.0) = 2, allowed 2 = all of web's.
		"minAvailable 50% of 4": {
			pdb: shopPDB("50%", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 2,
			want: map[string][]string{"web": {RulePDBUnprotective}, "api": {RulePDBUnprotective}},
		},
		// minAvailable 76%: desired ceil(3.04) = 4, allowed 0.
		"minAvailable 76% of 4 rounds up to 4": {
			pdb: shopPDB("76%", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 0,
			want: map[string][]string{"web": {RulePDBBlocksDrain}, "api": {RulePDBBlocksDrain}},
		},
		// maxUnavailable 25%: ceil(1.0) = 1, allowed 1.
		"maxUnavailable 25% of 4": {
			pdb: shopPDB("", "25%"), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 1, want: map[string][]string{},
		},
		// maxUnavailable 30%: ceil(1.2) = 2, allowed 2.
		"maxUnavailable 30% of 4 rounds up to 2": {
			pdb: shopPDB("", "30%"), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 2,
			want: map[string][]string{"web": {RulePDBUnprotective}, "api": {RulePDBUnprotective}},
		},
		// Neither field: getExpectedPodCount leaves expected and desired at 0, so disruptionsAllowed is 0.
		"no budget blocks": {
			pdb: shopPDB("", ""), stored: workloads(web2, api2), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 0,
			want: map[string][]string{"web": {RulePDBBlocksDrain}, "api": {RulePDBBlocksDrain}},
			wantText: map[string][]string{
				"web": {"PDB shop (no budget) allows 0 evictions at 4 shared pods"},
			},
		},
		// An HPA minimum of 1 on api: api counts 1, so web is judged at 2+1 = 3; minAvailable 3 allows 0.
		// api is judged at max(1, min-replicas 2) = 2+2 = 4 (allowed 1), and at the 1 it may run: 3, allowed 0.
		"an HPA floor of 1 on api lowers the expected count to 3": {
			pdb: shopPDB("3", ""), stored: workloads(web2, api2), checked: workloads(web2, api2), hpas: apiHPA(1),
			wantExpected: 3, wantAllowed: 0,
			want: map[string][]string{"web": {RulePDBBlocksDrain}, "api": {RuleMinReplicas, RulePDBBlocksDrain}},
			wantText: map[string][]string{
				"web": {"PDB shop (minAvailable 3) allows 0 evictions at 3 shared pods"},
				"api": {"HPA api may scale to 1 replica(s), below 2", "PDB shop (minAvailable 3) allows 0 evictions at 3 shared pods"},
			},
		},
		// The same floor under maxUnavailable 1: web at 3 pods, desired 2, allowed 1 < 2; api at 4 (allowed 1 < 2)
		// and at 3 (allowed 1, not 0): only min-replicas.
		"an HPA floor of 1 on api under maxUnavailable 1": {
			pdb: shopPDB("", "1"), stored: workloads(web2, api2), checked: workloads(web2, api2), hpas: apiHPA(1),
			wantExpected: 3, wantAllowed: 1,
			want: map[string][]string{"api": {RuleMinReplicas}},
		},
		// An HPA minimum of 4 on api raises the count: 2+4 = 6, minAvailable 4 allows 2: all of web's, 2 of api's 4.
		"an HPA floor of 4 on api raises the expected count to 6": {
			pdb: shopPDB("4", ""), stored: workloads(web2, api2), checked: workloads(web2, api2), hpas: apiHPA(4),
			wantExpected: 6, wantAllowed: 2,
			want: map[string][]string{"web": {RulePDBUnprotective}},
			wantText: map[string][]string{
				"web": {"lets 2 of 6 shared pods go at once: all of these"},
			},
		},
		// api scaled to 0 owns no pods: expected 2+0 = 2, minAvailable 2 allows 0 (were api counted at 2: allowed
		// 2, unprotective). api itself has nothing to protect.
		"a workload scaled to 0 adds 0": {
			pdb: shopPDB("2", ""), stored: workloads(web2, partOf("api", 0)), checked: workloads(web2, partOf("api", 0)),
			wantExpected: 2, wantAllowed: 0,
			want:     map[string][]string{"web": {RulePDBBlocksDrain}},
			wantText: map[string][]string{"web": {"allows 0 evictions at 2 shared pods"}},
		},
		// An HPA does not scale up from 0: still 0.
		"a workload scaled to 0 under an HPA adds 0": {
			pdb: shopPDB("2", ""), stored: workloads(web2, partOf("api", 0)), checked: workloads(web2), hpas: apiHPA(3),
			wantExpected: 2, wantAllowed: 0,
			want: map[string][]string{"web": {RulePDBBlocksDrain}},
		},
		// db (5 replicas, no part-of label) is not selected: expected 2+2 = 4, minAvailable 4 allows 0 (with db:
		// 9, allowed 5, unprotective).
		"a workload not selected adds nothing": {
			pdb: shopPDB("4", ""), stored: workloads(web2, api2, fixture.Deployment("db", fixture.Replicas(5))), checked: workloads(web2, api2),
			wantExpected: 4, wantAllowed: 0,
			want:     map[string][]string{"web": {RulePDBBlocksDrain}, "api": {RulePDBBlocksDrain}},
			wantText: map[string][]string{"web": {"at 4 shared pods"}},
		},
		// web scaled to 4, its stored self at 2: expected 4+2 = 6 (not 4+2+2 = 8, nor 2+2 = 4); minAvailable 4
		// allows 2 < 4 for web. (Double counting: allowed 4, unprotective; the stored 2: allowed 0, blocks.)
		"the checked workload replaces its stored version": {
			pdb: shopPDB("4", ""), stored: workloads(web2, api2), checked: workloads(partOf("web", 4)),
			wantExpected: 6, wantAllowed: 2, want: map[string][]string{},
		},
		// The stored self is matched by kind, namespace and name: a namespaceless manifest (`check`) replaces the
		// stored default/web.
		"a namespaceless checked workload replaces default/web": {
			pdb: shopPDB("4", ""),
			stored: []Workload{
				func() Workload { w := dw(partOf("web", 2)); w.Namespace = "default"; return w }(),
				func() Workload { w := dw(api2); w.Namespace = "default"; return w }(),
			},
			checked:      []Workload{func() Workload { w := dw(partOf("web", 4)); w.Namespace = ""; return w }()},
			wantExpected: 6, wantAllowed: 2, want: map[string][]string{},
		},
		// A StatefulSet named web is another workload than the Deployment web: expected 2+2 = 4, minAvailable 3
		// allows 1 (were it taken for the Deployment: 2, allowed 0).
		"a StatefulSet of the same name is another workload": {
			pdb:          shopPDB("3", ""),
			stored:       []Workload{dw(web2), sw(fixture.StatefulSetTemplateLabels(fixture.StatefulSet("web", fixture.Replicas(2)), "app", "web", "part-of", "shop"))},
			checked:      workloads(web2),
			wantExpected: 4, wantAllowed: 1, want: map[string][]string{},
		},
		// A Deployment and a StatefulSet under one PDB: 2+3 = 5; minAvailable 5 allows 0.
		"a Deployment and a StatefulSet share a PDB": {
			pdb:          shopPDB("5", ""),
			stored:       []Workload{dw(web2), sw(fixture.StatefulSetTemplateLabels(db(3), "app", "db", "part-of", "shop"))},
			checked:      []Workload{dw(web2), sw(fixture.StatefulSetTemplateLabels(db(3), "app", "db", "part-of", "shop"))},
			wantExpected: 5, wantAllowed: 0,
			want:     map[string][]string{"web": {RulePDBBlocksDrain}, "db": {RulePDBBlocksDrain}},
			wantText: map[string][]string{"db": {"allows 0 evictions at 5 shared pods"}},
		},
		// Three workloads, 2 each: expected 6, maxUnavailable 2 allows 2 = all of any one's.
		"maxUnavailable 2 over three workloads": {
			pdb: shopPDB("", "2"), stored: workloads(web2, api2, partOf("cart", 2)), checked: workloads(partOf("cart", 2)),
			wantExpected: 6, wantAllowed: 2,
			want:     map[string][]string{"cart": {RulePDBUnprotective}},
			wantText: map[string][]string{"cart": {"lets 2 of 6 shared pods go at once: all of these"}},
		},
		// With --min-replicas 1, a single replica of web beside api(3): expected 4, maxUnavailable 1 allows 1 =
		// web's only pod.
		"min-replicas 1: one replica beside three": {
			pdb: shopPDB("", "1"), stored: workloads(partOf("web", 1), partOf("api", 3)), checked: workloads(partOf("web", 1), partOf("api", 3)),
			opts:         minReplicasOption(1),
			wantExpected: 4, wantAllowed: 1,
			want: map[string][]string{"web": {RulePDBUnprotective}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := allowedDisruptions(tc.pdb, tc.wantExpected); err != nil || got != tc.wantAllowed {
				t.Errorf("allowedDisruptions(%d) = %d, %v; want %d", tc.wantExpected, got, err, tc.wantAllowed)
			}
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c := Cluster{PDBs: []*policyv1.PodDisruptionBudget{tc.pdb}, HPAs: tc.hpas, Workloads: tc.stored}
			got := map[string][]string{}
			for _, w := range tc.checked {
				v := Check(w, c, opts)
				if rs := rules(v.Violations); len(rs) > 0 {
					got[w.Name] = rs
				}
				msg := Message(w, v.Violations)
				for _, want := range tc.wantText[w.Name] {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message lacks %q:\n%s", w, want, msg)
					}
				}
				for _, audit := range []bool{false, true} {
					for _, w := range Warnings(v, audit) {
						if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
							t.Errorf("warning of %d characters: %q", n, w)
						}
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations by workload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSharedPDBVersusPerWorkload: judging a shared PDB over one workload's replicas, as before, both denied
// compliant workloads and passed unprotected ones.
func TestSharedPDBVersusPerWorkload(t *testing.T) {
	tests := map[string]struct {
		pdb       *policyv1.PodDisruptionBudget
		ds        []*appsv1.Deployment
		opts      func(*Options)
		wantAlone []string // web judged over its own replicas (no Cluster.Workloads)
		wantAll   []string // web judged over every workload the PDB selects
	}{
		// Alone: expected 1, minAvailable 1 allows 0: blocks. Together: expected 2, allowed 1: no longer blocking,
		// but that 1 is web's only pod, so the PDB protects nothing of web.
		"two Deployments of 1 under minAvailable 1, --min-replicas 1": {
			pdb: shopPDB("1", ""), ds: []*appsv1.Deployment{partOf("web", 1), partOf("api", 1)}, opts: minReplicasOption(1),
			wantAlone: []string{RulePDBBlocksDrain}, wantAll: []string{RulePDBUnprotective},
		},
		// Alone: expected 2, minAvailable 3 allows 0: blocks. Together: expected 4, allowed 1 < 2: compliant.
		"false denial: two Deployments of 2 under minAvailable 3": {
			pdb: shopPDB("3", ""), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)},
			wantAlone: []string{RulePDBBlocksDrain},
		},
		// Alone: expected 2, minAvailable 1 allows 1 < 2: passes. Together: expected 4, allowed 3 >= 2.
		"false pass: two Deployments of 2 under minAvailable 1": {
			pdb: shopPDB("1", ""), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)},
			wantAll: []string{RulePDBUnprotective},
		},
		// Alone: maxUnavailable 50% of 2 = 1, allowed 1 < 2: passes. Together: ceil(50% of 4) = 2 >= 2.
		"false pass: two Deployments of 2 under maxUnavailable 50%": {
			pdb: shopPDB("", "50%"), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)},
			wantAll: []string{RulePDBUnprotective},
		},
		// An integer maxUnavailable does not scale: 2 of 2 alone, 2 of 4 together, all of web's either way.
		"maxUnavailable 2 over two Deployments of 2: unprotective either way": {
			pdb: shopPDB("", "2"), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)},
			wantAlone: []string{RulePDBUnprotective}, wantAll: []string{RulePDBUnprotective},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			web := dw(tc.ds[0])
			alone := Check(web, pdbs(tc.pdb), opts)
			if diff := cmp.Diff(tc.wantAlone, rules(alone.Violations)); diff != "" {
				t.Errorf("alone: violations mismatch (-want +got):\n%s", diff)
			}
			all := Check(web, Cluster{PDBs: []*policyv1.PodDisruptionBudget{tc.pdb}, Workloads: workloads(tc.ds...)}, opts)
			if diff := cmp.Diff(tc.wantAll, rules(all.Violations)); diff != "" {
				t.Errorf("shared: violations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSharedPDBWarningsWhole: the audit warning of a shared PDB, with short realistic names, carries its whole why,
// as TestWarningsFit requires of the single-workload messages ("ha-webhook audit: " + rule + why within
// text.MaxWarningLength, so that kubectl prints it whole).
func TestSharedPDBWarningsWhole(t *testing.T) {
	tests := map[string]struct {
		pdb *policyv1.PodDisruptionBudget
		ds  []*appsv1.Deployment
	}{
		"unprotective: maxUnavailable 2 over two Deployments of 2": {pdb: shopPDB("", "2"), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)}},
		"unprotective: minAvailable 50% over two Deployments of 2": {pdb: shopPDB("50%", ""), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)}},
		"blocks: minAvailable 100% over two Deployments of 2":      {pdb: shopPDB("100%", ""), ds: []*appsv1.Deployment{partOf("web", 2), partOf("api", 2)}},
		"blocks: minAvailable 12 over three Deployments of 4": {
			pdb: shopPDB("12", ""), ds: []*appsv1.Deployment{partOf("web", 4), partOf("api", 4), partOf("cart", 4)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := Check(dw(tc.ds[0]), Cluster{PDBs: []*policyv1.PodDisruptionBudget{tc.pdb}, Workloads: workloads(tc.ds...)}, DefaultOptions())
			if len(v.Violations) == 0 {
				t.Fatal("no violation")
			}
			for _, x := range v.Violations {
				for _, prefix := range wholeWarningPrefixes {
					assertWarningWhole(t, x.Warning(prefix))
				}
			}
		})
	}
}
