package validate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

func TestEffectiveReplicas(t *testing.T) {
	tests := map[string]struct {
		d       *appsv1.Deployment
		hpas    []*autoscalingv2.HorizontalPodAutoscaler
		want    int32
		wantHPA string
	}{
		"nil replicas means 1":     {d: fixture.Deployment("web", nil), want: 1},
		"spec replicas":            {d: fixture.Deployment("web", fixture.Replicas(3)), want: 3},
		"zero":                     {d: fixture.Deployment("web", fixture.Replicas(0)), want: 0},
		"HPA minReplicas wins":     {d: fixture.Deployment("web", fixture.Replicas(1)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(4))}, want: 4, wantHPA: "web"},
		"HPA lower than spec":      {d: fixture.Deployment("web", fixture.Replicas(5)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(2))}, want: 2, wantHPA: "web"},
		"HPA nil minReplicas is 1": {d: fixture.Deployment("web", fixture.Replicas(5)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(nil)}, want: 1, wantHPA: "web"},
		"HPA targeting another Deployment ignored": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("api", "apps/v1", "Deployment", "api", fixture.Replicas(1))}, want: 3,
		},
		"HPA targeting a StatefulSet of the same name ignored": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("web", "apps/v1", "StatefulSet", "web", fixture.Replicas(1))}, want: 3,
		},
		"HPA with extensions/v1beta1 accepted": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("old", "extensions/v1beta1", "Deployment", "web", fixture.Replicas(1))}, want: 1, wantHPA: "old",
		},
		"HPA with apps/v1beta2 accepted": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("old", "apps/v1beta2", "Deployment", "web", fixture.Replicas(2))}, want: 2, wantHPA: "old",
		},
		"HPA with a core apiVersion ignored": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("bad", "v1", "Deployment", "web", fixture.Replicas(1))}, want: 3,
		},
		"HPA with a custom group ignored": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("argo", "argoproj.io/v1alpha1", "Deployment", "web", fixture.Replicas(1))}, want: 3,
		},
		"HPA with an unparsable apiVersion ignored": {
			d: fixture.Deployment("web", fixture.Replicas(3)), hpas: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("bad", "a/b/c", "Deployment", "web", fixture.Replicas(1))}, want: 3,
		},
		"two HPAs: the lowest minimum": {
			d: fixture.Deployment("web", fixture.Replicas(3)),
			hpas: []*autoscalingv2.HorizontalPodAutoscaler{
				fixture.HPA("high", "apps/v1", "Deployment", "web", fixture.Replicas(4)),
				fixture.HPA("low", "apps/v1", "Deployment", "web", fixture.Replicas(2)),
				fixture.HPA("other", "apps/v1", "Deployment", "api", fixture.Replicas(1)),
			},
			want: 2, wantHPA: "low",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := effectiveReplicas(dw(tc.d), tc.hpas)
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
			d := fixture.Deployment("web", fixture.Replicas(3))
			d.Spec.Template.Labels = podLabels
			got := SelectingPDBs(d.Spec.Template.Labels, []*policyv1.PodDisruptionBudget{fixture.PDB("p", tc.selector, nil, fixture.IntOrStr("1"))})
			if (len(got) == 1) != tc.want {
				t.Errorf("selected = %v, want %v", len(got) == 1, tc.want)
			}
		})
	}
}

type pdbBudgetCase struct {
	pdb         *policyv1.PodDisruptionBudget
	replicas    int32
	wantAllowed int32
	wantRule    string
	wantWhy     string
}

// pdbBudgetCases are the examples of TestPDBBudget; TestWarningsFit renders them as warnings too.
var pdbBudgetCases = map[string]pdbBudgetCase{
	"maxUnavailable 1 of 3":        {pdb: fixture.MaxUnavailable("p", "1"), replicas: 3, wantAllowed: 1},
	"maxUnavailable 2 of 3":        {pdb: fixture.MaxUnavailable("p", "2"), replicas: 3, wantAllowed: 2},
	"maxUnavailable 25% of 3 is 1": {pdb: fixture.MaxUnavailable("p", "25%"), replicas: 3, wantAllowed: 1},
	"maxUnavailable 66% of 3 is 2": {pdb: fixture.MaxUnavailable("p", "66%"), replicas: 3, wantAllowed: 2},
	"maxUnavailable 50% of 2 is 1": {pdb: fixture.MaxUnavailable("p", "50%"), replicas: 2, wantAllowed: 1},
	"minAvailable 2 of 3":          {pdb: fixture.MinAvailable("p", "2"), replicas: 3, wantAllowed: 1},
	"minAvailable 50% of 2 is 1":   {pdb: fixture.MinAvailable("p", "50%"), replicas: 2, wantAllowed: 1},
	"minAvailable 34% of 3 is 2":   {pdb: fixture.MinAvailable("p", "34%"), replicas: 3, wantAllowed: 1},
	"maxUnavailable 0": {
		pdb: fixture.MaxUnavailable("p", "0"), replicas: 3, wantRule: RulePDBBlocksDrain,
		wantWhy: "PDB p (maxUnavailable 0) allows 0 evictions at 3 replicas: drains stall",
	},
	"maxUnavailable 0%": {
		pdb: fixture.MaxUnavailable("p", "0%"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(maxUnavailable 0%) allows 0 evictions",
	},
	"minAvailable equal to replicas": {
		pdb: fixture.MinAvailable("p", "3"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 3) allows 0 evictions at 3 replicas",
	},
	"minAvailable above replicas": {
		pdb: fixture.MinAvailable("p", "5"), replicas: 3, wantRule: RulePDBBlocksDrain,
	},
	"minAvailable 100%": {
		pdb: fixture.MinAvailable("p", "100%"), replicas: 3, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 100%)",
	},
	"minAvailable 51% of 2 rounds up to 2": {
		pdb: fixture.MinAvailable("p", "51%"), replicas: 2, wantRule: RulePDBBlocksDrain, wantWhy: "(minAvailable 51%) allows 0 evictions at 2 replicas",
	},
	"minAvailable 67% of 3 rounds up to 3": {
		pdb: fixture.MinAvailable("p", "67%"), replicas: 3, wantRule: RulePDBBlocksDrain,
	},
	"minAvailable 1 of 1": {
		pdb: fixture.MinAvailable("p", "1"), replicas: 1, wantRule: RulePDBBlocksDrain,
	},
	"minAvailable 0": {
		pdb: fixture.MinAvailable("p", "0"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
		wantWhy: "PDB p (minAvailable 0) lets all 3 replicas be evicted at once",
	},
	"minAvailable 0%": {
		pdb: fixture.MinAvailable("p", "0%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
	},
	"maxUnavailable equal to replicas": {
		pdb: fixture.MaxUnavailable("p", "3"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective, wantWhy: "(maxUnavailable 3)",
	},
	"maxUnavailable above replicas": {
		pdb: fixture.MaxUnavailable("p", "10"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
	},
	"maxUnavailable 100%": {
		pdb: fixture.MaxUnavailable("p", "100%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
	},
	"maxUnavailable 67% of 3 rounds up to 3": {
		pdb: fixture.MaxUnavailable("p", "67%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
	},
	"maxUnavailable 1 of 1": {
		pdb: fixture.MaxUnavailable("p", "1"), replicas: 1, wantAllowed: 1, wantRule: RulePDBUnprotective,
	},
	// The disruption controller expects no pods of a PDB with neither field (getExpectedPodCount), and allows no
	// disruption while it expects none (updatePdbStatus): such a PDB blocks every eviction.
	"neither field set blocks every eviction": {
		pdb: fixture.PDB("p", fixture.SelectApp("web"), nil, nil), replicas: 3, wantAllowed: 0, wantRule: RulePDBBlocksDrain,
		wantWhy: "(no budget) allows 0 evictions at 3 replicas",
	},
	"percentage above 100% does not wrap": {
		pdb: fixture.MaxUnavailable("p", "400000000000%"), replicas: 3, wantAllowed: 3, wantRule: RulePDBUnprotective,
	},
	"minAvailable far above 100% does not wrap": {
		pdb: fixture.MinAvailable("p", "400000000000%"), replicas: 3, wantRule: RulePDBBlocksDrain,
	},
	"a string that is no percentage is an invalid budget": {
		pdb: fixture.PDB("p", fixture.SelectApp("web"), nil, &intstr.IntOrString{Type: intstr.String, StrVal: "one"}), replicas: 3,
		wantRule: RulePDBBlocksDrain, wantWhy: "PDB p has an invalid budget (",
	},
}

// TestPDBBudget checks pdb-blocks-drain and pdb-unprotective against the disruption controller's arithmetic:
// percentages of both fields rounded up.
func TestPDBBudget(t *testing.T) {
	for name, tc := range pdbBudgetCases {
		t.Run(name, func(t *testing.T) {
			invalid := strings.Contains(tc.wantWhy, "invalid budget")
			if !invalid {
				allowed, err := allowedDisruptions(tc.pdb, tc.replicas)
				if err != nil || allowed != tc.wantAllowed {
					t.Errorf("allowedDisruptions = %d, %v; want %d", allowed, err, tc.wantAllowed)
				}
			}
			vs := budgetViolations(dw(fixture.Deployment("web", fixture.Replicas(tc.replicas))), tc.pdb, Cluster{}, tc.replicas, tc.replicas)
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
			if tc.wantRule == RulePDBBlocksDrain && !invalid {
				// The GKE timeout moved from the why (which must fit a warning) to the fix.
				wantFix += " (a blocked drain makes GKE wait up to 1h per node, then evict anyway)"
			}
			if v.Fix != wantFix || v.Field.String() != "spec.template.metadata.labels" || v.BadValue != "p" {
				t.Errorf("violation = %+v, want field spec.template.metadata.labels, bad value p, fix %s", v, wantFix)
			}
		})
	}
}

// TestPDBBudgetLongName: the why names at most 40 characters of the PDB, so that the warning keeps its point; the
// fix and the bad value keep the whole name, since the command must work.
func TestPDBBudgetLongName(t *testing.T) {
	long := strings.Repeat("n", 63)
	for name, p := range map[string]*policyv1.PodDisruptionBudget{
		"blocks drain": fixture.MaxUnavailable(long, "0"),
		"unprotective": fixture.MaxUnavailable(long, "100%"),
		"invalid":      fixture.PDB(long, fixture.SelectApp("web"), nil, &intstr.IntOrString{Type: intstr.String, StrVal: "one"}),
	} {
		t.Run(name, func(t *testing.T) {
			vs := budgetViolations(dw(fixture.Deployment("web", fixture.Replicas(3))), p, Cluster{}, 3, 3)
			if len(vs) != 1 {
				t.Fatalf("got %d violations, want 1", len(vs))
			}
			v := vs[0]
			if want := "PDB " + strings.Repeat("n", 39) + "… "; !strings.HasPrefix(v.Why, want) {
				t.Errorf("Why = %q, want it to start with %q", v.Why, want)
			}
			if !strings.Contains(v.Fix, "kubectl patch pdb "+long+" -n shop ") || v.BadValue != long {
				t.Errorf("fix %q or bad value %v lacks the whole name", v.Fix, v.BadValue)
			}
		})
	}
}

type deploymentCase struct {
	d              *appsv1.Deployment
	cluster        Cluster
	opts           func(*Options)
	wantViolations []string
	wantAdvisories []string
	// wantText are substrings of the rendered violations (Message lines); wantNoText must not occur in them.
	wantText, wantNoText []string
	// longNames marks names deliberately longer than the 40 characters a why repeats: TestWarningsFit lets those
	// warnings be cut.
	longNames bool
}

func minReplicasOption(n int32) func(*Options) { return func(o *Options) { o.MinReplicas = n } }

// deploymentCases are the examples of TestDeployment; TestWarningsFit renders their warnings too.
var deploymentCases = map[string]deploymentCase{
	"compliant": {
		d: fixture.Deployment("web", fixture.Replicas(3)), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
	},
	"nil replicas and no PDB": {
		d: fixture.Deployment("web", nil), wantViolations: []string{RuleMinReplicas, RulePDBMissing},
		wantText: []string{
			"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2: a node drain or eviction cuts all traffic",
			"fix: set spec.replicas to 2 or more (kubectl scale deployment web -n shop --replicas=2); " +
				"if an HPA will manage it, create the HPA first (Helm creates HPAs after Deployments) or set spec.replicas",
			"pdb-missing: no PodDisruptionBudget selects these pods: a drain may evict them all at once",
		},
	},
	"explicit 1 replica: the fix does not guess at an HPA": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
		wantViolations: []string{RuleMinReplicas},
		wantText:       []string{"fix: set spec.replicas to 2 or more (kubectl scale deployment web -n shop --replicas=2)"},
		wantNoText:     []string{"HPA", "Helm"},
	},
	"zero replicas passes everything": {
		d: fixture.With(fixture.Deployment("web", fixture.Replicas(0)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
	},
	"zero replicas with an HPA passes": {
		d: fixture.Deployment("web", fixture.Replicas(0)), cluster: Cluster{HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(1))}},
	},
	// The PDB budget is judged at max(effective replicas, MinReplicas): at 1 replica every budget either blocks
	// drains or protects nothing, and min-replicas already says what to fix first.
	"one replica with a PDB maxUnavailable 1: only min-replicas": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
		wantViolations: []string{RuleMinReplicas},
		wantNoText:     []string{RulePDBUnprotective},
	},
	// At 2 replicas minAvailable 1 would be fine, but at the 1 it runs the PDB stalls every drain today.
	"one replica with a PDB minAvailable 1: min-replicas, and the stall at 1 replica": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "1")),
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"PDB web (minAvailable 1) allows 0 evictions at 1 replica: drains stall"},
	},
	"one replica with a PDB maxUnavailable 0 blocks drains at min-replicas": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MaxUnavailable("web", "0")),
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"PDB web (maxUnavailable 0) allows 0 evictions at 2 replicas: drains stall"},
	},
	"one replica with a PDB minAvailable 0 protects nothing at min-replicas": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "0")),
		wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
		wantText:       []string{"PDB web (minAvailable 0) lets all 2 replicas be evicted at once"},
	},
	"budget judged at min-replicas 3: minAvailable 2 passes at 3, but blocks at the 2 it runs": {
		d: fixture.Deployment("web", fixture.Replicas(2)), cluster: pdbs(fixture.MinAvailable("web", "2")), opts: minReplicasOption(3),
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"(minAvailable 2) allows 0 evictions at 2 replicas"},
	},
	"budget judged at min-replicas 3: maxUnavailable 2 at 2 replicas would not protect": {
		d: fixture.Deployment("web", fixture.Replicas(2)), cluster: pdbs(fixture.MaxUnavailable("web", "2")), opts: minReplicasOption(3),
		wantViolations: []string{RuleMinReplicas},
	},
	"budget judged at min-replicas 3: minAvailable 3 blocks at 3": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "3")), opts: minReplicasOption(3),
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"1 replica(s), below 3", "(minAvailable 3) allows 0 evictions at 3 replicas"},
	},
	"budget judged at the effective replicas when above min-replicas": {
		d: fixture.Deployment("web", fixture.Replicas(4)), cluster: pdbs(fixture.MinAvailable("web", "4")),
		wantViolations: []string{RulePDBBlocksDrain},
		wantText:       []string{"(minAvailable 4) allows 0 evictions at 4 replicas"},
	},
	// With --min-replicas 1 a single replica is allowed, and the budget is judged at that 1 replica.
	"min-replicas 1: one replica with maxUnavailable 1 is unprotective": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MaxUnavailable("web", "1")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBUnprotective},
		wantText:       []string{"PDB web (maxUnavailable 1) lets all 1 replica be evicted at once"},
	},
	"min-replicas 1: one replica with minAvailable 1 blocks drains": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "1")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBBlocksDrain},
		wantText:       []string{"PDB web (minAvailable 1) allows 0 evictions at 1 replica: drains stall"},
	},
	"min-replicas 1: one replica with maxUnavailable 0 blocks drains": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MaxUnavailable("web", "0")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBBlocksDrain},
	},
	"min-replicas 1: one replica with minAvailable 50% blocks drains at 1, not at 2": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "50%")), opts: minReplicasOption(1),
		wantViolations: []string{RulePDBBlocksDrain},
	},
	"min-replicas 2: one replica with minAvailable 50% passes at 2, but blocks at 1": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "50%")),
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"(minAvailable 50%) allows 0 evictions at 1 replica"},
	},
	"min-replicas option 3": {
		d: fixture.Deployment("web", fixture.Replicas(2)), cluster: pdbs(fixture.MaxUnavailable("web", "1")), opts: minReplicasOption(3),
		wantViolations: []string{RuleMinReplicas},
		wantText:       []string{"2 replica(s), below 3", "kubectl scale deployment web -n shop --replicas=3"},
		wantNoText:     []string{"Helm"},
	},
	"min-replicas from an HPA names the HPA": {
		d:              fixture.Deployment("web", fixture.Replicas(5)),
		cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("web-hpa", "apps/v1", "Deployment", "web", nil)}},
		wantViolations: []string{RuleMinReplicas},
		wantText: []string{
			"min-replicas: HPA web-hpa may scale to 1 replica(s), below 2: a drain then cuts all traffic",
			`kubectl patch hpa web-hpa -n shop --type=merge -p '{"spec":{"minReplicas":2}}'`,
		},
	},
	"min-replicas from an HPA: a long HPA name is cut in the why, not in the fix": {
		d: fixture.Deployment("web", nil),
		cluster: Cluster{
			PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")},
			HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA(strings.Repeat("h", 60), "apps/v1", "Deployment", "web", nil)},
		},
		wantViolations: []string{RuleMinReplicas},
		wantText: []string{
			"HPA " + strings.Repeat("h", 39) + "… may scale to 1 replica(s), below 2",
			"kubectl patch hpa " + strings.Repeat("h", 60) + " -n shop",
		},
		// An HPA manages it already: the Helm ordering hint is only for a Deployment without one.
		wantNoText: []string{"Helm"},
		longNames:  true,
	},
	"HPA at 1 replica with a PDB maxUnavailable 0: blocks drains at min-replicas": {
		d:              fixture.Deployment("web", fixture.Replicas(5)),
		cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "0")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(nil)}},
		wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		wantText:       []string{"HPA web may scale to 1 replica(s), below 2", "allows 0 evictions at 2 replicas"},
	},
	"HPA minimum above the spec satisfies min-replicas": {
		d:       fixture.Deployment("web", fixture.Replicas(1)),
		cluster: Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(3))}},
	},
	"HPA minimum decides the PDB budget": {
		d:              fixture.Deployment("web", fixture.Replicas(5)),
		cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MinAvailable("web", "2")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(2))}},
		wantViolations: []string{RulePDBBlocksDrain},
		wantText: []string{
			`Invalid value: "web": pdb-blocks-drain: PDB web (minAvailable 2) allows 0 evictions at 2 replicas: drains stall; fix: ` +
				`kubectl patch pdb web -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}' ` +
				"(a blocked drain makes GKE wait up to 1h per node, then evict anyway)",
		},
	},
	"PDB for other pods only": {
		d: fixture.Deployment("web", fixture.Replicas(3)), cluster: pdbs(fixture.PDB("api", fixture.SelectApp("api"), nil, fixture.IntOrStr("1"))),
		wantViolations: []string{RulePDBMissing},
		wantText: []string{
			"spec.template.metadata.labels: Required value: pdb-missing: no PodDisruptionBudget selects these pods",
			"kubectl create pdb web -n shop --selector=app=web --max-unavailable=1",
			"create PDBs before Deployments: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically",
		},
	},
	"PDB with a nil selector protects nothing": {
		d: fixture.Deployment("web", fixture.Replicas(3)), cluster: pdbs(fixture.PDB("all", nil, nil, fixture.IntOrStr("1"))),
		wantViolations: []string{RulePDBMissing},
	},
	"PDB with an empty selector protects everything": {
		d: fixture.Deployment("web", fixture.Replicas(3)), cluster: pdbs(fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("1"))),
	},
	"two PDBs": {
		d: fixture.Deployment("web", fixture.Replicas(3)), cluster: pdbs(fixture.MaxUnavailable("web-b", "1"), fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("1")), fixture.MaxUnavailable("web-a", "1")),
		wantViolations: []string{RulePDBMultiple},
		wantText: []string{
			`spec.template.metadata.labels: Invalid value: "all,web-a,web-b": pdb-multiple: 3 PodDisruptionBudgets select these pods: evictions fail, every drain stalls`,
			"keep one: kubectl delete pdb web-a web-b -n shop",
		},
	},
	"recreate strategy is advisory": {
		d:       fixture.With(fixture.Deployment("web", fixture.Replicas(3)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
		cluster: pdbs(fixture.MaxUnavailable("web", "1")), wantAdvisories: []string{RuleStrategyRecreate},
	},
	"rolling update maxUnavailable equal to replicas": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(3)), "3"), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
		wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rolling update maxUnavailable 100%": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(3)), "100%"), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
		wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rolling update maxUnavailable 99% of 3 rounds down to 2": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(3)), "99%"), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
	},
	"rolling update maxUnavailable 50% of 2 rounds down to 1": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(2)), "50%"), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
	},
	"rolling update maxUnavailable above 100% does not wrap": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(3)), "400000000000%"), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
		wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"default 25% at 1 replica rounds down to 0": {
		d: fixture.Deployment("web", fixture.Replicas(1)), cluster: pdbs(fixture.MinAvailable("web", "0")),
		wantViolations: []string{RuleMinReplicas, RulePDBUnprotective},
	},
	"maxUnavailable 1 at 1 replica takes it down": {
		d: withRolling(fixture.Deployment("web", fixture.Replicas(1)), "1"), cluster: pdbs(fixture.MinAvailable("web", "0")),
		wantViolations: []string{RuleMinReplicas, RulePDBUnprotective}, wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
	"rollout advisory uses the HPA minimum": {
		d:              withRolling(fixture.Deployment("web", fixture.Replicas(10)), "2"),
		cluster:        Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(2))}},
		wantAdvisories: []string{RuleRolloutAllUnavailable},
	},
}

func TestDeployment(t *testing.T) {
	for name, tc := range deploymentCases {
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
			if len(v.PreExisting) > 0 || v.Exemption != "" || len(v.Notes) > 0 {
				t.Errorf("unexpected ratcheted %v, exemption %q, notes %q", v.PreExisting, v.Exemption, v.Notes)
			}
			msg := Message(dw(tc.d), append(v.Violations, v.Advisories...))
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
		})
	}
}

func withRolling(d *appsv1.Deployment, maxUnavailable string) *appsv1.Deployment {
	d.Spec.Strategy = appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: fixture.IntOrStr(maxUnavailable)},
	}
	return d
}

type updateCase struct {
	old, new       *appsv1.Deployment
	cluster        Cluster
	wantViolations []string
	wantRatcheted  []string
}

// updateCases are the examples of TestUpdate; TestWarningsFit renders their warnings too.
func updateCases() map[string]updateCase {
	web := func(n int32) *appsv1.Deployment { return fixture.Deployment("web", fixture.Replicas(n)) }
	newImage := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:rollback"
		return d
	}
	relabel := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Template.Labels = map[string]string{"app": "web", "version": "v2"}
		return d
	}
	return map[string]updateCase{
		"image-only change on a non-compliant Deployment": {
			old: web(1), new: newImage(web(1)),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"unset replicas stay 1": {
			old: fixture.Deployment("web", nil), new: newImage(fixture.Deployment("web", nil)),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"unset to explicit 1 is no change": {
			old: fixture.Deployment("web", nil), new: web(1),
			wantRatcheted: []string{RuleMinReplicas, RulePDBMissing},
		},
		"image change with a pre-existing blocking PDB": {
			old: web(3), new: newImage(web(3)), cluster: pdbs(fixture.MinAvailable("web", "100%")),
			wantRatcheted: []string{RulePDBBlocksDrain},
		},
		"replicas lowered 3 to 1": {
			old: web(3), new: web(1), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
			wantViolations: []string{RuleMinReplicas},
		},
		"replicas lowered 3 to 1 with a blocking PDB: both deny (the budget is judged at min-replicas)": {
			old: web(3), new: web(1), cluster: pdbs(fixture.MaxUnavailable("web", "0")),
			wantViolations: []string{RuleMinReplicas, RulePDBBlocksDrain},
		},
		"replicas lowered 2 to 1 without PDB: the missing PDB stays a warning": {
			old: web(2), new: web(1),
			wantViolations: []string{RuleMinReplicas}, wantRatcheted: []string{RulePDBMissing},
		},
		"replicas changed with a pre-existing blocking PDB: denied": {
			old: web(3), new: web(4), cluster: pdbs(fixture.MinAvailable("web", "100%")),
			wantViolations: []string{RulePDBBlocksDrain},
		},
		"replicas raised fixes the blocking PDB": {
			old: web(3), new: web(4), cluster: pdbs(fixture.MinAvailable("web", "3")),
		},
		"labels changed so that the PDB no longer selects": {
			old: web(3), new: relabel(web(3)), cluster: pdbs(fixture.PDB("web", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "version": "v1"}}, nil, fixture.IntOrStr("1"))),
			wantViolations: []string{RulePDBMissing},
		},
		"labels changed on a Deployment already without PDB": {
			old: web(3), new: relabel(web(3)),
			wantViolations: []string{RulePDBMissing},
		},
		"labels changed, PDB still selects": {
			old: web(3), new: relabel(web(3)), cluster: pdbs(fixture.MaxUnavailable("web", "1")),
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
			cluster:       Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(nil)}},
			wantRatcheted: []string{RuleMinReplicas},
		},
		"HPA-managed replicas change with a blocking PDB: both ratcheted": {
			old: web(1), new: web(5),
			cluster:       Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "0")}, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(nil)}},
			wantRatcheted: []string{RuleMinReplicas, RulePDBBlocksDrain},
		},
	}
}

func TestUpdate(t *testing.T) {
	for name, tc := range updateCases() {
		t.Run(name, func(t *testing.T) {
			v := Update(dw(tc.old), dw(tc.new), tc.cluster, DefaultOptions())
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRatcheted, rules(v.PreExisting)); diff != "" {
				t.Errorf("ratcheted mismatch (-want +got):\n%s", diff)
			}
			// Ratcheting only moves violations between the lists: together they are what a create would report.
			created := Deployment(tc.new, tc.cluster, DefaultOptions())
			if diff := cmp.Diff(rules(created.Violations), sortedLike(rules(created.Violations), append(rules(v.Violations), rules(v.PreExisting)...))); diff != "" {
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
			d: recreate(exempt(fixture.Deployment("web", fixture.Replicas(1)), "singleton leader, see INC-42")), allow: true,
			wantExemption:  "singleton leader, see INC-42",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing, RuleStrategyRecreate},
		},
		"reason trimmed": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(1)), "  batch tier \n"), allow: true,
			wantExemption: "batch tier", wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"long reason truncated to 80 characters": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(1)), strings.Repeat("r", 500)), allow: true,
			wantExemption: strings.Repeat("r", 79) + "…", wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"exempt with enough replicas": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(3)), "why not"), allow: true,
			wantExemption: "why not", wantAdvisories: []string{RulePDBMissing},
		},
		"empty reason is no exemption": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(1)), ""), allow: true,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt has an empty reason, so it is no exemption"},
		},
		"blank reason is no exemption": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(1)), " \t "), allow: true,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt has an empty reason, so it is no exemption"},
		},
		"exemptions disabled": {
			d: exempt(fixture.Deployment("web", fixture.Replicas(1)), "please"), allow: false,
			wantViolations: []string{RuleMinReplicas, RulePDBMissing},
			wantNotes:      []string{"ha-webhook.io/exempt ignored: exemptions are disabled on this cluster"},
		},
		"exempt update: ratcheted and new violations become advisories": {
			old: fixture.Deployment("web", fixture.Replicas(2)), d: exempt(fixture.Deployment("web", fixture.Replicas(1)), "scale-down for maintenance"), allow: true,
			wantExemption:  "scale-down for maintenance",
			wantAdvisories: []string{RuleMinReplicas, RulePDBMissing},
		},
		"update with exemptions disabled still ratchets": {
			old: fixture.Deployment("web", fixture.Replicas(2)), d: exempt(fixture.Deployment("web", fixture.Replicas(1)), "please"), allow: false,
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
				v = Update(dw(tc.old), dw(tc.d), Cluster{}, opts)
			}
			if v.Exemption != tc.wantExemption {
				t.Errorf("Exemption = %q, want %q", v.Exemption, tc.wantExemption)
			}
			if diff := cmp.Diff(tc.wantViolations, rules(v.Violations)); diff != "" {
				t.Errorf("violations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRatcheted, rules(v.PreExisting)); diff != "" {
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
	d := withRolling(fixture.Deployment("web", fixture.Replicas(1)), "1")
	all := []*policyv1.PodDisruptionBudget{
		fixture.MaxUnavailable("zeta", "1"), fixture.MinAvailable("alpha", "100%"), fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("1")),
		fixture.MaxUnavailable("mid", "0"), fixture.PDB("other", fixture.SelectApp("api"), nil, fixture.IntOrStr("1")),
	}
	hpas := []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(1)), fixture.HPA("b", "apps/v1", "Deployment", "web", fixture.Replicas(1))}
	want := Deployment(d, Cluster{PDBs: all, HPAs: hpas}, DefaultOptions())
	wantMsg := Message(dw(d), want.Violations)
	if !strings.Contains(wantMsg, `"all,alpha,mid,zeta"`) {
		t.Fatalf("PDB names not sorted in:\n%s", wantMsg)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ps := append([]*policyv1.PodDisruptionBudget(nil), all...)
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		got := Deployment(d, Cluster{PDBs: ps, HPAs: hpas}, DefaultOptions())
		if msg := Message(dw(d), got.Violations); msg != wantMsg {
			t.Fatalf("message depends on PDB order:\n%s\nvs\n%s", msg, wantMsg)
		}
		if diff := cmp.Diff(Warnings(want, true), Warnings(got, true)); diff != "" {
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

// wholeWarningPrefixes are the prefixes whose warnings must carry the whole why for realistic names: audit mode, and
// advisories (also the violations of an exempt Deployment). "ha-webhook pre-existing: " is 9 characters longer and
// is held to text.MaxWarningLength only: the pdb-missing why does not fit after it whole.
var wholeWarningPrefixes = []string{"ha-webhook audit: ", "ha-webhook: "}

// assertWarningWhole fails unless w fits text.MaxWarningLength without being cut: Violation.Warning truncates only as a
// safety net for very long names.
func assertWarningWhole(t *testing.T, w string) {
	t.Helper()
	if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
		t.Errorf("warning of %d characters: %q", n, w)
	}
	if strings.HasSuffix(w, "…") {
		t.Errorf("warning cut at %d characters: %q", text.MaxWarningLength, w)
	}
}

// assertVerdictWarningsWhole checks the warnings of v in both modes: at most text.MaxWarningLength, and whole unless
// ratcheted.
func assertVerdictWarningsWhole(t *testing.T, v Verdict) {
	t.Helper()
	for _, audit := range []bool{false, true} {
		for _, w := range Warnings(v, audit) {
			if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
				t.Errorf("warning of %d characters: %q", n, w)
			}
			if !strings.HasPrefix(w, "ha-webhook pre-existing: ") {
				assertWarningWhole(t, w)
			}
		}
	}
}

// TestWarningsFit: the warnings of every example of the rules tests, in both modes, fit text.MaxWarningLength whole, and so
// do the audit and advisory warnings of realistic names (the web shop of examples/ and a few common ones).
func TestWarningsFit(t *testing.T) {
	t.Run("Deployment examples", func(t *testing.T) {
		for name, tc := range deploymentCases {
			if tc.longNames {
				continue // TestBoundedEcho bounds those
			}
			t.Run(name, func(t *testing.T) {
				opts := DefaultOptions()
				if tc.opts != nil {
					tc.opts(&opts)
				}
				assertVerdictWarningsWhole(t, Deployment(tc.d, tc.cluster, opts))
			})
		}
	})
	t.Run("Update examples", func(t *testing.T) {
		for name, tc := range updateCases() {
			t.Run(name, func(t *testing.T) {
				assertVerdictWarningsWhole(t, Update(dw(tc.old), dw(tc.new), tc.cluster, DefaultOptions()))
			})
		}
	})
	t.Run("message examples", func(t *testing.T) {
		for name, tc := range messageCases {
			t.Run(name, func(t *testing.T) {
				if tc.old != nil {
					assertVerdictWarningsWhole(t, Update(dw(tc.old), dw(tc.d), tc.cluster, DefaultOptions()))
				} else {
					assertVerdictWarningsWhole(t, Deployment(tc.d, tc.cluster, DefaultOptions()))
				}
			})
		}
	})
	t.Run("PDB budget examples", func(t *testing.T) {
		for name, tc := range pdbBudgetCases {
			if strings.Contains(tc.wantWhy, "invalid budget") {
				// The why quotes the parse error; only `check` sees such a PDB (the API server rejects it).
				continue
			}
			t.Run(name, func(t *testing.T) {
				for _, v := range budgetViolations(dw(fixture.Deployment("web", fixture.Replicas(tc.replicas))), tc.pdb, Cluster{}, tc.replicas, tc.replicas) {
					for _, prefix := range wholeWarningPrefixes {
						assertWarningWhole(t, v.Warning(prefix))
					}
				}
			})
		}
	})

	pdbFor := func(name, app, minAvail, maxUnavail string) *policyv1.PodDisruptionBudget {
		var minA, maxU *intstr.IntOrString
		if minAvail != "" {
			minA = fixture.IntOrStr(minAvail)
		}
		if maxUnavail != "" {
			maxU = fixture.IntOrStr(maxUnavail)
		}
		return fixture.PDB(name, fixture.SelectApp(app), minA, maxU)
	}
	hpaFor := func(name, target string, minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
		return fixture.HPA(name, "apps/v1", "Deployment", target, minReplicas)
	}
	realistic := map[string]struct {
		d         *appsv1.Deployment
		cluster   Cluster
		opts      func(*Options)
		wantRules []string
	}{
		"recommendations: HPA without minReplicas": {
			d: fixture.Deployment("recommendations", nil),
			cluster: Cluster{
				PDBs: []*policyv1.PodDisruptionBudget{pdbFor("recommendations", "recommendations", "", "1")},
				HPAs: []*autoscalingv2.HorizontalPodAutoscaler{hpaFor("recommendations", "recommendations", nil)},
			},
			wantRules: []string{RuleMinReplicas},
		},
		"search: no PDB": {
			d: fixture.Deployment("search", fixture.Replicas(3)), wantRules: []string{RulePDBMissing},
		},
		"checkout: maxUnavailable 0": {
			d: fixture.Deployment("checkout", fixture.Replicas(3)), cluster: pdbs(pdbFor("checkout", "checkout", "", "0")),
			wantRules: []string{RulePDBBlocksDrain},
		},
		"cart: unset replicas, maxUnavailable 0": {
			d: fixture.Deployment("cart", nil), cluster: pdbs(pdbFor("cart", "cart", "", "0")),
			wantRules: []string{RuleMinReplicas, RulePDBBlocksDrain},
		},
		"cart: single replica with --min-replicas 1": {
			d: fixture.Deployment("cart", fixture.Replicas(1)), cluster: pdbs(pdbFor("cart", "cart", "", "1")), opts: minReplicasOption(1),
			wantRules: []string{RulePDBUnprotective},
		},
		"payments: two PDBs": {
			d:         fixture.Deployment("payments", fixture.Replicas(3)),
			cluster:   pdbs(pdbFor("payments", "payments", "", "1"), pdbFor("payments-legacy", "payments", "2", "")),
			wantRules: []string{RulePDBMultiple},
		},
		"frontend: minAvailable 100% at 12 replicas": {
			d: fixture.Deployment("frontend", fixture.Replicas(12)), cluster: pdbs(pdbFor("frontend-pdb", "frontend", "100%", "")),
			wantRules: []string{RulePDBBlocksDrain},
		},
		"api-gateway: maxUnavailable 100% at 10 replicas": {
			d:         withRolling(fixture.Deployment("api-gateway", fixture.Replicas(10)), "100%"),
			cluster:   pdbs(pdbFor("api-gateway", "api-gateway", "", "100%")),
			wantRules: []string{RulePDBUnprotective, RuleRolloutAllUnavailable},
		},
		"inventory: HPA minReplicas 1 with --min-replicas 10": {
			d: fixture.Deployment("inventory", fixture.Replicas(3)),
			cluster: Cluster{
				PDBs: []*policyv1.PodDisruptionBudget{pdbFor("inventory", "inventory", "", "0")},
				HPAs: []*autoscalingv2.HorizontalPodAutoscaler{hpaFor("inventory", "inventory", fixture.Replicas(1))},
			},
			opts:      minReplicasOption(10),
			wantRules: []string{RuleMinReplicas, RulePDBBlocksDrain},
		},
	}
	for name, tc := range realistic {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v := Deployment(tc.d, tc.cluster, opts)
			if diff := cmp.Diff(tc.wantRules, append(rules(v.Violations), rules(v.Advisories)...)); diff != "" {
				t.Fatalf("rules mismatch (-want +got):\n%s", diff)
			}
			assertVerdictWarningsWhole(t, v)
			// In audit mode, and as the advisories of an exempt Deployment, the warning carries the whole why.
			for _, x := range append(v.Violations, v.Advisories...) {
				for _, prefix := range wholeWarningPrefixes {
					w := x.Warning(prefix)
					assertWarningWhole(t, w)
					if want := prefix + x.Rule + ": " + x.Why; w != want || strings.Contains(w, "…") {
						t.Errorf("warning %q, want %q", w, want)
					}
				}
			}
		})
	}
}
