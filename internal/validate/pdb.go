package validate

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// selectingPDBs returns the PDBs that select the Deployment's pods, by its pod template's labels.
func selectingPDBs(d *appsv1.Deployment, pdbs []*policyv1.PodDisruptionBudget) []*policyv1.PodDisruptionBudget {
	return SelectingPDBs(d.Spec.Template.Labels, pdbs)
}

// SelectingPDBs returns the PDBs whose selector matches a pod's labels, sorted by name. A nil selector selects
// nothing and an empty one everything, as the Eviction API reads them; an invalid selector selects nothing.
func SelectingPDBs(podLabelMap map[string]string, pdbs []*policyv1.PodDisruptionBudget) []*policyv1.PodDisruptionBudget {
	podLabels := labels.Set(podLabelMap)
	var out []*policyv1.PodDisruptionBudget
	for _, p := range pdbs {
		if p.Spec.Selector == nil || !matchLabelsAgree(p.Spec.Selector.MatchLabels, podLabels) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// matchLabelsAgree is a cheap pre-check before parsing a selector: a selector whose matchLabels the pod's labels do
// not all carry selects nothing, whether it is valid (matchLabels are ANDed) or not (an invalid selector selects
// nothing). Parsing validates every key and value with regular expressions; in a namespace with many PDBs, most
// select other apps and are now rejected without it.
func matchLabelsAgree(matchLabels map[string]string, podLabels labels.Set) bool {
	for k, v := range matchLabels {
		if got, ok := podLabels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// allowedDisruptions is how many of replicas pods the PDB lets a drain evict at once when all are healthy, computed
// as the disruption controller does: percentages of maxUnavailable and minAvailable are rounded up; a PDB with
// neither field protects nothing.
func allowedDisruptions(p *policyv1.PodDisruptionBudget, replicas int32) (int32, error) {
	var desiredHealthy int
	switch {
	case p.Spec.MaxUnavailable != nil:
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(replicas), true)
		if err != nil {
			return 0, err
		}
		desiredHealthy = int(replicas) - maxUnavailable
	case p.Spec.MinAvailable != nil:
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(replicas), true)
		if err != nil {
			return 0, err
		}
		desiredHealthy = minAvailable
	}
	// Computed in int and clamped to [0, replicas]: a percentage over 100% (the API server rejects one, but
	// `ha-webhook check` reads unvalidated manifests) must not wrap around int32.
	return int32(int(replicas) - min(max(desiredHealthy, 0), int(replicas))), nil
}

// BudgetString describes a PDB's budget for a message: "maxUnavailable 1", "minAvailable 50%".
func BudgetString(p *policyv1.PodDisruptionBudget) string {
	switch {
	case p.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + p.Spec.MaxUnavailable.String()
	case p.Spec.MinAvailable != nil:
		return "minAvailable " + p.Spec.MinAvailable.String()
	}
	return "no minAvailable or maxUnavailable"
}

// PatchPDBCommand is the ready-to-run fix of a PDB that blocks drains or protects nothing: one pod at a time.
func PatchPDBCommand(name, namespace string) string {
	return fmt.Sprintf(`kubectl patch pdb %s -n %s --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`, name, namespace)
}
