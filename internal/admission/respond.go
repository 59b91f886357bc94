package admission

import (
	"strings"

	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// respond turns a verdict into the admission response for mode, and records it.
func respond(w validate.Workload, v validate.Verdict, mode policy.Mode, rec ViolationRecorder) cradmission.Response {
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
	var resp cradmission.Response
	if v.Denied() && mode == policy.ModeEnforce {
		resp = cradmission.Denied(validate.Message(w, v.Violations))
	} else {
		resp = cradmission.Allowed("")
	}
	resp.AuditAnnotations = annotations
	return resp.WithWarnings(validate.Warnings(v, mode == policy.ModeAudit)...)
}
