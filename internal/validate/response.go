package validate

import (
	"fmt"
	"strings"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Message is the denial text: a header naming the workload, then one line per violation in rule order, each read
// like kubectl's field errors (path, rule ID, why it matters, the fix).
func Message(w Workload, vs []Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s would lose traffic during node drains and rollouts:", w)
	for _, err := range ErrorList(vs) {
		b.WriteString("\n")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Warnings lists what the verdict reports without denying; in audit mode every violation becomes a warning too.
func Warnings(v Verdict, audit bool) []string {
	var out []string
	if v.Exemption != "" {
		out = append(out, text.Warnf("ha-webhook: exempt from validation: %s=%s", names.AnnotationExempt, text.Quote(v.Exemption)))
	}
	if audit {
		for _, x := range v.Violations {
			out = append(out, x.Warning("ha-webhook audit: "))
		}
	}
	for _, x := range v.PreExisting {
		out = append(out, x.Warning("ha-webhook pre-existing: "))
	}
	for _, x := range v.Advisories {
		out = append(out, x.Warning("ha-webhook: "))
	}
	return append(out, v.Notes...)
}
