package validate

import (
	"fmt"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// advisories evaluates the warning-only rules of a workload.
func advisories(w Workload, c Cluster) []Violation {
	if w.scaledToZero() || w.Rollout.OnDelete {
		return nil
	}
	strategy := field.NewPath("spec", "strategy")
	if w.Kind == KindStatefulSet {
		strategy = field.NewPath("spec", "updateStrategy")
	}
	if w.Rollout.Recreate {
		return []Violation{{
			Rule: RuleStrategyRecreate, Field: strategy.Child("type"), BadValue: "Recreate",
			Why: "Recreate stops every pod before starting new ones: each rollout is an outage",
			Fix: "use type RollingUpdate",
		}}
	}
	replicas := effectiveReplicas(w, c.HPAs).count
	// The Deployment controller defaults maxUnavailable to 25% and rounds it down; the StatefulSet controller
	// defaults it to 1 and rounds down, but never below 1.
	maxUnavailable, floor, fix := intstr.FromString("25%"), 0, "set spec.strategy.rollingUpdate.maxUnavailable to 1 or 25%"
	if w.Kind == KindStatefulSet {
		maxUnavailable, floor, fix = intstr.FromInt32(1), 1, "set spec.updateStrategy.rollingUpdate.maxUnavailable to 1"
	}
	if w.Rollout.MaxUnavailable != nil {
		maxUnavailable = *w.Rollout.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, int(replicas), false)
	if err == nil && max(n, floor) >= int(replicas) && replicas > 0 {
		return []Violation{{
			Rule: RuleRolloutAllUnavailable, Field: strategy.Child("rollingUpdate", "maxUnavailable"), BadValue: maxUnavailable.String(),
			Why: fmt.Sprintf("maxUnavailable %s takes all %d replica(s) down during a rollout", maxUnavailable.String(), replicas),
			Fix: fix,
		}}
	}
	return nil
}

// PDBAdvisories evaluates the warning-only rules of a PodDisruptionBudget itself.
func PDBAdvisories(p *policyv1.PodDisruptionBudget) []Violation {
	if policy := p.Spec.UnhealthyPodEvictionPolicy; policy != nil && *policy == policyv1.AlwaysAllow {
		return nil
	}
	return []Violation{{
		Rule: RulePDBUnhealthyEviction, Field: field.NewPath("spec", "unhealthyPodEvictionPolicy"),
		Why: fmt.Sprintf("PDB %s: one crash-looping pod spends the budget and stalls every drain", text.Truncate(p.Name, 40)),
		Fix: fmt.Sprintf(`kubectl patch pdb %s -n %s --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'`, p.Name, p.Namespace),
	}}
}
