package validate

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Cluster is what the rules read besides the workload: the PDBs, HPAs and workloads of its namespace.
type Cluster struct {
	PDBs []*policyv1.PodDisruptionBudget
	HPAs []*autoscalingv2.HorizontalPodAutoscaler
	// Workloads are the namespace's Deployments and StatefulSets: a PDB's budget is shared by the pods of every
	// workload it selects, as the disruption controller counts them. The workload being checked may be among them
	// (its stored version); it is replaced by the one checked.
	Workloads []Workload
}

// Verdict is the outcome of the rules for one workload.
type Verdict struct {
	// Violations deny the workload in enforce mode.
	Violations []Violation
	// PreExisting are violations the old object already had in fields the update does not touch (ratcheting):
	// warnings only, so that an incident-time rollback is never blocked by a pre-existing problem.
	PreExisting []Violation
	// Advisories come from warning-only rules.
	Advisories []Violation
	// Exemption is the ha-webhook.io/exempt reason when the workload is exempt; its violations are then advisories.
	Exemption string
	// Notes are warnings about the workload's ha-webhook settings themselves.
	Notes []string
}

// Denied reports whether enforce mode rejects the workload.
func (v Verdict) Denied() bool { return len(v.Violations) > 0 }

var (
	replicasPath = field.NewPath("spec", "replicas")
	labelsPath   = field.NewPath("spec", "template", "metadata", "labels")
)

// Deployment checks a Deployment being created.
func Deployment(d *appsv1.Deployment, c Cluster, opts Options) Verdict {
	return Check(DeploymentWorkload(d), c, opts)
}

// StatefulSet checks a StatefulSet being created.
func StatefulSet(s *appsv1.StatefulSet, c Cluster, opts Options) Verdict {
	return Check(StatefulSetWorkload(s), c, opts)
}

// Check checks a workload being created, or as it stands (`check`, `report`).
func Check(w Workload, c Cluster, opts Options) Verdict {
	return exempt(w, Verdict{Violations: violations(w, c, opts), Advisories: advisories(w, c)}, opts)
}

// Update checks a workload being updated from old: a violation old already had, in fields this update does not
// touch, is pre-existing (a warning); any other violation denies.
func Update(old, w Workload, c Cluster, opts Options) Verdict {
	previous := map[string]bool{}
	for _, v := range violations(old, c, opts) {
		previous[v.Rule] = true
	}
	var verdict Verdict
	for _, v := range violations(w, c, opts) {
		if previous[v.Rule] && untouched(v.Rule, old, w, c) {
			verdict.PreExisting = append(verdict.PreExisting, v)
		} else {
			verdict.Violations = append(verdict.Violations, v)
		}
	}
	verdict.Advisories = advisories(w, c)
	return exempt(w, verdict, opts)
}

// untouched reports whether the fields a rule reads are the same in old and w.
func untouched(rule string, old, w Workload, c Cluster) bool {
	sameReplicas := effectiveReplicas(old, c.HPAs).count == effectiveReplicas(w, c.HPAs).count
	sameLabels := equalMaps(old.TemplateLabels, w.TemplateLabels)
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

// exempt turns violations into advisories when the workload carries a non-empty exemption reason and exemptions
// are allowed. Every exemption stays visible: the verdict records it.
func exempt(w Workload, v Verdict, opts Options) Verdict {
	reason, ok := w.Annotations[names.AnnotationExempt]
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
func violations(w Workload, c Cluster, opts Options) []Violation {
	if w.scaledToZero() {
		return nil
	}
	var out []Violation
	replicas := effectiveReplicas(w, c.HPAs)
	if replicas.count < opts.MinReplicas {
		out = append(out, minReplicasViolation(w, replicas, opts.MinReplicas))
	}
	pdbs := SelectingPDBs(w.TemplateLabels, c.PDBs)
	switch len(pdbs) {
	case 0:
		out = append(out, Violation{
			Rule:  RulePDBMissing,
			Field: labelsPath,
			Why:   "no PodDisruptionBudget selects these pods: a drain may evict them all at once",
			Fix: fmt.Sprintf("%s (create PDBs before %ss: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
				createPDBCommand(w), w.Kind),
		})
	case 1:
		out = append(out, budgetViolations(w, pdbs[0], c, replicas.count, opts.MinReplicas)...)
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
			Fix:      fmt.Sprintf("keep one: kubectl delete pdb %s -n %s", strings.Join(pdbNames[1:], " "), w.namespace()),
		})
	}
	return out
}

func minReplicasViolation(w Workload, r replicaSource, minReplicas int32) Violation {
	if r.hpa != nil {
		return Violation{
			Rule:     RuleMinReplicas,
			Field:    replicasPath,
			BadValue: r.count,
			Why: fmt.Sprintf("HPA %s may scale to %d replica(s), below %d: a drain then cuts all traffic",
				text.Truncate(r.hpa.Name, 40), r.count, minReplicas),
			Fix: fmt.Sprintf(`kubectl patch hpa %s -n %s --type=merge -p '{"spec":{"minReplicas":%d}}'`, r.hpa.Name, w.namespace(), minReplicas),
		}
	}
	return Violation{
		Rule:     RuleMinReplicas,
		Field:    replicasPath,
		BadValue: r.count,
		Why:      fmt.Sprintf("%d replica(s), below %d: a node drain or eviction cuts all traffic", r.count, minReplicas),
		Fix:      minReplicasFix(w, minReplicas),
	}
}

// minReplicasFix names the command, and for a workload without spec.replicas the likely cause: Helm installs
// HorizontalPodAutoscalers after Deployments, so an HPA-managed chart must set spec.replicas or create the HPA first.
func minReplicasFix(w Workload, minReplicas int32) string {
	fix := fmt.Sprintf("set spec.replicas to %d or more (kubectl scale %s %s -n %s --replicas=%d)", minReplicas, w.resource(), w.Name, w.namespace(), minReplicas)
	if w.Replicas == nil {
		fix += fmt.Sprintf("; if an HPA will manage it, create the HPA first (Helm creates HPAs after %ss) or set spec.replicas", w.Kind)
	}
	return fix
}

func plural(n int32, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
