package validate

import (
	"fmt"
	"sort"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// SelectingPDBs returns the PDBs whose selector matches a pod's labels, sorted by name. A nil selector selects
// nothing and an empty one everything, as the Eviction API reads them; an invalid selector selects nothing.
func SelectingPDBs(podLabelMap map[string]string, pdbs []*policyv1.PodDisruptionBudget) []*policyv1.PodDisruptionBudget {
	podLabels := labels.Set(podLabelMap)
	var out []*policyv1.PodDisruptionBudget
	for _, p := range pdbs {
		if selects(p, podLabels) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func selects(p *policyv1.PodDisruptionBudget, podLabels labels.Set) bool {
	if p.Spec.Selector == nil || !matchLabelsAgree(p.Spec.Selector.MatchLabels, podLabels) {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	return err == nil && sel.Matches(podLabels)
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

// selectedWorkloads are the workloads whose pods p selects: w first, then the others of c (w's stored self, if
// any, replaced by w).
func selectedWorkloads(p *policyv1.PodDisruptionBudget, w Workload, c Cluster) []Workload {
	out := []Workload{w}
	for _, o := range c.Workloads {
		if !o.same(w) && selects(p, labels.Set(o.TemplateLabels)) {
			out = append(out, o)
		}
	}
	return out
}

// allowedDisruptions is how many of expected pods the PDB lets a drain evict at once when all are healthy, computed
// as the disruption controller does (pkg/controller/disruption: getExpectedPodCount, updatePdbStatus):
// percentages of maxUnavailable and minAvailable are rounded up; a PDB with neither field expects no pods, and so
// allows no eviction at all.
func allowedDisruptions(p *policyv1.PodDisruptionBudget, expected int32) (int32, error) {
	var desiredHealthy int
	switch {
	case p.Spec.MaxUnavailable != nil:
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(expected), true)
		if err != nil {
			return 0, err
		}
		desiredHealthy = int(expected) - maxUnavailable
	case p.Spec.MinAvailable != nil:
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(expected), true)
		if err != nil {
			return 0, err
		}
		desiredHealthy = minAvailable
	default:
		return 0, nil
	}
	// Computed in int and clamped to [0, expected]: a percentage over 100% (the API server rejects one, but
	// `ha-webhook check` reads unvalidated manifests) must not wrap around int32.
	return int32(int(expected) - min(max(desiredHealthy, 0), int(expected))), nil
}

// BudgetString describes a PDB's budget for a message: "maxUnavailable 1", "minAvailable 50%".
func BudgetString(p *policyv1.PodDisruptionBudget) string {
	switch {
	case p.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + p.Spec.MaxUnavailable.String()
	case p.Spec.MinAvailable != nil:
		return "minAvailable " + p.Spec.MinAvailable.String()
	}
	return "no budget"
}

// PatchPDBCommand is the ready-to-run fix of a PDB that blocks drains or protects nothing: one pod at a time.
func PatchPDBCommand(name, namespace string) string {
	return fmt.Sprintf(`kubectl patch pdb %s -n %s --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`, name, namespace)
}

// budgetViolations judges the one PDB that selects w. The budget is shared by every workload it selects: their
// effective replicas add up to the pods the disruption controller expects. w's share is judged at the count it
// must run anyway, max(effective replicas, minReplicas) — at 1 replica every budget either blocks drains or
// protects nothing, and min-replicas already says what to fix first. A PDB that allows no eviction at w's actual
// count (an HPA floor of 1 under minAvailable 1) stalls drains today, so that is reported too.
func budgetViolations(w Workload, p *policyv1.PodDisruptionBudget, c Cluster, own, minReplicas int32) []Violation {
	selected := selectedWorkloads(p, w, c)
	var others int32
	for _, o := range selected[1:] {
		others += effectiveReplicas(o, c.HPAs).count
	}
	raised := max(own, minReplicas)
	fix := PatchPDBCommand(p.Name, w.namespace())
	blocks := func(expected int32) Violation {
		return Violation{
			Rule: RulePDBBlocksDrain, Field: labelsPath, BadValue: p.Name,
			Why: fmt.Sprintf("PDB %s (%s) allows 0 evictions at %s: drains stall",
				text.Truncate(p.Name, 40), BudgetString(p), podsOf(selected, expected)),
			Fix: fix + " (a blocked drain makes GKE wait up to 1h per node, then evict anyway)",
		}
	}
	allowed, err := allowedDisruptions(p, others+raised)
	switch {
	case err != nil:
		return []Violation{{
			Rule: RulePDBBlocksDrain, Field: labelsPath, BadValue: p.Name,
			Why: fmt.Sprintf("PDB %s has an invalid budget (%v)", text.Truncate(p.Name, 40), err), Fix: fix,
		}}
	case allowed == 0:
		return []Violation{blocks(others + raised)}
	case allowed >= raised:
		why := fmt.Sprintf("PDB %s (%s) lets all %s be evicted at once", text.Truncate(p.Name, 40), BudgetString(p), plural(raised, "replica"))
		if len(selected) > 1 {
			why = fmt.Sprintf("PDB %s (%s) lets %d of %s go at once: all of these", text.Truncate(p.Name, 40), BudgetString(p),
				allowed, podsOf(selected, others+raised))
		}
		return []Violation{{Rule: RulePDBUnprotective, Field: labelsPath, BadValue: p.Name, Why: why, Fix: fix}}
	}
	if own < raised {
		if now, err := allowedDisruptions(p, others+own); err == nil && now == 0 && others+own > 0 {
			return []Violation{blocks(others + own)}
		}
	}
	return nil
}

// podsOf says how many pods a budget counts: "3 replicas" of one workload, "5 shared pods" of several (the denial
// names each workload that shares them).
func podsOf(selected []Workload, n int32) string {
	if len(selected) == 1 {
		return plural(n, "replica")
	}
	return fmt.Sprintf("%d shared pods", n)
}
