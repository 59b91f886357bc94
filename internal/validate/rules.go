package validate

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Cluster is what the rules read besides the Deployment: the PDBs and HPAs of its namespace.
type Cluster struct {
	PDBs []*policyv1.PodDisruptionBudget
	HPAs []*autoscalingv2.HorizontalPodAutoscaler
}

// Verdict is the outcome of the rules for one Deployment.
type Verdict struct {
	// Violations deny the Deployment in enforce mode.
	Violations []Violation
	// PreExisting are violations the old object already had in fields the update does not touch (ratcheting):
	// warnings only, so that an incident-time rollback is never blocked by a pre-existing problem.
	PreExisting []Violation
	// Advisories come from warning-only rules.
	Advisories []Violation
	// Exemption is the ha-webhook.io/exempt reason when the Deployment is exempt; its violations are then advisories.
	Exemption string
	// Notes are warnings about the Deployment's ha-webhook settings themselves.
	Notes []string
}

// Denied reports whether enforce mode rejects the Deployment.
func (v Verdict) Denied() bool { return len(v.Violations) > 0 }

var (
	replicasPath = field.NewPath("spec", "replicas")
	labelsPath   = field.NewPath("spec", "template", "metadata", "labels")
	strategyPath = field.NewPath("spec", "strategy")
)

// Deployment checks a Deployment being created.
func Deployment(d *appsv1.Deployment, c Cluster, opts Options) Verdict {
	return exempt(d, Verdict{Violations: violations(d, c, opts), Advisories: advisories(d, c)}, opts)
}

// Update checks a Deployment being updated from old: a violation old already had, in fields this update does not
// touch, is ratcheted (a warning); any other violation denies.
func Update(old, d *appsv1.Deployment, c Cluster, opts Options) Verdict {
	previous := map[string]bool{}
	for _, v := range violations(old, c, opts) {
		previous[v.Rule] = true
	}
	var verdict Verdict
	for _, v := range violations(d, c, opts) {
		if previous[v.Rule] && untouched(v.Rule, old, d, c) {
			verdict.PreExisting = append(verdict.PreExisting, v)
		} else {
			verdict.Violations = append(verdict.Violations, v)
		}
	}
	verdict.Advisories = advisories(d, c)
	return exempt(d, verdict, opts)
}

// untouched reports whether the fields a rule reads are the same in old and d.
func untouched(rule string, old, d *appsv1.Deployment, c Cluster) bool {
	sameReplicas := effectiveReplicas(old, c.HPAs).count == effectiveReplicas(d, c.HPAs).count
	sameLabels := equalMaps(old.Spec.Template.Labels, d.Spec.Template.Labels)
	switch rule {
	case RuleMinReplicas:
		return sameReplicas
	case RulePDBMissing, RulePDBMultiple:
		return sameLabels
	default:
		return sameLabels && sameReplicas
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// exempt turns violations into advisories when the Deployment carries a non-empty exemption reason and exemptions
// are allowed. Every exemption stays visible: the verdict records it.
func exempt(d *appsv1.Deployment, v Verdict, opts Options) Verdict {
	reason, ok := d.Annotations[names.AnnotationExempt]
	if !ok {
		return v
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		v.Notes = append(v.Notes, names.AnnotationExempt+" has an empty reason, so it is no exemption")
	case !opts.AllowExemptions:
		v.Notes = append(v.Notes, names.AnnotationExempt+" ignored: exemptions are disabled on this cluster")
	default:
		v.Exemption = text.Truncate(reason, 80)
		v.Advisories = append(append(v.Violations, v.PreExisting...), v.Advisories...)
		v.Violations, v.PreExisting = nil, nil
	}
	return v
}

// violations evaluates the denying rules, in a fixed order.
func violations(d *appsv1.Deployment, c Cluster, opts Options) []Violation {
	if scaledToZero(d) {
		return nil
	}
	var out []Violation
	replicas := effectiveReplicas(d, c.HPAs)
	if replicas.count < opts.MinReplicas {
		out = append(out, minReplicasViolation(d, replicas, opts.MinReplicas))
	}
	pdbs := selectingPDBs(d, c.PDBs)
	switch len(pdbs) {
	case 0:
		out = append(out, Violation{
			Rule:  RulePDBMissing,
			Field: labelsPath,
			Why:   "no PodDisruptionBudget selects these pods: a drain may evict them all at once",
			Fix: fmt.Sprintf("%s (create PDBs before Deployments: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
				createPDBCommand(d)),
		})
	case 1:
		// Judge the budget at the replica count the Deployment must run anyway: at 1 replica every budget either
		// blocks drains or protects nothing, and min-replicas already says what to fix first.
		out = append(out, pdbBudgetViolations(d, pdbs[0], max(replicas.count, opts.MinReplicas))...)
	default:
		pdbNames := make([]string, len(pdbs))
		for i, p := range pdbs {
			pdbNames[i] = p.Name
		}
		out = append(out, Violation{
			Rule:     RulePDBMultiple,
			Field:    labelsPath,
			BadValue: strings.Join(pdbNames, ","),
			Why:      fmt.Sprintf("%d PodDisruptionBudgets select these pods: evictions fail, every drain stalls", len(pdbs)),
			Fix:      fmt.Sprintf("keep one: kubectl delete pdb %s -n %s", strings.Join(pdbNames[1:], " "), namespaceOf(d)),
		})
	}
	return out
}

func minReplicasViolation(d *appsv1.Deployment, r replicaSource, minReplicas int32) Violation {
	if r.hpa != nil {
		return Violation{
			Rule:     RuleMinReplicas,
			Field:    replicasPath,
			BadValue: r.count,
			Why: fmt.Sprintf("HPA %s may scale to %d replica(s), below %d: a drain then cuts all traffic",
				text.Truncate(r.hpa.Name, 40), r.count, minReplicas),
			Fix: fmt.Sprintf(`kubectl patch hpa %s -n %s --type=merge -p '{"spec":{"minReplicas":%d}}'`, r.hpa.Name, namespaceOf(d), minReplicas),
		}
	}
	return Violation{
		Rule:     RuleMinReplicas,
		Field:    replicasPath,
		BadValue: r.count,
		Why:      fmt.Sprintf("%d replica(s), below %d: a node drain or eviction cuts all traffic", r.count, minReplicas),
		Fix:      minReplicasFix(d, minReplicas),
	}
}

// minReplicasFix names the command, and for a Deployment without spec.replicas the likely cause: Helm installs
// HorizontalPodAutoscalers after Deployments, so an HPA-managed chart must set spec.replicas or create the HPA first.
func minReplicasFix(d *appsv1.Deployment, minReplicas int32) string {
	fix := fmt.Sprintf("set spec.replicas to %d or more (kubectl scale deployment %s -n %s --replicas=%d)", minReplicas, d.Name, namespaceOf(d), minReplicas)
	if d.Spec.Replicas == nil {
		fix += "; if an HPA will manage it, create the HPA first (Helm creates HPAs after Deployments) or set spec.replicas"
	}
	return fix
}

func pdbBudgetViolations(d *appsv1.Deployment, p *policyv1.PodDisruptionBudget, replicas int32) []Violation {
	allowed, err := allowedDisruptions(p, replicas)
	fix := PatchPDBCommand(p.Name, namespaceOf(d))
	blocksFix := fix + " (a blocked drain makes GKE wait up to 1h per node, then evict anyway)"
	switch {
	case err != nil:
		return []Violation{{
			Rule: RulePDBBlocksDrain, Field: labelsPath, BadValue: p.Name,
			Why: fmt.Sprintf("PDB %s has an invalid budget (%v)", text.Truncate(p.Name, 40), err), Fix: fix,
		}}
	case allowed == 0:
		return []Violation{{
			Rule: RulePDBBlocksDrain, Field: labelsPath, BadValue: p.Name,
			Why: fmt.Sprintf("PDB %s (%s) allows 0 evictions at %s: drains stall",
				text.Truncate(p.Name, 40), BudgetString(p), plural(replicas, "replica")),
			Fix: blocksFix,
		}}
	case allowed >= replicas:
		return []Violation{{
			Rule: RulePDBUnprotective, Field: labelsPath, BadValue: p.Name,
			Why: fmt.Sprintf("PDB %s (%s) lets all %s be evicted at once", text.Truncate(p.Name, 40), BudgetString(p), plural(replicas, "replica")),
			Fix: fix,
		}}
	}
	return nil
}

// advisories evaluates the warning-only rules.
func advisories(d *appsv1.Deployment, c Cluster) []Violation {
	if scaledToZero(d) {
		return nil
	}
	replicas := effectiveReplicas(d, c.HPAs).count
	s := d.Spec.Strategy
	if s.Type == appsv1.RecreateDeploymentStrategyType {
		return []Violation{{
			Rule: RuleStrategyRecreate, Field: strategyPath.Child("type"), BadValue: string(s.Type),
			Why: "Recreate stops every pod before starting new ones: each rollout is an outage",
			Fix: "use type RollingUpdate",
		}}
	}
	maxUnavailable := intstr.FromString("25%") // the API server's default
	if s.RollingUpdate != nil && s.RollingUpdate.MaxUnavailable != nil {
		maxUnavailable = *s.RollingUpdate.MaxUnavailable
	}
	// The Deployment controller rounds maxUnavailable down.
	n, err := intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, int(replicas), false)
	if err == nil && n >= int(replicas) && replicas > 0 {
		return []Violation{{
			Rule: RuleRolloutAllUnavailable, Field: strategyPath.Child("rollingUpdate", "maxUnavailable"), BadValue: maxUnavailable.String(),
			Why: fmt.Sprintf("maxUnavailable %s takes all %d replica(s) down during a rollout", maxUnavailable.String(), replicas),
			Fix: "set spec.strategy.rollingUpdate.maxUnavailable to 1 or 25%",
		}}
	}
	return nil
}

func plural(n int32, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func namespaceOf(d *appsv1.Deployment) string {
	if d.Namespace == "" {
		return "default"
	}
	return d.Namespace
}
