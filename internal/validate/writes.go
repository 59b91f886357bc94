package validate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ha-webhook/ha-webhook/internal/text"
)

// Impact is what a write of a PodDisruptionBudget or a HorizontalPodAutoscaler does to one workload it touches.
type Impact struct {
	Workload Workload
	// Added are the violations the workload has with the write in place and did not have before it. A write that
	// leaves a workload no worse adds none (ratcheting), so fixing one problem at a time always works.
	Added []Violation
}

// PDBWrite judges a write of a PDB — old nil: a CREATE, pdb nil: a DELETE — by the workloads of the namespace that
// the old or the new PDB selects, each checked with the old PDB in place and then with the new one. c is the
// namespace as it stands; it may or may not hold the old PDB already.
func PDBWrite(old, pdb *policyv1.PodDisruptionBudget, c Cluster, opts Options) []Impact {
	name := pdbName(old, pdb)
	before, after := c, c
	before.PDBs, after.PDBs = replaceNamed(c.PDBs, name, old, old != nil), replaceNamed(c.PDBs, name, pdb, pdb != nil)
	var touched []Workload
	for _, w := range c.Workloads {
		podLabels := labels.Set(w.TemplateLabels)
		if old != nil && selects(old, podLabels) || pdb != nil && selects(pdb, podLabels) {
			touched = append(touched, w)
		}
	}
	return impacts(touched, before, after, opts)
}

// HPAWrite judges a write of an HPA — old nil: a CREATE — by the workloads the old or the new HPA scales, and the
// workloads that share a PDB with those (a PDB's budget counts them all).
func HPAWrite(old, hpa *autoscalingv2.HorizontalPodAutoscaler, c Cluster, opts Options) []Impact {
	name := hpa.Name
	before, after := c, c
	before.HPAs, after.HPAs = replaceNamed(c.HPAs, name, old, old != nil), replaceNamed(c.HPAs, name, hpa, true)
	var targeted []Workload
	for _, w := range c.Workloads {
		if old != nil && targets(old, w) || targets(hpa, w) {
			targeted = append(targeted, w)
		}
	}
	touched := slices.Clone(targeted)
	for _, t := range targeted {
		for _, p := range SelectingPDBs(t.TemplateLabels, c.PDBs) {
			for _, w := range selectedWorkloads(p, t, c)[1:] {
				if !slices.ContainsFunc(touched, w.same) {
					touched = append(touched, w)
				}
			}
		}
	}
	return impacts(touched, before, after, opts)
}

// impacts checks every touched workload before and after the write, in the order of their kind and name (the cache
// lists them in no particular order, and the message and the audit annotation must not depend on it).
func impacts(touched []Workload, before, after Cluster, opts Options) []Impact {
	slices.SortFunc(touched, func(a, b Workload) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	var out []Impact
	for _, w := range touched {
		had := map[string]bool{}
		for _, v := range Check(w, before, opts).Violations {
			had[v.Rule] = true
		}
		impact := Impact{Workload: w}
		for _, v := range Check(w, after, opts).Violations {
			if !had[v.Rule] {
				impact.Added = append(impact.Added, v)
			}
		}
		if len(impact.Added) > 0 {
			out = append(out, impact)
		}
	}
	return out
}

// AddedRules lists the rules the impacts add, each once, in order.
func AddedRules(impacts []Impact) []string {
	var out []string
	for _, im := range impacts {
		for _, v := range im.Added {
			if !slices.Contains(out, v.Rule) {
				out = append(out, v.Rule)
			}
		}
	}
	return out
}

// WriteMessage is the denial text of a write: a header naming the written object ("PodDisruptionBudget shop/web"),
// then one line per added violation, naming its workload, why it matters and the fix.
func WriteMessage(object string, impacts []Impact) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s would make node drains stall or cut traffic:", object)
	for _, im := range impacts {
		for _, v := range im.Added {
			fmt.Fprintf(&b, "\n%s: %s: %s", im.Workload, v.Rule, v.Why)
			if v.Fix != "" {
				fmt.Fprintf(&b, "; fix: %s", v.Fix)
			}
		}
	}
	return b.String()
}

// Warnings are the impacts as one-line warnings (audit mode, a PDB DELETE, the pdb-multiple of a PDB CREATE):
// "deployment/web: " and the why, which fits whole after it for the names of a real namespace. The rule IDs are in
// the response's audit annotation and the metrics; a warning has no room for them.
func (im Impact) Warnings(prefix string) []string {
	out := make([]string, 0, len(im.Added))
	for _, v := range im.Added {
		out = append(out, text.Warnf("%s%s/%s: %s", prefix, im.Workload.resource(), im.Workload.Name, v.Why))
	}
	return out
}

func pdbName(old, pdb *policyv1.PodDisruptionBudget) string {
	if pdb != nil {
		return pdb.Name
	}
	return old.Name
}

// replaceNamed is objs without the one named name, plus o when add.
func replaceNamed[T metav1.Object](objs []T, name string, o T, add bool) []T {
	out := make([]T, 0, len(objs)+1)
	for _, x := range objs {
		if x.GetName() != name {
			out = append(out, x)
		}
	}
	if add {
		out = append(out, o)
	}
	return out
}

// WorkloadWrite judges what a write of workload w (an update from old, or a create when old is nil) does to the
// other workloads of the namespace that share a PDB with it: their budgets count w's replicas too, so scaling w down
// can make a neighbour's PDB block drains, and scaling it up can leave a neighbour unprotected. w's own verdict is
// Check's or Update's.
func WorkloadWrite(old *Workload, w Workload, c Cluster, opts Options) []Impact {
	if !slices.ContainsFunc(c.Workloads, func(o Workload) bool { return !o.same(w) }) {
		return nil // no other workload to share a budget with
	}
	var touched []Workload
	for _, p := range c.PDBs {
		if !selects(p, labels.Set(w.TemplateLabels)) && (old == nil || !selects(p, labels.Set(old.TemplateLabels))) {
			continue
		}
		for _, o := range c.Workloads {
			if !o.same(w) && selects(p, labels.Set(o.TemplateLabels)) && !slices.ContainsFunc(touched, o.same) {
				touched = append(touched, o)
			}
		}
	}
	if len(touched) == 0 {
		return nil // the common case, a PDB of its own: nothing to compare, nothing allocated
	}
	before, after := c, c
	before.Workloads, after.Workloads = withoutWorkload(c.Workloads, w), append(withoutWorkload(c.Workloads, w), w)
	if old != nil {
		before.Workloads = append(before.Workloads, *old)
	}
	return impacts(touched, before, after, opts)
}

// withoutWorkload is ws without w's stored version.
func withoutWorkload(ws []Workload, w Workload) []Workload {
	out := make([]Workload, 0, len(ws)+1)
	for _, o := range ws {
		if !o.same(w) {
			out = append(out, o)
		}
	}
	return out
}
