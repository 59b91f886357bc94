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

	"github.com/ha-webhook/ha-webhook/internal/names"
)

func TestEffectiveReplicas(t *testing.T) {
	tests := map[string]struct {
		d       *appsv1.Deployment
		hpas    []*autoscalingv2.HorizontalPodAutoscaler
		want    int32
		wantHPA string
	}{
		"nil replicas means 1":     {d: deploy("web", nil), want: 1},
		"spec replicas":            {d: deploy("web", replicas(3)), want: 3},
		"zero":                     {d: deploy("web", replicas(0)), want: 0},
		"HPA minReplicas wins":     {d: deploy("web", replicas(1)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(4))}, want: 4, wantHPA: "web"},
		"HPA lower than spec":      {d: deploy("web", replicas(5)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(2))}, want: 2, wantHPA: "web"},
		"HPA nil minReplicas is 1": {d: deploy("web", replicas(5)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(nil)}, want: 1, wantHPA: "web"},
		"HPA targeting another Deployment ignored": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("api", "apps/v1", "Deployment", "api", replicas(1))}, want: 3,
		},
		"HPA targeting a StatefulSet of the same name ignored": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("web", "apps/v1", "StatefulSet", "web", replicas(1))}, want: 3,
		},
		"HPA with extensions/v1beta1 accepted": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("old", "extensions/v1beta1", "Deployment", "web", replicas(1))}, want: 1, wantHPA: "old",
		},
		"HPA with apps/v1beta2 accepted": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("old", "apps/v1beta2", "Deployment", "web", replicas(2))}, want: 2, wantHPA: "old",
		},
		"HPA with a core apiVersion ignored": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("bad", "v1", "Deployment", "web", replicas(1))}, want: 3,
		},
		"HPA with a custom group ignored": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("argo", "argoproj.io/v1alpha1", "Deployment", "web", replicas(1))}, want: 3,
		},
		"HPA with an unparsable apiVersion ignored": {
			d: deploy("web", replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{hpa("bad", "a/b/c", "Deployment", "web", replicas(1))}, want: 3,
		},
		"two HPAs: the lowest minimum": {
			d: deploy("web", replicas(3)),
			hpas: []*autoscalingv2.HorizontalPodAutoscaler{
				hpa("high", "apps/v1", "Deployment", "web", replicas(4)),
				hpa("low", "apps/v1", "Deployment", "web", replicas(2)),
				hpa("other", "apps/v1", "Deployment", "api", replicas(1)),
			},
			want: 2, wantHPA: "low",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := effectiveReplicas(tc.d, tc.hpas)
			var gotHPA string
			if got.hpa != nil {
				gotHPA = got.hpa.Name
			}
			if got.count != tc.want || gotHPA != tc.wantHPA {
				t.Errorf("effectiveReplicas = %d (HPA %q), want %d (HPA %q)", got.count, gotHPA, tc.want, tc.wantHPA)
			}
		})
	}
}

func TestSelectingPDBs(t *testing.T) {
	podLabels := map[string]string{"app": "web", "tier": "frontend", "track": "stable"}
	req := func(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	tests := map[string]struct {
		selector *metav1.LabelSelector
		want     bool
	}{
		"matchLabels subset":             {selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, want: true},
		"matchLabels all":                {selector: &metav1.LabelSelector{MatchLabels: podLabels}, want: true},
		"matchLabels other value":        {selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
		"matchLabels missing key":        {selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "canary": "true"}}},
		"In matches":                     {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpIn, "backend", "frontend")}}, want: true},
		"In does not match":              {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpIn, "backend")}}},
		"NotIn matches":                  {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("track", metav1.LabelSelectorOpNotIn, "canary")}}, want: true},
		"NotIn does not match":           {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("track", metav1.LabelSelectorOpNotIn, "stable")}}},
		"NotIn on a missing key matches": {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpNotIn, "true")}}, want: true},
		"Exists matches":                 {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpExists)}}, want: true},
		"Exists does not match":          {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpExists)}}},
		"DoesNotExist matches":           {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("canary", metav1.LabelSelectorOpDoesNotExist)}}, want: true},
		"DoesNotExist does not match":    {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpDoesNotExist)}}},
		"matchLabels and matchExpressions both hold": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpIn, "frontend")}},
			want:     true,
		},
		"matchLabels hold, matchExpressions fail": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpIn, "backend")}},
		},
		"matchExpressions hold, matchLabels fail": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}, MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpExists)}},
		},
		"empty selector selects every pod": {selector: &metav1.LabelSelector{}, want: true},
		"nil selector selects none":        {selector: nil},
		"invalid operator selects none":    {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("app", "Equals", "web")}}},
		"In without values selects none":   {selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{req("app", metav1.LabelSelectorOpIn)}}},
		"invalid label key selects none":   {selector: &metav1.LabelSelector{MatchLabels: map[string]string{"not a key!": "web"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := deploy("web", replicas(3))
			d.Spec.Template.Labels = podLabels
			got := selectingPDBs(d, []*policyv1.PodDisruptionBudget{pdb("p", tc.selector, nil, intOrStr("1"))})
			if (len(got) == 1) != tc.want {
				t.Errorf("selected = %v, want %v", len(got) == 1, tc.want)
			}
		})
	}
}

// TestPDBBudget checks pdb-blocks-drain and pdb-unprotective against the disruption controller's arithmetic:
// percentages of both fields rounded up.
func TestPDBBudget(t *testing.T) {
	tests := map[string]struct {
		pdb         *policyv1.PodDisruptionBudget
		replicas    int32
		wantAllowed int32
		wantRule    string
		wantWhy     string
	}{
		"maxUnavailable 1 of 3":        {pdb: maxUnavailable("p", "1"), replicas: 3, wantAllowed: 1},
		"maxUnavailable 2 of 3":        {pdb: maxUnavailable("p", "2"), replicas: 3, wantAllowed: 2},
		"maxUnavailable 25% of 3 is 1": {pdb: maxUnavailable("p", "25%"), replicas: 3, wantAllowed: 1},
		"maxUnavailable 66% of 3 is 2": {pdb: maxUnavailable("p", "66%"), replicas: 3, wantAllowed: 2},
		"maxUnavailable 50% of 2 is 1": {pdb: maxUnavailable("p", "50%"), replicas: 2, wantAllowed: 1},
		"minAvailable 2 of 3":          {pdb: minAvailable("p", "2"), replicas: 3, wantAllowed: 1},
		"minAvailable 50% of 2 is 1":   {pdb: minAvailable("p", "50%"), replicas: 2, wantAllowed: 1},
		"minAvailable 34% of 3 is 2":   {pdb: minAvailable("p", "34%"), replicas: 3, wantAllowed: 1},
		"maxUnavailable 0": {
			pdb: maxUnavailable("p", "0"), replicas: 3, wantRule: RulePDBBlocksDrain,
			wantWhy: "PodDisruptionBudget p (maxUnavailable 0) allows 0 disruptions at 3 replica(s)",
		},
		"maxUnavailable 0%": {
			pdb: maxUnavailable("p", "0%"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(maxUnavailable 0%) allows 0 disruptions",
		},
		"minAvailable equal to replicas": {
			pdb: minAvailable("p", "3"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 3) allows 0 disruptions at 3 replica(s)",
		},
		"minAvailable above replicas": {
			pdb: minAvailable("p", "5"), replicas: 3, wantRule: RulePDBBlocksDrain,
		},
		"minAvailable 100%": {
			pdb: minAvailable("p", "100%"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 100%)",
		},
		"minAvailable 51% of 2 rounds up to 2": {
			pdb: minAvailable("p", "51%"), replicas: 2, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 51%) allows 0 disruptions at 2 replica(s)",
		},
		"minAvailable 67% of 3 rounds up to 3": {
			pdb: minAvailable("p", "67%"), replicas: 3, wantRule: RulePDBBlocksDrain,
		},
		"minAvailable 1 of 1": {
			pdb: minAvailable("p", "1"), replicas: 1, wantRule: RulePDBBlocksDrain,
		},
		"minAvailable 0": {
			pdb: minAvailable("p", "0"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
			wantWhy: "PodDisruptionBudget p (minAvailable 0) lets all 3 replica(s) be evicted at once",
		},
		"minAvailable 0%": {
			pdb: minAvailable("p", "0%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		},
		"maxUnavailable equal to replicas": {
			pdb: maxUnavailable("p", "3"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective, wantWhy: "(maxUnavailable 3)",
		},
		"maxUnavailable above replicas": {
			pdb: maxUnavailable("p", "10"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		},
		"maxUnavailable 100%": {
			pdb: maxUnavailable("p", "100%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		},
		"maxUnavailable 67% of 3 rounds up to 3": {
			pdb: maxUnavailable("p", "67%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		},
		"maxUnavailable 1 of 1": {
			pdb: maxUnavailable("p", "1"), replicas: 1, wantAllowed: 1, wantRule: RulePDBUnprotective,
		},
		"neither field set": {
			pdb: pdb("p", selectApp("web"), nil, nil), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
			wantWhy: "(no minAvailable or maxUnavailable) lets all 3",
		},
		"percentage above 100% does not wrap": {
			pdb: maxUnavailable("p", "400000000000%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		},
		"minAvailable far above 100% does not wrap": {
			pdb: minAvailable("p", "400000000000%"), replicas: 3, wantRule: RulePDBBlocksDrain,
		},
		"a string that is no percentage is an invalid budget": {
			pdb: pdb("p", selectApp("web"), nil, &intstr.IntOrString{Type: intstr.String, StrVal: "one"}), replicas: 3,
			wantRule: RulePDBBlocksDrain, wantWhy: "PodDisruptionBudget p has an invalid budget (",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.wantRule != RulePDBBlocksDrain || !strings.Contains(tc.wantWhy, "invalid") {
				allowed, err := allowedDisruptions(tc.pdb, tc.replicas)
				if err != nil || allowed != tc.wantAllowed {
					t.Errorf("allowedDisruptions = %d, %v; want %d", allowed, err, tc.wantAllowed)
				}
			}
			vs := pdbBudgetViolations(deploy("web", replicas(tc.replicas)), tc.pdb, tc.replicas)
			var want []string
			if tc.wantRule != "" {
				want = []string{tc.wantRule}
			}
			if diff := cmp.Diff(want, rules(vs)); diff != "" {
				t.Fatalf("rules mismatch (-want +got):\n%s", diff)
			}
			if len(vs) == 0 {
				return
			}
			v := vs[0]
			if !strings.Contains(v.Why, tc.wantWhy) {
				t.Errorf("Why = %q, want it to contain %q", v.Why, tc.wantWhy)
			}
			wantFix := `kubectl patch pdb p -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`
			if v.Fix != wantFix || v.Field.String() != "spec.template.metadata.labels" || v.BadValue != "p" {
				t.Errorf("violation = %+v, want field spec.template.metadata.labels, bad value p, fix %s", v, wantFix)
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	tests := map[string]struct {
		d              *appsv1.Deployment
		cluster        Cluster
		opts           func(*Options)
		wantViolations []string
		wantAdvisories []string
		// wantText are substrings of the rendered violations (Message lines).
		wantText []string
	}{
		"compliant": {
			d: deploy("web", replicas(3)), cluster: pdbs(maxUnavailable("web", "1")),
		},
		"nil replicas and no PDB": {
			d: deploy("web", nil), wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantText: []string{"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), fewer than 2"},
		},
		"zero replicas passes everything": {
			d: with(deploy("web", replicas(0)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
		},
		"zero replicas with an HPA passes": {
			d: deploy("web", replicas(0)), cluster: Cluster{HPAs: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(1))}},
		},
		"one replica with a PDB": {
			d: deploy("web", replicas(1)), cluster: pdbs(maxUnavailable("web", "1")),
			wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
		},
		"min-replicas option 3": {
			d: deploy("web", replicas(2)), cluster: pdbs(maxUnavailable("web", "1")), opts: func(o *Options) { o.MinReplicas = 3 },
			wantViolations: []string{RuleMinReplicas},
			wantText:       []string{"2 replica(s), fewer than 3", "kubectl scale deployment web -n shop --replicas=3"},
		},
		"min-replicas from an HPA names the HPA": {
			d:              deploy("web", replicas(5)),
			cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{maxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{hpa("web-hpa", "apps/v1", "Deployment", "web", nil)}},
			wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
			wantText: []string{
				"HorizontalPodAutoscaler web-hpa may scale to 1 replica(s), fewer than 2",
				`kubectl patch hpa web-hpa -n shop --type=merge -p '{"spec":{"minReplicas":2}}'`,
			},
		},
		"HPA minimum above the spec satisfies min-replicas": {
			d:       deploy("web", replicas(1)),
			cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{maxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(3))}},
		},
		"HPA minimum decides the PDB budget": {
			d:              deploy("web", replicas(5)),
			cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{minAvailable("web", "2")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(2))}},
			wantViolations: []string{RulePDBBlocksDrain},
			wantText:       []string{"allows 0 disruptions at 2 replica(s)"},
		},
		"PDB for other pods only": {
			d: deploy("web", replicas(3)), cluster: pdbs(pdb("api", selectApp("api"), nil, intOrStr("1"))),
			wantViolations: []string{RulePDBMissing},
			wantText: []string{
				"spec.template.metadata.labels: Required value: pdb-missing: no PodDisruptionBudget selects these pods",
				"kubectl create pdb web -n shop --selector=app=web --max-unavailable=1",
				"create PDBs before Deployments: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically",
			},
		},
		"PDB with a nil selector protects nothing": {
			d: deploy("web", replicas(3)), cluster: pdbs(pdb("all", nil, nil, intOrStr("1"))),
			wantViolations: []string{RulePDBMissing},
		},
		"PDB with an empty selector protects everything": {
			d: deploy("web", replicas(3)), cluster: pdbs(pdb("all", &metav1.LabelSelector{}, nil, intOrStr("1"))),
		},
		"two PDBs": {
			d: deploy("web", replicas(3)), cluster: pdbs(maxUnavailable("web-b", "1"), pdb("all", &metav1.LabelSelector{}, nil, intOrStr("1")), maxUnavailable("web-a", "1")),
			wantViolations: []string{RulePDBMultiple},
			wantText: []string{
				`spec.template.metadata.labels: Invalid value: "all,web-a,web-b": pdb-multiple: 3 PodDisruptionBudgets select these pods`,
				"keep one: kubectl delete pdb web-a web-b -n shop",
			},
		},
		"recreate strategy is advisory": {
			d:       with(deploy("web", replicas(3)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
			cluster: pdbs(maxUnavailable("web", "1")), wantAdvisories: []string{RuleStrategyRecreate},
		},
		"rolling update maxUnavailable equal to replicas": {
			d: withRolling(deploy("web", replicas(3)), "3"), cluster: pdbs(maxUnavailable("web", "1")),
			wantAdvisories: []string{RuleRolloutAllUnavailable},
		},
		"rolling update maxUnavailable 100%": {
			d: withRolling(deploy("web", replicas(3)), "100%"), cluster: pdbs(maxUnavailable("web", "1")),
			wantAdvisories: []string{RuleRolloutAllUnavailable},
		},
		"rolling update maxUnavailable 99% of 3 rounds down to 2": {
			d: withRolling(deploy("web", replicas(3)), "99%"), cluster: pdbs(maxUnavailable("web", "1")),
		},
		"rolling update maxUnavailable 50% of 2 rounds down to 1": {
			d: withRolling(deploy("web", replicas(2)), "50%"), cluster: pdbs(maxUnavailable("web", "1")),
		},
		"rolling update maxUnavailable above 100% does not wrap": {
			d: withRolling(deploy("web", replicas(3)), "400000000000%"), cluster: pdbs(maxUnavailable("web", "1")),
			wantAdvisories: []string{RuleRolloutAllUnavailable},
		},
		"default 25% at 1 replica rounds down to 0": {
			d: deploy("web", replicas(1)), cluster: pdbs(minAvailable("web", "0")),
			wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
		},
		"maxUnavailable 1 at 1 replica takes it down": {
			d: withRolling(deploy("web", replicas(1)), "1"), cluster: pdbs(minAvailable("web", "0")),
			wantViolations: []string{RuleMinReplicas, RulePDBUnprotective}, wantAdvisories: []string{RuleRolloutAllUnavailable},
		},
		"rollout advisory uses the HPA minimum": {
			d:              withRolling(deploy("web", replicas(10)), "2"),
			cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{maxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(2))}},
			wantAdvisories: []string{RuleRolloutAllUnavailable},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v := Deployment(tc.d, tc.cluster, opts)
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAdvisories, rules(v.Advisories)); diff != "" {
				t.Errorf("advisories mismatch (-want +got):\n%s", diff)
			}
			if v.Denied() != (len(tc.wantViolations) > 0) {
				t.Errorf("Denied() = %v", v.Denied())
			}
			if len(v.Ratcheted) > 0 || v.Exemption != "" || len(v.Notes) > 0 {
				t.Errorf("unexpected ratcheted %v, exemption %q, notes %q", v.Ratcheted, v.Exemption, v.Notes)
			}
			msg := Message(tc.d, append(v.Violations, v.Advisories...))
			for _, want := range tc.wantText {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

func withRolling(d *appsv1.Deployment, maxUnavailable string) *appsv1.Deployment {
	d.Spec.Strategy = appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrStr(maxUnavailable)},
	}
	return d
}

func TestUpdate(t *testing.T) {
	web := func(n int32) *appsv1.Deployment { return deploy("web", replicas(n)) }
	newImage := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:rollback"
		return d
	}
	relabel := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Template.Labels = map[string]string{"app": "web", "version": "v2"}
		return d
	}
	tests := map[string]struct {
		old, new       *appsv1.Deployment
		cluster        Cluster
		wantViolations []string
		wantRatcheted  []string
	}{
		"image-only change on a non-compliant Deployment": {
			old: web(1), new: newImage(web(1)),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"unset replicas stay 1": {
			old: deploy("web", nil), new: newImage(deploy("web", nil)),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"unset to explicit 1 is no change": {
			old: deploy("web", nil), new: web(1),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"image change with a pre-existing blocking PDB": {
			old: web(3), new: newImage(web(3)), cluster: pdbs(minAvailable("web", "100%")),
			wantRatcheted: []string{RulePDBBlocksDrain},
		},
		"replicas lowered 3 to 1": {
			old: web(3), new: web(1), cluster: pdbs(maxUnavailable("web", "1")),
			wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
		},
		"replicas lowered 2 to 1 without PDB: the missing PDB stays a warning": {
			old: web(2), new: web(1),
			wantViolations: []string{RuleMinReplicas}, wantRatcheted: []string{RulePDBMissing},
		},
		"replicas changed with a pre-existing blocking PDB: denied": {
			old: web(3), new: web(4), cluster: pdbs(minAvailable("web", "100%")),
			wantViolations: []string{RulePDBBlocksDrain},
		},
		"replicas raised fixes the blocking PDB": {
			old: web(3), new: web(4), cluster: pdbs(minAvailable("web", "3")),
		},
		"labels changed so that the PDB no longer selects": {
			old: web(3), new: relabel(web(3)), cluster: pdbs(pdb("web", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "version": "v1"}}, nil, intOrStr("1"))),
			wantViolations: []string{RulePDBMissing},
		},
		"labels changed on a Deployment already without PDB": {
			old: web(3), new: relabel(web(3)),
			wantViolations: []string{RulePDBMissing},
		},
		"labels changed, PDB still selects": {
			old: web(3), new: relabel(web(3)), cluster: pdbs(maxUnavailable("web", "1")),
		},
		"scale from 0 to 1 is a new violation": {
			old: web(0), new: web(1),
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
		},
		"scale from 0 to 3 without PDB": {
			old: web(0), new: web(3),
			wantViolations: []string{RulePDBMissing},
		},
		"scale to 0": {old: web(1), new: web(0)},
		"HPA-managed replicas change: effective replicas unchanged": {
			old: web(1), new: web(5),
			cluster:       Cluster{PDBs: []*policyv1.PodDisruptionBudget{maxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{webHPA(nil)}},
			wantRatcheted: []string{RuleMinReplicas, RulePDBUnprotective},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := Update(tc.old, tc.new, tc.cluster, DefaultOptions())
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRatcheted, rules(v.Ratcheted)); diff != "" {
				t.Errorf("ratcheted mismatch (-want +got):\n%s", diff)
			}
			// Ratcheting only moves violations between the lists: together they are what a create would report.
			created := Deployment(tc.new, tc.cluster, DefaultOptions())
			if diff := cmp.Diff(rules(created.Violations), sortedLike(rules(created.Violations), append(rules(v.Violations), rules(v.Ratcheted)...))); diff != "" {
				t.Errorf("violations + ratcheted differ from Deployment() (-create +update):\n%s", diff)
			}
			if diff := cmp.Diff(rules(created.Advisories), rules(v.Advisories)); diff != "" {
				t.Errorf("advisories differ from Deployment() (-create +update):\n%s", diff)
			}
		})
	}
}

// sortedLike orders got as ref is ordered (for comparing two partitions of ref with ref).
func sortedLike(ref, got []string) []string {
	var out []string
	rest := append([]string(nil), got...)
	for _, r := range ref {
		for i, g := range rest {
			if g == r {
				out = append(out, g)
				rest = append(rest[:i], rest[i+1:]...)
				break
			}
		}
	}
	return append(out, rest...)
}

func TestExemptions(t *testing.T) {
	exempt := func(d *appsv1.Deployment, reason string) *appsv1.Deployment {
		d.Annotations = map[string]string{names.AnnotationExempt: reason}
		return d
	}
	recreate := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		return d
	}
	tests := map[string]struct {
		old, d         *appsv1.Deployment
		allow          bool
		wantExemption  string
		wantViolations []string
		wantRatcheted  []string
		wantAdvisories []string
		wantNotes      []string
	}{
		"exempt": {
			d: recreate(exempt(deploy("web", replicas(1)), "singleton leader, see INC-42")), allow: true,
			wantExemption:  "singleton leader, see INC-42",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing, RuleStrategyRecreate},
		},
		"reason trimmed": {
			d: exempt(deploy("web", replicas(1)), "  batch tier \n"), allow: true,
			wantExemption: "batch tier", wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"long reason truncated to 80 characters": {
			d: exempt(deploy("web", replicas(1)), strings.Repeat("r", 500)), allow: true,
			wantExemption: strings.Repeat("r", 79) + "…", wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"exempt with enough replicas": {
			d: exempt(deploy("web", replicas(3)), "why not"), allow: true,
			wantExemption: "why not", wantAdvisories: []string{RulePDBMissing},
		},
		"empty reason is no exemption": {
			d: exempt(deploy("web", replicas(1)), ""), allow: true,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt has an empty reason, so it is no exemption"},
		},
		"blank reason is no exemption": {
			d: exempt(deploy("web", replicas(1)), " \t "), allow: true,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt has an empty reason, so it is no exemption"},
		},
		"exemptions disabled": {
			d: exempt(deploy("web", replicas(1)), "please"), allow: false,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt ignored: exemptions are disabled on this cluster"},
		},
		"exempt update: ratcheted and new violations become advisories": {
			old: deploy("web", replicas(2)), d: exempt(deploy("web", replicas(1)), "scale-down for maintenance"), allow: true,
			wantExemption:  "scale-down for maintenance",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"update with exemptions disabled still ratchets": {
			old: deploy("web", replicas(2)), d: exempt(deploy("web", replicas(1)), "please"), allow: false,
			wantViolations: []string{RuleMinReplicas}, wantRatcheted: []string{RulePDBMissing},
			wantNotes: []string{"ha-webhook.io/exempt ignored: exemptions are disabled on this cluster"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.AllowExemptions = tc.allow
			var v Verdict
			if tc.old == nil {
				v = Deployment(tc.d, Cluster{}, opts)
			} else {
				v = Update(tc.old, tc.d, Cluster{}, opts)
			}
			if v.Exemption != tc.wantExemption {
				t.Errorf("Exemption = %q, want %q", v.Exemption, tc.wantExemption)
			}
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRatcheted, rules(v.Ratcheted)); diff != "" {
				t.Errorf("ratcheted mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAdvisories, rules(v.Advisories)); diff != "" {
				t.Errorf("advisories mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNotes, v.Notes); diff != "" {
				t.Errorf("notes mismatch (-want +got):\n%s", diff)
			}
			if v.Denied() != (len(tc.wantViolations) > 0) {
				t.Errorf("Denied() = %v", v.Denied())
			}
		})
	}
}

// TestDeterministic: the verdict does not depend on the order the cache lists PDBs and HPAs in.
func TestDeterministic(t *testing.T) {
	d := withRolling(deploy("web", replicas(1)), "1")
	all := []*policyv1.PodDisruptionBudget{
		maxUnavailable("zeta", "1"), minAvailable("alpha", "100%"), pdb("all", &metav1.LabelSelector{}, nil, intOrStr("1")),
		maxUnavailable("mid", "0"), pdb("other", selectApp("api"), nil, intOrStr("1")),
	}
	hpas := []*autoscalingv2.HorizontalPodAutoscaler{webHPA(replicas(1)), hpa("b", "apps/v1", "Deployment", "web", replicas(1))}
	want := Deployment(d, Cluster{PDBs: all, HPAs: hpas}, DefaultOptions())
	wantMsg := Message(d, want.Violations)
	if !strings.Contains(wantMsg, `"all,alpha,mid,zeta"`) {
		t.Fatalf("PDB names not sorted in:\n%s", wantMsg)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ps := append([]*policyv1.PodDisruptionBudget(nil), all...)
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		got := Deployment(d, Cluster{PDBs: ps, HPAs: hpas}, DefaultOptions())
		if msg := Message(d, got.Violations); msg != wantMsg {
			t.Fatalf("message depends on PDB order:\n%s\nvs\n%s", msg, wantMsg)
		}
		if diff := cmp.Diff(Warnings(want, names.ModeAudit), Warnings(got, names.ModeAudit)); diff != "" {
			t.Fatalf("warnings depend on PDB order:\n%s", diff)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		wantErr bool
	}{
		"defaults":       {opts: DefaultOptions()},
		"min replicas 1": {opts: Options{MinReplicas: 1}},
		"min replicas 0": {opts: Options{MinReplicas: 0}, wantErr: true},
		"negative":       {opts: Options{MinReplicas: -2}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
	if d := DefaultOptions(); d.MinReplicas != 2 || !d.AllowExemptions {
		t.Errorf("DefaultOptions() = %+v, want MinReplicas 2 and exemptions allowed", d)
	}
}
