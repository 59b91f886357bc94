// Package validate checks that a workload — a Deployment or a StatefulSet — survives node drains and rollouts: at
// least MinReplicas replicas (HPA-aware) and exactly one PodDisruptionBudget that keeps a pod up while still letting
// a node drain, its budget computed as the disruption controller computes it over every workload it selects. It
// also judges writes of PDBs and HPAs by what they do to the workloads they touch (writes.go). The rule
// functions are pure (no client, no context); internal/admission adapts them to admission requests.
package validate

// Rule IDs: they appear in messages, metrics and `check -o json`. Keep them stable.
const (
	RuleMinReplicas     = "min-replicas"
	RulePDBMissing      = "pdb-missing"
	RulePDBMultiple     = "pdb-multiple"
	RulePDBBlocksDrain  = "pdb-blocks-drain"
	RulePDBUnprotective = "pdb-unprotective"
	// Warning-only rules.
	RuleStrategyRecreate      = "strategy-recreate"
	RuleRolloutAllUnavailable = "rollout-all-unavailable"
	// RulePDBUnhealthyEviction is a rule of the PDB itself, shown on PDB admission, in `check` and in `report`.
	RulePDBUnhealthyEviction = "pdb-unhealthy-eviction"
)

// WorkloadRules are the rules that deny a workload in enforce mode, in the order they are checked: what the audit
// counts per rule and reports a pass or fail for.
func WorkloadRules() []string {
	return []string{RuleMinReplicas, RulePDBMissing, RulePDBMultiple, RulePDBBlocksDrain, RulePDBUnprotective}
}
