// Package validate checks that a Deployment survives node drains and rollouts: at least --min-replicas replicas
// (HPA-aware) and exactly one PodDisruptionBudget that keeps a pod up while still letting a node drain. The rule
// functions are pure (no client, no context); handler.go and scale.go adapt them to admission requests.
package validate

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

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

// MaxWarningLength keeps each warning short enough for kubectl to print it whole.
const MaxWarningLength = 120

// Violation is one failed rule: where, why it matters, and a ready-to-run fix.
type Violation struct {
	Rule     string
	Field    *field.Path
	BadValue any
	// Why says what goes wrong in a drain or rollout; short enough for a warning.
	Why string
	// Fix is a ready-to-run command or a concrete instruction.
	Fix string
}

// FieldError renders the violation the way kubectl prints validation errors, with the rule ID as Origin.
func (v Violation) FieldError() *field.Error {
	detail := v.Rule + ": " + v.Why
	if v.Fix != "" {
		detail += "; fix: " + v.Fix
	}
	var err *field.Error
	if v.BadValue == nil {
		err = field.Required(v.Field, detail)
	} else {
		err = field.Invalid(v.Field, v.BadValue, detail)
	}
	err.Origin = v.Rule
	return err
}

// Warning is the one-line form used in audit mode and for ratcheted violations, at most MaxWarningLength long.
func (v Violation) Warning(prefix string) string {
	return text.Truncate(fmt.Sprintf("%s%s: %s", prefix, v.Rule, v.Why), MaxWarningLength)
}

// ErrorList converts violations for callers that speak field.ErrorList.
func ErrorList(vs []Violation) field.ErrorList {
	list := make(field.ErrorList, 0, len(vs))
	for _, v := range vs {
		list = append(list, v.FieldError())
	}
	return list
}
