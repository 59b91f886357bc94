package audit

import (
	"cmp"
	"slices"

	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Change is a workload whose compliance changed between two audits of the same object (same UID): it gained
// violations (Gained non-empty) or lost its last one (Fixed). A workload seen for the first time is no change: its
// creation went through admission, which answered its author.
type Change struct {
	Workload report.Workload
	// Gained are the violations it has now and had not before.
	Gained []validate.Violation
	// Fixed: it had violations and has none now.
	Fixed bool
}

// Changes compares two audits. What makes an existing workload non-compliant without its own write is a change
// elsewhere — its PDB deleted or edited, its HPA lowered, a second PDB selecting its pods — or a write admitted while
// the webhook was down or in audit mode; either way its owner learns it only from an Event. Sorted by namespace,
// kind, name.
func Changes(prev, cur report.Report) []Change {
	before := map[string]report.Workload{}
	for _, w := range prev.Workloads {
		before[key(w)] = w
	}
	var out []Change
	for _, w := range cur.Workloads {
		old, ok := before[key(w)]
		if !ok || old.UID != w.UID {
			continue
		}
		had := violatedRules(old)
		var gained []validate.Violation
		for _, v := range w.Result.Violations {
			if !slices.Contains(had, v.Rule) {
				gained = append(gained, v)
			}
		}
		switch {
		case len(gained) > 0:
			out = append(out, Change{Workload: w, Gained: gained})
		case len(had) > 0 && len(w.Result.Violations) == 0:
			out = append(out, Change{Workload: w, Fixed: true})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(key(a.Workload), key(b.Workload)) })
	return out
}

func key(w report.Workload) string { return w.Namespace + "/" + w.Kind + "/" + w.Name }
