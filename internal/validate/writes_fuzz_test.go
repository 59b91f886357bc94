package validate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

var fuzzWorkloadNames = []string{"web", "api", "db"}

// fuzzWorkloads builds up to three workloads from shape, three bytes each: the first byte's bit 0 picks the kind
// (Deployment, StatefulSet), bits 1-2 the pod labels besides app=name (none, part-of=shop, part-of=shop and
// tier=fe, tier=fe), bit 3 leaves spec.replicas unset, bit 4 sets an exemption; the second byte is spec.replicas
// (int8); the third an HPA on it: 0 none, 255 one without minReplicas, else minReplicas int8.
func fuzzWorkloads(shape []byte) ([]Workload, []*autoscalingv2.HorizontalPodAutoscaler) {
	var ws []Workload
	var hpas []*autoscalingv2.HorizontalPodAutoscaler
	for i := 0; i+2 < len(shape) && i/3 < len(fuzzWorkloadNames); i += 3 {
		name := fuzzWorkloadNames[i/3]
		b, n, h := shape[i], int32(int8(shape[i+1])), shape[i+2]
		var replicas *int32
		if b&8 == 0 {
			replicas = fixture.Replicas(n)
		}
		labels := [][]string{{"app", name}, {"app", name, "part-of", "shop"}, {"app", name, "part-of", "shop", "tier", "fe"}, {"app", name, "tier", "fe"}}[b>>1&3]
		var w Workload
		kind := KindDeployment
		if b&1 == 0 {
			w = DeploymentWorkload(fixture.TemplateLabels(fixture.Deployment(name, replicas), labels...))
		} else {
			kind = KindStatefulSet
			w = StatefulSetWorkload(fixture.StatefulSetTemplateLabels(fixture.StatefulSet(name, replicas), labels...))
		}
		if b&16 != 0 {
			w.Annotations = map[string]string{names.AnnotationExempt: "fuzz"}
		}
		ws = append(ws, w)
		switch h {
		case 0:
		case 255:
			hpas = append(hpas, fixture.HPA(name+"-hpa", "apps/v1", kind, name, nil))
		default:
			hpas = append(hpas, fixture.HPA(name+"-hpa", "apps/v1", kind, name, fixture.Replicas(int32(int8(h)))))
		}
	}
	return ws, hpas
}

// fuzzPDB builds the written PDB from four bytes, or nil when b is shorter or its first byte is 0: the first byte
// (mod 9, less 1) picks the selector, the second the budget field (bits 0-1: minAvailable, maxUnavailable, both,
// neither) and its form (bits 2-3: an integer int8 of the third byte, a percentage of it, budget), the fourth
// byte's bit 0 sets unhealthyPodEvictionPolicy AlwaysAllow.
func fuzzPDB(name string, b []byte, budget string) *policyv1.PodDisruptionBudget {
	if len(b) < 4 || b[0] == 0 {
		return nil
	}
	var sel *metav1.LabelSelector
	switch (b[0] - 1) % 8 {
	case 0:
		sel = nil
	case 1:
		sel = &metav1.LabelSelector{}
	case 2:
		sel = fixture.SelectApp("web")
	case 3:
		sel = fixture.SelectLabels("part-of", "shop")
	case 4:
		sel = fixture.SelectLabels("tier", "fe")
	case 5:
		sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "api"}}}}
	case 6:
		sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
	case 7:
		sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "part-of", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	}
	var value intstr.IntOrString
	switch b[1] >> 2 & 3 {
	case 0, 3:
		value = intstr.FromInt32(int32(int8(b[2])))
	case 1:
		value = intstr.FromString(fmt.Sprintf("%d%%", b[2]))
	case 2:
		value = intstr.FromString(budget)
	}
	p := fixture.PDB(name, sel, nil, nil)
	switch b[1] & 3 {
	case 0:
		p.Spec.MinAvailable = &value
	case 1:
		p.Spec.MaxUnavailable = &value
	case 2:
		p.Spec.MinAvailable, p.Spec.MaxUnavailable = &value, ptr.To(intstr.FromInt32(1))
	}
	if b[3]&1 != 0 {
		p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	}
	return p
}

// withPDB is c with the PDB named name replaced by p (removed when p is nil), computed apart from PDBWrite.
func withPDB(c Cluster, name string, p *policyv1.PodDisruptionBudget) Cluster {
	var ps []*policyv1.PodDisruptionBudget
	for _, x := range c.PDBs {
		if x.Name != name {
			ps = append(ps, x)
		}
	}
	if p != nil {
		ps = append(ps, p)
	}
	c.PDBs = ps
	return c
}

func sortedSummary(impacts []Impact) []string {
	s := summary(impacts)
	slices.Sort(s)
	return s
}

// checkImpacts checks impacts of a write against the verdicts before and after it, computed apart.
func checkImpacts(t *testing.T, what string, impacts []Impact, before, after Cluster, opts Options) {
	t.Helper()
	for _, im := range impacts {
		if len(im.Added) == 0 {
			t.Errorf("%s: an impact on %s adds nothing", what, im.Workload)
		}
		had := map[string]bool{}
		for _, v := range Check(im.Workload, before, opts).Violations {
			had[v.Rule] = true
		}
		now := Check(im.Workload, after, opts).Violations
		for _, v := range im.Added {
			if had[v.Rule] {
				t.Errorf("%s: %s had %s before the write", what, im.Workload, v.Rule)
			}
			if !slices.ContainsFunc(now, func(x Violation) bool { return cmp.Equal(x, v, comparePaths) }) {
				t.Errorf("%s: %s: added %s is not among the violations after the write %v", what, im.Workload, v.Rule, rules(now))
			}
		}
		for _, audit := range []string{"ha-webhook: ", "ha-webhook audit: "} {
			ws := im.Warnings(audit)
			if len(ws) != len(im.Added) {
				t.Errorf("%s: %d warnings for %d added violations", what, len(ws), len(im.Added))
			}
			for _, w := range ws {
				if n := utf8.RuneCountInString(w); n > text.MaxWarningLength || !utf8.ValidString(w) {
					t.Errorf("%s: warning of %d characters: %q", what, n, w)
				}
			}
		}
	}
	added := 0
	for _, im := range impacts {
		added += len(im.Added)
	}
	if msg := WriteMessage("PodDisruptionBudget shop/x", impacts); strings.Count(msg, "\n") != added {
		t.Errorf("%s: message has %d lines after the header, want %d:\n%s", what, strings.Count(msg, "\n"), added, msg)
	}
	rs := AddedRules(impacts)
	if len(slices.Compact(slices.Clone(rs))) != len(rs) || len(rs) > added {
		t.Errorf("%s: AddedRules %v", what, rs)
	}
	for _, r := range rs {
		if !slices.ContainsFunc(impacts, func(im Impact) bool { return slices.Contains(rules(im.Added), r) }) {
			t.Errorf("%s: AddedRules names %s, which no impact adds", what, r)
		}
	}
}

func FuzzPDBWrite(f *testing.F) {
	// web(2)+api(2) sharing part-of=shop; maxUnavailable 1 made minAvailable 4.
	f.Add([]byte{2, 2, 0, 2, 2, 0}, []byte{4, 1, 1, 1}, []byte{4, 0, 4, 1}, []byte{}, "50%", int32(2), true, false)
	// A CREATE of a second PDB over web, an HPA of 1 on api.
	f.Add([]byte{0, 3, 0, 1, 3, 1}, []byte{0, 0, 0, 0}, []byte{3, 1, 1, 0}, []byte{2, 4, 1}, "", int32(2), false, false)
	// A DELETE of the PDB over every pod; a StatefulSet, an exempt workload, unset replicas.
	f.Add([]byte{1, 3, 0, 16, 1, 0, 8, 0, 255}, []byte{2, 1, 1, 1}, []byte{0, 0, 0, 0}, []byte{1, 3, 1}, "x", int32(1), true, true)
	// Percentages far above 100%, negative replicas, an invalid selector.
	f.Add([]byte{6, 255, 128, 7, 127, 127, 4, 0, 1}, []byte{7, 5, 255, 0}, []byte{6, 9, 200, 1}, []byte{3, 7, 100, 4, 4, 0}, "4294967296%", int32(2147483647), true, true)
	f.Fuzz(func(t *testing.T, shape, oldBytes, newBytes, pdbBytes []byte, budget string, minReplicas int32, allow, sameName bool) {
		opts := Options{MinReplicas: max(minReplicas, 1), AllowExemptions: allow}
		ws, hpas := fuzzWorkloads(shape)
		c := fuzzCluster(pdbBytes, nil, budget)
		c.Workloads, c.HPAs = ws, hpas
		name := "shop"
		if sameName && len(c.PDBs) > 0 {
			name = c.PDBs[0].Name // the written PDB is one the cache holds
		}
		old, pdb := fuzzPDB(name, oldBytes, budget), fuzzPDB(name, newBytes, budget)
		if old == nil && pdb == nil {
			pdb = fixture.PDB(name, &metav1.LabelSelector{}, nil, fixture.IntOrStr("1"))
		}
		impacts := PDBWrite(old, pdb, c, opts)
		if again := PDBWrite(old, pdb, c, opts); !cmp.Equal(impacts, again, comparePaths) {
			t.Fatalf("PDBWrite is not deterministic")
		}
		checkImpacts(t, "PDBWrite", impacts, withPDB(c, name, old), withPDB(c, name, pdb), opts)
		for _, im := range impacts {
			podLabels := im.Workload.TemplateLabels
			if (old == nil || len(SelectingPDBs(podLabels, []*policyv1.PodDisruptionBudget{old})) == 0) &&
				(pdb == nil || len(SelectingPDBs(podLabels, []*policyv1.PodDisruptionBudget{pdb})) == 0) {
				t.Errorf("%s is selected by neither the old nor the new PDB", im.Workload)
			}
		}
		// The workloads' listing order changes nothing but the order of the impacts.
		reversed := c
		reversed.Workloads = slices.Clone(c.Workloads)
		slices.Reverse(reversed.Workloads)
		if diff := cmp.Diff(sortedSummary(impacts), sortedSummary(PDBWrite(old, pdb, reversed, opts))); diff != "" {
			t.Errorf("impacts depend on the order of the workloads (-listed +reversed):\n%s", diff)
		}
		// A write that changes nothing adds nothing, whether the cache holds the PDB or not.
		for _, p := range []*policyv1.PodDisruptionBudget{old, pdb} {
			if p == nil {
				continue
			}
			if same := PDBWrite(p, p.DeepCopy(), c, opts); len(same) > 0 {
				t.Errorf("PDBWrite(p, p) adds %v", summary(same))
			}
			if same := PDBWrite(p, p.DeepCopy(), withPDB(c, name, p), opts); len(same) > 0 {
				t.Errorf("PDBWrite(p, p) with p in the cache adds %v", summary(same))
			}
		}
		for _, v := range PDBAdvisories(pdbOr(pdb, old)) {
			if w := v.Warning("ha-webhook: "); utf8.RuneCountInString(w) > text.MaxWarningLength {
				t.Errorf("advisory warning of %d characters: %q", utf8.RuneCountInString(w), w)
			}
		}
		// HPA writes over the same namespace: an HPA of each workload at the minReplicas of the old PDB's value.
		for i, w := range ws {
			var minR *int32
			if len(oldBytes) > 2 && oldBytes[2] != 0 {
				minR = fixture.Replicas(int32(int8(oldBytes[2])))
			}
			h := fixture.HPA(fmt.Sprintf("%s-hpa", w.Name), "apps/v1", w.Kind, w.Name, minR)
			var prev *autoscalingv2.HorizontalPodAutoscaler
			if i < len(hpas) {
				prev = hpas[i]
				prev = prev.DeepCopy()
				prev.Name = h.Name
			}
			impacts := HPAWrite(prev, h, c, opts)
			after := c
			after.HPAs = slices.DeleteFunc(slices.Clone(c.HPAs), func(x *autoscalingv2.HorizontalPodAutoscaler) bool { return x.Name == h.Name })
			after.HPAs = append(after.HPAs, h)
			before := c
			before.HPAs = slices.DeleteFunc(slices.Clone(c.HPAs), func(x *autoscalingv2.HorizontalPodAutoscaler) bool { return x.Name == h.Name })
			if prev != nil {
				before.HPAs = append(before.HPAs, prev)
			}
			checkImpacts(t, "HPAWrite", impacts, before, after, opts)
			if same := HPAWrite(h, h.DeepCopy(), c, opts); len(same) > 0 {
				t.Errorf("HPAWrite(h, h) adds %v", summary(same))
			}
		}
	})
}

func pdbOr(a, b *policyv1.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	if a != nil {
		return a
	}
	return b
}

// fuzzStatefulSet builds the StatefulSet web from fuzz input. labels is "k=v,k=v"; strategy 0 leaves it unset, 1 is
// OnDelete, 2 RollingUpdate with maxUnavailable, 3 RollingUpdate without rollingUpdate.
func fuzzStatefulSet(replicasSet bool, n int32, labels string, strategy uint8, maxUnavail, exempt string) *appsv1.StatefulSet {
	s := fixture.StatefulSet("web", nil)
	if replicasSet {
		s.Spec.Replicas = fixture.Replicas(n)
	}
	s.Spec.Template.Labels = parseLabels(labels)
	s.Spec.Selector = &metav1.LabelSelector{MatchLabels: s.Spec.Template.Labels}
	switch strategy % 4 {
	case 1:
		fixture.OnDelete(s)
	case 2:
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: fixture.IntOrStr(maxUnavail)}}
	case 3:
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	}
	if exempt != "" {
		s.Annotations = map[string]string{names.AnnotationExempt: exempt}
	}
	return s
}

func FuzzStatefulSet(f *testing.F) {
	f.Add(true, int32(3), "app=web", uint8(0), "1", "", []byte{2, 3, 1}, []byte{}, "50%", true, int32(1), "app=web", int32(2), uint8(0))
	f.Add(false, int32(0), "app=web,tier=fe", uint8(1), "", "", []byte{1, 0, 0, 2, 4, 100}, []byte{0, 0}, "x", false, int32(0), "app=web", int32(2), uint8(1))
	f.Add(true, int32(1), "app=web", uint8(2), "0%", "reason", []byte{3, 1, 51}, []byte{2, 3}, "101%", true, int32(2), "app=api", int32(1), uint8(3))
	f.Add(true, int32(-1), "", uint8(2), "4294967296%", " ", []byte{4, 7, 255, 5, 8, 1}, []byte{1, 255}, "-5%", true, int32(2147483647), "", int32(0), uint8(255))
	f.Add(true, int32(2147483647), "app=web", uint8(3), "2147483647", "", []byte{2, 4, 0, 2, 1, 200}, []byte{0, 1, 0, 3}, "", true, int32(1), "app=web", int32(3), uint8(2))
	f.Fuzz(func(t *testing.T, replicasSet bool, n int32, labels string, strategy uint8, maxUnavail, exempt string,
		pdbBytes, hpaBytes []byte, budget string, oldReplicasSet bool, oldN int32, oldLabels string, minReplicas int32, hpaKinds uint8) {
		opts := Options{MinReplicas: max(minReplicas, 1), AllowExemptions: strategy&8 != 0}
		s := fuzzStatefulSet(replicasSet, n, labels, strategy, maxUnavail, exempt)
		old := fuzzStatefulSet(oldReplicasSet, oldN, oldLabels, strategy>>2, maxUnavail, exempt)
		c := fuzzCluster(pdbBytes, hpaBytes, budget)
		for i, h := range c.HPAs {
			if hpaKinds>>(i%8)&1 == 0 {
				h.Spec.ScaleTargetRef.Kind = KindStatefulSet
			}
		}

		created := StatefulSet(s, c, opts)
		if again := Check(sw(s.DeepCopy()), c, opts); !cmp.Equal(created, again, comparePaths) {
			t.Fatalf("StatefulSet is not deterministic, or differs from Check(StatefulSetWorkload)")
		}
		if same := Update(sw(s), sw(s.DeepCopy()), c, opts); len(same.Violations) > 0 {
			t.Errorf("Update(s, s) denies %v", rules(same.Violations))
		}
		updated := Update(sw(old), sw(s), c, opts)
		createdRules := rules(append(created.Violations, created.Advisories...))
		updatedRules := rules(append(append(updated.Violations, updated.PreExisting...), updated.Advisories...))
		if diff := cmp.Diff(sortedLike(createdRules, updatedRules), createdRules); diff != "" {
			t.Errorf("Update reports other rules than StatefulSet (-update +create):\n%s", diff)
		}
		for _, v := range updated.Violations {
			if !contains(rules(created.Violations), v.Rule) {
				t.Errorf("Update denies %s, which StatefulSet does not", v.Rule)
			}
		}
		for _, v := range []Verdict{created, updated} {
			if v.Exemption != "" && v.Denied() {
				t.Errorf("exempt and denied")
			}
			for _, a := range append(append(v.Advisories, v.Violations...), v.PreExisting...) {
				switch {
				case a.Rule == RuleStrategyRecreate:
					t.Errorf("a StatefulSet has no Recreate strategy: %+v", a)
				case a.Rule == RuleRolloutAllUnavailable && s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType:
					t.Errorf("rollout advisory for an OnDelete StatefulSet")
				case a.Rule == RuleRolloutAllUnavailable && !strings.HasPrefix(a.Field.String(), "spec.updateStrategy."):
					t.Errorf("rollout advisory on %s", a.Field)
				}
			}
			for _, audit := range []bool{false, true} {
				ws := Warnings(v, audit)
				for _, w := range ws {
					if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
						t.Errorf("warning of %d characters: %q", n, w)
					}
				}
				want := len(v.PreExisting) + len(v.Advisories) + len(v.Notes)
				if v.Exemption != "" {
					want++
				}
				if audit {
					want += len(v.Violations)
				}
				if len(ws) != want {
					t.Errorf("%s: %d warnings, want %d", modeName(audit), len(ws), want)
				}
			}
			msg := Message(sw(s), v.Violations)
			if !strings.HasPrefix(msg, "StatefulSet ") {
				t.Errorf("message header %q", msg)
			}
			if got := strings.Count(msg, "\n"); got != len(v.Violations) {
				t.Errorf("message has %d lines after the header, want %d:\n%s", got, len(v.Violations), msg)
			}
		}
		// The denying rules do not depend on the kind: a Deployment of the same replicas and labels, under the same
		// PDBs and the HPAs that scale the StatefulSet retargeted at it, is denied for the same reasons (the fixes
		// name the kind).
		d := fixture.Deployment("web", s.Spec.Replicas)
		d.Spec.Template.Labels, d.Spec.Selector, d.Annotations = s.Spec.Template.Labels, s.Spec.Selector, s.Annotations
		asDeployment := c
		asDeployment.HPAs = nil
		for _, h := range c.HPAs {
			if h.Spec.ScaleTargetRef.Kind != KindStatefulSet || h.Spec.ScaleTargetRef.APIVersion == "extensions/v1beta1" {
				continue // does not scale the StatefulSet (the Deployment would honour extensions/v1beta1)
			}
			h = h.DeepCopy()
			h.Spec.ScaleTargetRef.Kind = KindDeployment
			asDeployment.HPAs = append(asDeployment.HPAs, h)
		}
		if diff := cmp.Diff(Deployment(d, asDeployment, opts).Violations, created.Violations, comparePaths, cmpopts.IgnoreFields(Violation{}, "Fix")); diff != "" {
			t.Errorf("violations differ between the Deployment and the StatefulSet (-deployment +statefulset):\n%s", diff)
		}
	})
}
