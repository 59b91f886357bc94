package validate

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Recorder counts violations and exemptions; the server passes its Prometheus metrics.
type Recorder interface {
	Violation(rule string, mode names.Mode)
	Exempted()
}

// Message is the denial text: a header naming the Deployment, then one line per violation in rule order, each read
// like kubectl's field errors (path, rule ID, why it matters, the fix).
func Message(d *appsv1.Deployment, vs []Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Deployment %s/%s would lose traffic during node drains and rollouts:", namespaceOf(d), d.Name)
	for _, err := range ErrorList(vs) {
		b.WriteString("\n")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Warnings lists what the verdict reports without denying, in mode: in audit mode every violation becomes a warning.
func Warnings(v Verdict, mode names.Mode) []string {
	var out []string
	if v.Exemption != "" {
		out = append(out, text.Truncate(fmt.Sprintf("ha-webhook: exempt from validation: %s=%s", names.AnnotationExempt, text.Quote(v.Exemption)), MaxWarningLength))
	}
	if mode == names.ModeAudit {
		for _, x := range v.Violations {
			out = append(out, x.Warning("ha-webhook audit: "))
		}
	}
	for _, x := range v.Ratcheted {
		out = append(out, x.Warning("ha-webhook pre-existing: "))
	}
	for _, x := range v.Advisories {
		out = append(out, x.Warning("ha-webhook: "))
	}
	return append(out, v.Notes...)
}

// respond turns a verdict into the admission response for mode, and records it.
func respond(d *appsv1.Deployment, v Verdict, mode names.Mode, rec Recorder) admission.Response {
	for _, x := range v.Violations {
		rec.Violation(x.Rule, mode)
	}
	annotations := map[string]string{"mode": string(mode)}
	if v.Exemption != "" {
		rec.Exempted()
		annotations["exempt"] = v.Exemption
	}
	if len(v.Violations) > 0 {
		rules := make([]string, len(v.Violations))
		for i, x := range v.Violations {
			rules[i] = x.Rule
		}
		annotations["violations"] = strings.Join(rules, ",")
	}
	var resp admission.Response
	if v.Denied() && mode == names.ModeEnforce {
		resp = admission.Denied(Message(d, v.Violations))
	} else {
		resp = admission.Allowed("")
	}
	resp.AuditAnnotations = annotations
	return resp.WithWarnings(Warnings(v, mode)...)
}
