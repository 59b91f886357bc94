package check

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// workload validates a Deployment or a StatefulSet as the validating webhook does on its CREATE — against the
// namespace's PDBs, HPAs and the other workloads that share its PDB — and previews the mutation of its pods.
func (env *environment) workload(index int, w validate.Workload, meta metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) *Result {
	res := env.template(meta, tpl)
	res.Validated = true
	w.Namespace = res.Namespace // the server sets the request's namespace too; messages and fixes name it

	verdict := validate.Check(w, env.cluster(res.Namespace, -1), env.opts.Rules)
	res.Allowed = !verdict.Denied() || res.Mode == policy.ModeAudit
	mutationWarnings := res.Warnings
	res.Verdict = printer.NewVerdict(verdict, res.Mode == policy.ModeAudit)
	if warning := env.orderWarning(index, w, verdict, res.Mode); warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	res.Warnings = append(res.Warnings, mutationWarnings...)
	return res
}

// orderWarning warns when the workload passes only thanks to objects that come after it in the input: `kubectl
// apply -f` creates objects in input order, so the webhook would deny it (Helm and Argo CD create PDBs first).
func (env *environment) orderWarning(index int, w validate.Workload, verdict validate.Verdict, mode policy.Mode) string {
	if verdict.Denied() || mode != policy.ModeEnforce {
		return ""
	}
	all, early := env.cluster(w.Namespace, -1), env.cluster(w.Namespace, index)
	denied := validate.Check(w, early, env.opts.Rules)
	later := env.later(index, w, all, early)
	if !denied.Denied() || len(later) == 0 {
		return ""
	}
	rules := make([]string, len(denied.Violations))
	for i, v := range denied.Violations {
		rules[i] = v.Rule
	}
	return fmt.Sprintf("ha-webhook: apply the %s before this %s: in this input's order it is denied (%s)",
		joinAnd(later), w.Kind, strings.Join(rules, ","))
}

// later names what the input declares after the workload at index and the rules read: the namespace's PDBs and
// HPAs, and the workloads that share a PDB with it (the budget counts their pods too).
func (env *environment) later(index int, w validate.Workload, all, early validate.Cluster) []string {
	var out []string
	if len(all.PDBs) > len(early.PDBs) {
		out = append(out, "PodDisruptionBudget")
	}
	if len(all.HPAs) > len(early.HPAs) {
		out = append(out, "HorizontalPodAutoscaler")
	}
	pdbs := validate.SelectingPDBs(w.TemplateLabels, all.PDBs)
	for _, o := range env.workloads[w.Namespace] {
		if o.index > index && len(validate.SelectingPDBs(o.obj.TemplateLabels, pdbs)) > 0 {
			out = append(out, o.obj.Kind+" "+o.obj.Name)
		}
	}
	return out
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// pdb reports the warning-only findings of a PodDisruptionBudget itself, as the webhook warns them when the PDB is
// written. A PDB is never denied here: what it does to the workloads it selects is in their results.
func (env *environment) pdb(p *policyv1.PodDisruptionBudget) *Result {
	res := env.newResult(p.ObjectMeta)
	res.Validated = true
	named := *p
	named.Namespace = res.Namespace // the fix names it
	advisories := validate.PDBAdvisories(&named)
	res.Verdict = printer.NewVerdict(validate.Verdict{Advisories: advisories}, false)
	for _, v := range advisories {
		res.Fixes = append(res.Fixes, v.Fix)
	}
	return res
}
