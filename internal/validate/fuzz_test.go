package validate

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// fuzzDeployment builds a Deployment from fuzz input. labels is "k=v,k=v"; strategy 0 leaves it unset, 1 is
// Recreate, 2 RollingUpdate with maxUnavailable.
func fuzzDeployment(replicasSet bool, n int32, labels string, strategy uint8, maxUnavail, exempt string) *appsv1.Deployment {
	d := fixture.Deployment("web", nil)
	if replicasSet {
		d.Spec.Replicas = fixture.Replicas(n)
	}
	d.Spec.Template.Labels = parseLabels(labels)
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: d.Spec.Template.Labels}
	switch strategy % 3 {
	case 1:
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	case 2:
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: fixture.IntOrStr(maxUnavail)}}
	}
	if exempt != "" {
		d.Annotations = map[string]string{names.AnnotationExempt: exempt}
	}
	return d
}

func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			out[k] = v
		}
	}
	return out
}

// fuzzCluster builds PDBs and HPAs from bytes: each PDB takes three bytes (selector kind, budget kind, value) and
// each HPA two (target, minReplicas).
func fuzzCluster(pdbBytes, hpaBytes []byte, budget string) Cluster {
	var c Cluster
	for i := 0; i+2 < len(pdbBytes) && i < 3*12; i += 3 {
		var sel *metav1.LabelSelector
		switch pdbBytes[i] % 6 {
		case 0:
			sel = nil
		case 1:
			sel = &metav1.LabelSelector{}
		case 2:
			sel = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		case 3:
			sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
		case 4:
			sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}
		case 5:
			sel = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}
		var value intstr.IntOrString
		switch pdbBytes[i+1] % 3 {
		case 0:
			value = intstr.FromInt32(int32(int8(pdbBytes[i+2])))
		case 1:
			value = intstr.FromString(fmt.Sprintf("%d%%", pdbBytes[i+2]))
		case 2:
			value = intstr.FromString(budget)
		}
		p := fixture.PDB(fmt.Sprintf("pdb-%d", i/3), sel, nil, nil)
		switch pdbBytes[i+1] / 3 % 3 {
		case 0:
			p.Spec.MinAvailable = &value
		case 1:
			p.Spec.MaxUnavailable = &value
		}
		c.PDBs = append(c.PDBs, p)
	}
	for i := 0; i+1 < len(hpaBytes) && i < 2*4; i += 2 {
		target := []string{"web", "api"}[hpaBytes[i]%2]
		apiVersion := []string{"apps/v1", "extensions/v1beta1", "v1", ""}[hpaBytes[i]/2%4]
		var minReplicas *int32
		if hpaBytes[i+1] != 0 {
			minReplicas = fixture.Replicas(int32(int8(hpaBytes[i+1])))
		}
		c.HPAs = append(c.HPAs, fixture.HPA(fmt.Sprintf("hpa-%d", i/2), apiVersion, "Deployment", target, minReplicas))
	}
	return c
}

func FuzzDeployment(f *testing.F) {
	f.Add(true, int32(3), "app=web", uint8(0), "25%", "", []byte{2, 3, 1}, []byte{}, "50%", true, int32(1), "app=web", int32(2))
	f.Add(false, int32(0), "app=web,tier=fe", uint8(1), "", "", []byte{1, 0, 0, 2, 4, 100}, []byte{0, 0}, "x", false, int32(0), "app=web", int32(2))
	f.Add(true, int32(0), "app=web", uint8(2), "100%", "reason", []byte{3, 1, 51}, []byte{2, 3}, "101%", true, int32(2), "app=api", int32(1))
	f.Add(true, int32(-1), "", uint8(2), "4294967296%", " ", []byte{4, 7, 255, 5, 8, 1}, []byte{1, 255}, "-5%", true, int32(2147483647), "", int32(0))
	f.Add(true, int32(2147483647), "app=web", uint8(2), "2147483647", "", []byte{2, 4, 0, 2, 1, 200}, []byte{0, 1}, "", true, int32(1), "app=web", int32(3))
	f.Fuzz(func(t *testing.T, replicasSet bool, n int32, labels string, strategy uint8, maxUnavail, exempt string,
		pdbBytes, hpaBytes []byte, budget string, oldReplicasSet bool, oldN int32, oldLabels string, minReplicas int32) {
		opts := Options{MinReplicas: max(minReplicas, 1), AllowExemptions: strategy&8 != 0}
		d := fuzzDeployment(replicasSet, n, labels, strategy, maxUnavail, exempt)
		old := fuzzDeployment(oldReplicasSet, oldN, oldLabels, strategy>>2, maxUnavail, exempt)
		c := fuzzCluster(pdbBytes, hpaBytes, budget)

		created := Deployment(d, c, opts)
		if again := Deployment(d, c, opts); !cmp.Equal(created, again, comparePaths) {
			t.Fatalf("Deployment is not deterministic")
		}
		// Updating to the same object denies nothing.
		if same := Update(dw(d), dw(d.DeepCopy()), c, opts); len(same.Violations) > 0 {
			t.Errorf("Update(d, d) denies %v", rules(same.Violations))
		}
		// Ratcheting only moves violations from denial to warning: an update never denies a rule a create of the
		// same object would not, and loses none.
		updated := Update(dw(old), dw(d), c, opts)
		createdRules := rules(append(created.Violations, created.Advisories...))
		updatedRules := rules(append(append(updated.Violations, updated.PreExisting...), updated.Advisories...))
		if diff := cmp.Diff(sortedLike(createdRules, updatedRules), createdRules); diff != "" {
			t.Errorf("Update reports other rules than Deployment (-update +create):\n%s", diff)
		}
		for _, v := range updated.Violations {
			if !contains(rules(created.Violations), v.Rule) {
				t.Errorf("Update denies %s, which Deployment does not", v.Rule)
			}
		}
		for _, v := range []Verdict{created, updated} {
			if v.Exemption != "" && v.Denied() {
				t.Errorf("exempt and denied")
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
			msg := Message(dw(d), v.Violations)
			if got := strings.Count(msg, "\n"); got != len(v.Violations) {
				t.Errorf("message has %d lines after the header, want %d:\n%s", got, len(v.Violations), msg)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
