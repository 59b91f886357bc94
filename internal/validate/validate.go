// Package validate checks that a Deployment survives node drains and rollouts: at least --min-replicas replicas
// (HPA-aware) and exactly one PodDisruptionBudget that keeps a pod up while still letting a node drain. The rule
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
)
