package validate

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// sw is the workload of a StatefulSet.
func sw(s *appsv1.StatefulSet) Workload { return StatefulSetWorkload(s) }

// db is the StatefulSet db with n replicas.
func db(n int32) *appsv1.StatefulSet { return fixture.StatefulSet("db", fixture.Replicas(n)) }

func dbPDB(budget string) *policyv1.PodDisruptionBudget {
	return fixture.PDB("db", fixture.SelectApp("db"), nil, fixture.IntOrStr(budget))
}

func dbMinAvailable(budget string) *policyv1.PodDisruptionBudget {
	return fixture.PDB("db", fixture.SelectApp("db"), fixture.IntOrStr(budget), nil)
}

type statefulSetCase struct {
	s              *appsv1.StatefulSet
	cluster        Cluster
	opts           func(*Options)
	wantViolations []string
	wantAdvisories []string
	// wantText are substrings of the rendered violations and advisories; wantNoText must not occur in them.
	wantText, wantNoText []string
}

var statefulSetCases = map[string]statefulSetCase{
	"compliant": {s: db(3), cluster: pdbs(dbPDB("1"))},
	"one replica, no PDB": {
		s: db(1), wantViolations: []string{RuleMinReplicas, RulePDBMissing},
		// The StatefulSet controller defaults maxUnavailable to 1: at 1 replica every rollout is an outage.
		wantAdvisories: []string{RuleRolloutAllUnavailable},
		wantText: []string{
			"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2: a node drain or eviction cuts all traffic; " +
				"fix: set spec.replicas to 2 or more (kubectl scale statefulset db -n shop --replicas=2)",
			"pdb-missing: no PodDisruptionBudget selects these pods: a drain may evict them all at once; " +
				"fix: kubectl create pdb db -n shop --selector=app=db --max-unavailable=1 " +
				"(create PDBs before StatefulSets: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
		},
		wantNoText: []string{"deployment", "Deployments", "HPA"},
	},
	"unset replicas: the HPA hint names StatefulSets": {
		s: fixture.StatefulSet("db", nil), cluster: pdbs(dbPDB("1")),
		wantViolations: []string{RuleMinReplicas}, wantAdvisories: []string{RuleRolloutAllUnavailable},
		wantText: []string{"kubectl scale statefulset db -n shop --replicas=2); if an HPA will manage it, create the HPA first (Helm creates HPAs after StatefulSets) or set spec.replicas"},
	},
	"HPA targeting the StatefulSet counts": {
		s: db(5), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db-hpa", "db", fixture.Replicas(1))}},
		wantViolations: []string{RuleMinReplicas}, wantAdvisories: []string{RuleRolloutAllUnavailable},
		wantText: []string{
			"min-replicas: HPA db-hpa may scale to 1 replica(s), below 2: a drain then cuts all traffic",
			`kubectl patch hpa db-hpa -n shop --type=merge -p '{"spec":{"minReplicas":2}}'`,
		},
	},
	"HPA targeting a Deployment of the same name does not count": {
		s: db(5), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("db-hpa", "apps/v1", "Deployment", "db", fixture.Replicas(1))}},
	},
	"HPA targeting another StatefulSet does not count": {
		s: db(5), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("cache", "cache", fixture.Replicas(1))}},
	},
	// extensions/v1beta1 never served StatefulSets: the HPA controller cannot resolve such a target.
	"HPA targeting the StatefulSet through extensions/v1beta1 does not count": {
		s: db(5), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("db-hpa", "extensions/v1beta1", "StatefulSet", "db", fixture.Replicas(1))}},
	},
	"HPA minimum above the spec satisfies min-replicas": {
		s: db(1), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", fixture.Replicas(3))}},
	},
	"HPA minimum decides the PDB budget": {
		s: db(5), cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbMinAvailable("2")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", fixture.Replicas(2))}},
		wantViolations: []string{RulePDBBlocksDrain},
		wantText:       []string{"PDB db (minAvailable 2) allows 0 evictions at 2 replicas: drains stall"},
	},
	"PDB maxUnavailable 0 blocks drains": {
		s: db(3), cluster: pdbs(dbPDB("0")), wantViolations: []string{RulePDBBlocksDrain},
		wantText: []string{`kubectl patch pdb db -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`},
	},
	"PDB maxUnavailable 100% protects nothing": {
		s: db(3), cluster: pdbs(dbPDB("100%")), wantViolations: []string{RulePDBUnprotective},
		wantText: []string{"PDB db (maxUnavailable 100%) lets all 3 replicas be evicted at once"},
	},
	"two PDBs": {
		s: db(3), cluster: pdbs(dbPDB("1"), fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("1"))),
		wantViolations: []string{RulePDBMultiple}, wantText: []string{"keep one: kubectl delete pdb db -n shop"},
	},
	"scaled to zero passes everything": {s: fixture.OnDelete(db(0))},
	"scaled to zero with an HPA passes": {
		s: db(0), cluster: Cluster{HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", fixture.Replicas(1))}},
	},
	"updateStrategy OnDelete: no rollout advisory": {
		s: fixture.OnDelete(db(1)), cluster: pdbs(dbPDB("1")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBUnprotective},
	},
	"rollingUpdate maxUnavailable equal to replicas": {
		s: fixture.StatefulSetRolling(db(3), "3"), cluster: pdbs(dbPDB("1")),
		wantAdvisories: []string{RuleRolloutAllUnavailable},
		wantText: []string{
			`spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "3": rollout-all-unavailable: maxUnavailable 3 takes all 3 replica(s) down during a rollout; ` +
				"fix: set spec.updateStrategy.rollingUpdate.maxUnavailable to 1",
		},
		wantNoText: []string{"spec.strategy"},
	},
	"rollingUpdate maxUnavailable above replicas": {
		s: fixture.StatefulSetRolling(db(3), "5"), cluster: pdbs(dbPDB("1")), wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rollingUpdate maxUnavailable 2 of 3": {s: fixture.StatefulSetRolling(db(3), "2"), cluster: pdbs(dbPDB("1"))},
	"rollingUpdate maxUnavailable 100%": {
		s: fixture.StatefulSetRolling(db(3), "100%"), cluster: pdbs(dbPDB("1")), wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	// Percentages round down: 67% of 3 is 2.01, so 2.
	"rollingUpdate maxUnavailable 67% of 3 rounds down to 2": {s: fixture.StatefulSetRolling(db(3), "67%"), cluster: pdbs(dbPDB("1"))},
	// 0% of 3 rounds down to 0, which the controller raises to 1.
	"rollingUpdate maxUnavailable 0% of 3 is 1": {s: fixture.StatefulSetRolling(db(3), "0%"), cluster: pdbs(dbPDB("1"))},
	"rollingUpdate maxUnavailable 0% of 1 is still 1": {
		s: fixture.StatefulSetRolling(db(1), "0%"), cluster: pdbs(dbPDB("1")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBUnprotective}, wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rollingUpdate maxUnavailable 0 of 1 is still 1": {
		s: fixture.StatefulSetRolling(db(1), "0"), cluster: pdbs(dbPDB("1")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBUnprotective}, wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"default maxUnavailable 1 at 2 replicas": {s: db(2), cluster: pdbs(dbPDB("1"))},
	"rollout advisory uses the HPA minimum": {
		s: fixture.StatefulSetRolling(db(10), "2"),
		cluster: Cluster{
			PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")},
			HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", fixture.Replicas(2))},
		},
		wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rollingUpdate with a partition only keeps the default": {
		s: fixture.WithStatefulSet(db(3), func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: fixture.Replicas(1)}
		}),
		cluster: pdbs(dbPDB("1")),
	},
	"a namespaceless manifest is judged in default": {
		s: fixture.WithStatefulSet(db(1), func(s *appsv1.StatefulSet) { s.Namespace = "" }), cluster: pdbs(dbPDB("1")),
		wantViolations: []string{RuleMinReplicas}, wantAdvisories: []string{RuleRolloutAllUnavailable},
		wantText: []string{"kubectl scale statefulset db -n default --replicas=2"},
	},
}

func TestStatefulSet(t *testing.T) {
	for name, tc := range statefulSetCases {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v := StatefulSet(tc.s, tc.cluster, opts)
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAdvisories, rules(v.Advisories)); diff != "" {
				t.Errorf("advisories mismatch (-want +got):\n%s", diff)
			}
			if v.Denied() != (len(tc.wantViolations) > 0) {
				t.Errorf("Denied() = %v", v.Denied())
			}
			if len(v.PreExisting) > 0 || v.Exemption != "" || len(v.Notes) > 0 {
				t.Errorf("unexpected ratcheted %v, exemption %q, notes %q", v.PreExisting, v.Exemption, v.Notes)
			}
			// StatefulSet and Check of its workload are one function.
			if diff := cmp.Diff(v, Check(sw(tc.s), tc.cluster, opts), comparePaths); diff != "" {
				t.Errorf("StatefulSet and Check(StatefulSetWorkload) differ:\n%s", diff)
			}
			msg := Message(sw(tc.s), append(v.Violations, v.Advisories...))
			for _, want := range tc.wantText {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
			for _, unwanted := range tc.wantNoText {
				if strings.Contains(msg, unwanted) {
					t.Errorf("message contains %q:\n%s", unwanted, msg)
				}
			}
			assertVerdictWarningsWhole(t, v)
		})
	}
}

// TestStatefulSetRolloutAdvisory checks the whole advisory of a StatefulSet rollout: its field is under
// spec.updateStrategy, never spec.strategy.
func TestStatefulSetRolloutAdvisory(t *testing.T) {
	v := StatefulSet(fixture.StatefulSetRolling(db(3), "3"), pdbs(dbPDB("1")), DefaultOptions())
	want := []Violation{{
		Rule:     RuleRolloutAllUnavailable,
		Field:    field.NewPath("spec", "updateStrategy", "rollingUpdate", "maxUnavailable"),
		BadValue: "3",
		Why:      "maxUnavailable 3 takes all 3 replica(s) down during a rollout",
		Fix:      "set spec.updateStrategy.rollingUpdate.maxUnavailable to 1",
	}}
	if diff := cmp.Diff(want, v.Advisories, comparePaths); diff != "" {
		t.Errorf("advisories mismatch (-want +got):\n%s", diff)
	}
}

func TestStatefulSetUpdate(t *testing.T) {
	newImage := func(s *appsv1.StatefulSet) *appsv1.StatefulSet {
		s.Spec.Template.Spec.Containers[0].Image = "registry.example/db:rollback"
		return s
	}
	relabel := func(s *appsv1.StatefulSet) *appsv1.StatefulSet {
		s.Spec.Template.Labels = map[string]string{"app": "db", "version": "v2"}
		return s
	}
	v1PDB := fixture.PDB("db", fixture.SelectLabels("app", "db", "version", "v1"), nil, fixture.IntOrStr("1"))
	tests := map[string]struct {
		old, new       *appsv1.StatefulSet
		cluster        Cluster
		wantViolations []string
		wantRatcheted  []string
	}{
		"image-only change on a non-compliant StatefulSet": {
			old: db(1), new: newImage(db(1)), wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"unset to explicit 1 is no change": {
			old: fixture.StatefulSet("db", nil), new: db(1), wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"image change with a pre-existing blocking PDB": {
			old: db(3), new: newImage(db(3)), cluster: pdbs(dbMinAvailable("100%")), wantRatcheted: []string{RulePDBBlocksDrain},
		},
		"replicas lowered 3 to 1": {
			old: db(3), new: db(1), cluster: pdbs(dbPDB("1")), wantViolations: []string{RuleMinReplicas},
		},
		"replicas lowered 2 to 1 without PDB: the missing PDB stays a warning": {
			old: db(2), new: db(1), wantViolations: []string{RuleMinReplicas}, wantRatcheted: []string{RulePDBMissing},
		},
		"replicas changed with a pre-existing blocking PDB: denied": {
			old: db(3), new: db(4), cluster: pdbs(dbMinAvailable("100%")), wantViolations: []string{RulePDBBlocksDrain},
		},
		"labels changed so that the PDB no longer selects": {
			old: db(3), new: relabel(db(3)), cluster: pdbs(v1PDB), wantViolations: []string{RulePDBMissing},
		},
		"strategy changed to OnDelete on a non-compliant StatefulSet: still ratcheted": {
			old: db(1), new: fixture.OnDelete(db(1)), wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"HPA-managed replicas change: effective replicas unchanged": {
			old: db(1), new: db(5),
			cluster:       Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", nil)}},
			wantRatcheted: []string{RuleMinReplicas},
		},
		// A Deployment's HPA does not manage the StatefulSet: its replicas do change.
		"an HPA of a Deployment of the same name does not ratchet": {
			old: db(3), new: db(1),
			cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("db", "apps/v1", "Deployment", "db", nil)}},
			wantViolations: []string{RuleMinReplicas},
		},
		"scale to 0": {old: db(1), new: db(0)},
		"scale from 0 to 1 is a new violation": {
			old: db(0), new: db(1), wantViolations: []string{RuleMinReplicas, RulePDBMissing},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := Update(sw(tc.old), sw(tc.new), tc.cluster, DefaultOptions())
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRatcheted, rules(v.PreExisting)); diff != "" {
				t.Errorf("ratcheted mismatch (-want +got):\n%s", diff)
			}
			created := StatefulSet(tc.new, tc.cluster, DefaultOptions())
			if diff := cmp.Diff(rules(created.Violations), sortedLike(rules(created.Violations), append(rules(v.Violations), rules(v.PreExisting)...))); diff != "" {
				t.Errorf("violations + ratcheted differ from StatefulSet() (-create +update):\n%s", diff)
			}
			if diff := cmp.Diff(rules(created.Advisories), rules(v.Advisories)); diff != "" {
				t.Errorf("advisories differ from StatefulSet() (-create +update):\n%s", diff)
			}
		})
	}
}

func TestStatefulSetExemption(t *testing.T) {
	exempt := func(s *appsv1.StatefulSet, reason string) *appsv1.StatefulSet {
		s.Annotations = map[string]string{names.AnnotationExempt: reason}
		return s
	}
	tests := map[string]struct {
		old, s         *appsv1.StatefulSet
		allow          bool
		wantExemption  string
		wantViolations []string
		wantAdvisories []string
		wantNotes      []string
	}{
		"exempt": {
			s: exempt(db(1), "single-writer database, see INC-9"), allow: true, wantExemption: "single-writer database, see INC-9",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing, RuleRolloutAllUnavailable},
		},
		"exempt update": {
			old: db(3), s: exempt(db(1), "maintenance"), allow: true, wantExemption: "maintenance",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing, RuleRolloutAllUnavailable},
		},
		"exemptions disabled": {
			s: exempt(db(1), "please"), wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantAdvisories: []string{RuleRolloutAllUnavailable},
			wantNotes:      []string{"ha-webhook.io/exempt ignored: exemptions are disabled on this cluster"},
		},
		"empty reason": {
			s: exempt(db(1), " "), allow: true, wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantAdvisories: []string{RuleRolloutAllUnavailable},
			wantNotes:      []string{"ha-webhook.io/exempt has an empty reason, so it is no exemption"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.AllowExemptions = tc.allow
			var v Verdict
			if tc.old == nil {
				v = StatefulSet(tc.s, Cluster{}, opts)
			} else {
				v = Update(sw(tc.old), sw(tc.s), Cluster{}, opts)
			}
			if v.Exemption != tc.wantExemption {
				t.Errorf("Exemption = %q, want %q", v.Exemption, tc.wantExemption)
			}
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAdvisories, rules(v.Advisories)); diff != "" {
				t.Errorf("advisories mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNotes, v.Notes); diff != "" {
				t.Errorf("notes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeploymentWorkload(t *testing.T) {
	base := func() Workload {
		return Workload{
			Kind: KindDeployment, Namespace: "shop", Name: "web", Replicas: fixture.Replicas(3),
			Selector: fixture.SelectApp("web"), TemplateLabels: map[string]string{"app": "web"},
		}
	}
	tests := map[string]struct {
		d    *appsv1.Deployment
		want Workload
	}{
		"defaults": {d: fixture.Deployment("web", fixture.Replicas(3)), want: base()},
		"unset replicas stay nil": {
			d: fixture.Deployment("web", nil), want: func() Workload { w := base(); w.Replicas = nil; return w }(),
		},
		"annotations": {
			d: fixture.With(fixture.Deployment("web", fixture.Replicas(3)), func(d *appsv1.Deployment) {
				d.Annotations = map[string]string{names.AnnotationExempt: "why"}
			}),
			want: func() Workload {
				w := base()
				w.Annotations = map[string]string{names.AnnotationExempt: "why"}
				return w
			}(),
		},
		"Recreate": {
			d:    fixture.With(fixture.Deployment("web", fixture.Replicas(3)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
			want: func() Workload { w := base(); w.Rollout.Recreate = true; return w }(),
		},
		"RollingUpdate with maxUnavailable": {
			d:    withRolling(fixture.Deployment("web", fixture.Replicas(3)), "50%"),
			want: func() Workload { w := base(); w.Rollout.MaxUnavailable = fixture.IntOrStr("50%"); return w }(),
		},
		"RollingUpdate with maxSurge only": {
			d: fixture.With(fixture.Deployment("web", fixture.Replicas(3)), func(d *appsv1.Deployment) {
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: fixture.IntOrStr("1")}}
			}),
			want: base(),
		},
		"template labels, not the selector, are what PDBs select": {
			d: fixture.TemplateLabels(fixture.Deployment("web", fixture.Replicas(3)), "app", "web", "part-of", "shop"),
			want: func() Workload {
				w := base()
				w.TemplateLabels = map[string]string{"app": "web", "part-of": "shop"}
				return w
			}(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, DeploymentWorkload(tc.d)); diff != "" {
				t.Errorf("DeploymentWorkload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatefulSetWorkload(t *testing.T) {
	base := func() Workload {
		return Workload{
			Kind: KindStatefulSet, Namespace: "shop", Name: "db", Replicas: fixture.Replicas(3),
			Selector: fixture.SelectApp("db"), TemplateLabels: map[string]string{"app": "db"},
		}
	}
	two := intstr.FromInt32(2)
	tests := map[string]struct {
		s    *appsv1.StatefulSet
		want Workload
	}{
		"defaults": {s: db(3), want: base()},
		"unset replicas stay nil": {
			s: fixture.StatefulSet("db", nil), want: func() Workload { w := base(); w.Replicas = nil; return w }(),
		},
		"OnDelete": {
			s: fixture.OnDelete(db(3)), want: func() Workload { w := base(); w.Rollout.OnDelete = true; return w }(),
		},
		"RollingUpdate with maxUnavailable": {
			s: fixture.StatefulSetRolling(db(3), "2"), want: func() Workload { w := base(); w.Rollout.MaxUnavailable = &two; return w }(),
		},
		"RollingUpdate with a partition only": {
			s: fixture.WithStatefulSet(db(3), func(s *appsv1.StatefulSet) {
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: fixture.Replicas(2)}}
			}),
			want: base(),
		},
		"annotations": {
			s: fixture.WithStatefulSet(db(3), func(s *appsv1.StatefulSet) {
				s.Annotations = map[string]string{names.AnnotationExempt: "why"}
			}),
			want: func() Workload {
				w := base()
				w.Annotations = map[string]string{names.AnnotationExempt: "why"}
				return w
			}(),
		},
		"template labels": {
			s: fixture.StatefulSetTemplateLabels(db(3), "app", "db", "part-of", "shop"),
			want: func() Workload {
				w := base()
				w.TemplateLabels = map[string]string{"app": "db", "part-of": "shop"}
				return w
			}(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, StatefulSetWorkload(tc.s)); diff != "" {
				t.Errorf("StatefulSetWorkload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorkloadString(t *testing.T) {
	tests := map[string]struct {
		w    Workload
		want string
	}{
		"Deployment":                 {w: dw(fixture.Deployment("web", nil)), want: "Deployment shop/web"},
		"StatefulSet":                {w: sw(db(1)), want: "StatefulSet shop/db"},
		"no namespace means default": {w: Workload{Kind: KindStatefulSet, Name: "db"}, want: "StatefulSet default/db"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.w.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatefulSetMessage(t *testing.T) {
	s := db(1)
	v := StatefulSet(s, Cluster{}, DefaultOptions())
	want := []string{
		"StatefulSet shop/db would lose traffic during node drains and rollouts:",
		"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2: a node drain or eviction cuts all traffic; " +
			"fix: set spec.replicas to 2 or more (kubectl scale statefulset db -n shop --replicas=2)",
		"spec.template.metadata.labels: Required value: pdb-missing: no PodDisruptionBudget selects these pods: a drain may evict them all at once; " +
			"fix: kubectl create pdb db -n shop --selector=app=db --max-unavailable=1 " +
			"(create PDBs before StatefulSets: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
	}
	if diff := cmp.Diff(want, strings.Split(Message(sw(s), v.Violations), "\n")); diff != "" {
		t.Errorf("message mismatch (-want +got):\n%s", diff)
	}
}

// TestHPATieIsDeterministic: two HPAs with the same minimum on one workload (the cache lists them in any order) must
// give the same message; the HPA it names must not depend on the listing order.
func TestHPATieIsDeterministic(t *testing.T) {
	s := db(5)
	hpas := []*autoscalingv2.HorizontalPodAutoscaler{
		fixture.StatefulSetHPA("db-a", "db", fixture.Replicas(1)),
		fixture.StatefulSetHPA("db-b", "db", fixture.Replicas(1)),
		fixture.StatefulSetHPA("db-c", "db", fixture.Replicas(1)),
	}
	want := Message(sw(s), StatefulSet(s, Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: hpas}, DefaultOptions()).Violations)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		hs := append([]*autoscalingv2.HorizontalPodAutoscaler(nil), hpas...)
		rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
		got := Message(sw(s), StatefulSet(s, Cluster{PDBs: []*policyv1.PodDisruptionBudget{dbPDB("1")}, HPAs: hs}, DefaultOptions()).Violations)
		if got != want {
			t.Fatalf("message depends on the order of HPAs:\n%s\nvs\n%s", got, want)
		}
	}
}
