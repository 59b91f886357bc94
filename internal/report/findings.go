package report

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// alive: scheduled or running, not terminating, not finished.
func alive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// uninjected reports a pod that serves traffic but went through no mutation: no ha-webhook.io/injected record, and
// mutate.Pod on a copy would inject something. Such pods were created before ha-webhook was installed, while it was
// down (failurePolicy Ignore), in audit mode, or in a namespace that is not opted in.
func uninjected(p *corev1.Pod, ns Namespace, deployments []*appsv1.Deployment, opts mutate.Options) (Pod, bool) {
	if _, ok := p.Annotations[names.AnnotationInjected]; ok {
		return Pod{}, false
	}
	res := mutate.Pod(p.DeepCopy(), opts)
	if res.SkipReason != "" || len(res.Injections) == 0 {
		return Pod{}, false
	}
	kind, name := owner(p, deployments)
	out := Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Missing: res.Injections}
	if kind != "" {
		out.Owner = kind + "/" + name
	}
	var restart string
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet":
		restart = fmt.Sprintf("kubectl rollout restart %s/%s -n %s", strings.ToLower(kind), name, p.Namespace)
	case "":
		restart = fmt.Sprintf("delete and recreate pod %s -n %s", p.Name, p.Namespace)
	default:
		restart = fmt.Sprintf("recreate the pods of %s/%s -n %s", kind, name, p.Namespace)
	}
	switch {
	case !ns.OptedIn:
		out.Fix = fmt.Sprintf("kubectl label namespace %s %s=true, then %s", p.Namespace, names.LabelEnabled, restart)
	case ns.Mode == policy.ModeAudit:
		out.Fix = fmt.Sprintf("namespace %s is in audit mode (nothing injected): kubectl label namespace %s %s=enforce --overwrite, then %s",
			p.Namespace, p.Namespace, names.LabelMode, restart)
	default:
		out.Fix = restart + " (pods are re-admitted through the webhook)"
	}
	return out, true
}

// owner names the workload a pod belongs to: the Deployment whose selector matches it when its controller is a
// ReplicaSet, else its controller reference.
func owner(p *corev1.Pod, deployments []*appsv1.Deployment) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "", ""
	}
	if ref.Kind == "ReplicaSet" {
		for _, d := range deployments {
			if d.Spec.Selector == nil {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
				return "Deployment", d.Name
			}
		}
	}
	return ref.Kind, ref.Name
}

// stalling reports a PDB whose status allows no disruption while it expects pods: evicting any of its pods now
// gets 429 Too Many Requests, so a drain of their node waits (GKE force-evicts after an hour).
func stalling(p *policyv1.PodDisruptionBudget) (PDB, bool) {
	s := p.Status
	if s.DisruptionsAllowed > 0 || s.ExpectedPods == 0 {
		return PDB{}, false
	}
	out := PDB{
		Namespace:          p.Namespace,
		Name:               p.Name,
		DisruptionsAllowed: s.DisruptionsAllowed,
		CurrentHealthy:     s.CurrentHealthy,
		DesiredHealthy:     s.DesiredHealthy,
		ExpectedPods:       s.ExpectedPods,
	}
	switch {
	case s.DesiredHealthy >= s.ExpectedPods:
		out.Why = fmt.Sprintf("0 disruptions allowed: %s keeps all %d pods up, so no eviction is ever allowed",
			validate.BudgetString(p), s.ExpectedPods)
		out.Fix = validate.PatchPDBCommand(p.Name, p.Namespace)
	default:
		out.Why = fmt.Sprintf("0 disruptions allowed now: %d of %d pods healthy, %d must stay up; the budget is spent on %d pod(s) "+
			"already down (evicted, starting or failing) until they are ready", s.CurrentHealthy, s.ExpectedPods, s.DesiredHealthy,
			s.ExpectedPods-s.CurrentHealthy)
		out.Fix = fmt.Sprintf("transient during a rollout or a drain; if it lasts, fix the pods that are not ready (kubectl get pods -n %s -l %s)",
			p.Namespace, selectorString(p))
	}
	return out, true
}

// pdbWarnings are the findings of the warning-only rules on p itself, as the webhook warns them when p is written:
// without unhealthyPodEvictionPolicy AlwaysAllow, one pod that is not ready spends the budget and stalls drains.
func pdbWarnings(p *policyv1.PodDisruptionBudget) []PDBWarning {
	var out []PDBWarning
	for _, v := range validate.PDBAdvisories(p) {
		out = append(out, PDBWarning{Namespace: p.Namespace, Name: p.Name, Rule: v.Rule, Why: v.Why, Fix: v.Fix})
	}
	return out
}

func selectorString(p *policyv1.PodDisruptionBudget) string {
	if p.Spec.Selector == nil {
		return "<none>"
	}
	return metav1.FormatLabelSelector(p.Spec.Selector)
}

// cutService reports a Service whose traffic a drain would cut: it has one backing pod, or all of its backing pods
// may be evicted at once — pods no PDB selects go freely, and a PDB lets at most its status.disruptionsAllowed go
// together. Pods selected by several PDBs cannot be evicted at all (that stalls, it does not cut). A Service without
// a selector or without running pods is not reported: a drain changes nothing for it.
func cutService(s *corev1.Service, running []*corev1.Pod, pdbs []*policyv1.PodDisruptionBudget) (Service, bool) {
	if s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Selector) == 0 {
		return Service{}, false
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	var backing []*corev1.Pod
	for _, p := range running {
		if p.Namespace == s.Namespace && sel.Matches(labels.Set(p.Labels)) {
			backing = append(backing, p)
		}
	}
	if len(backing) == 0 {
		return Service{}, false
	}
	unprotected := 0
	perPDB := map[*policyv1.PodDisruptionBudget]int{}
	for _, p := range backing {
		selecting := validate.SelectingPDBs(p.Labels, pdbs)
		switch len(selecting) {
		case 0:
			unprotected++
		case 1:
			perPDB[selecting[0]]++
		}
	}
	evictable := unprotected
	for pdb, n := range perPDB {
		evictable += min(n, int(max(pdb.Status.DisruptionsAllowed, 0)))
	}
	out := Service{Namespace: s.Namespace, Name: s.Name, BackingPods: len(backing), EvictableAtOnce: evictable}
	switch {
	case len(backing) == 1:
		out.Why = "1 backing pod: evicting it (or force-evicting it once a stalled drain times out) leaves no endpoint"
		out.Fix = "run 2 or more replicas with a PodDisruptionBudget of maxUnavailable 1"
	case evictable >= len(backing) && unprotected == len(backing):
		out.Why = fmt.Sprintf("no PodDisruptionBudget selects its %d backing pods: a drain may evict them all at once", len(backing))
		out.Fix = fmt.Sprintf("kubectl create pdb %s -n %s --selector=%s --max-unavailable=1", s.Name, s.Namespace,
			labels.SelectorFromSet(s.Spec.Selector).String())
	case evictable >= len(backing):
		out.Why = fmt.Sprintf("its PodDisruptionBudgets let all %d backing pods be evicted at once", len(backing))
		out.Fix = "set the PodDisruptionBudget to maxUnavailable 1"
	default:
		return Service{}, false
	}
	return out, true
}

func summarize(r Report) Summary {
	s := Summary{
		Namespaces:     len(r.Namespaces),
		Workloads:      len(r.Workloads),
		UninjectedPods: len(r.UninjectedPods),
		StallingPDBs:   len(r.StallingPDBs),
		PDBWarnings:    len(r.PDBWarnings),
		CutServices:    len(r.CutServices),
	}
	for _, w := range r.Workloads {
		if len(w.Violations) > 0 {
			s.WorkloadsWithViolations++
		}
	}
	s.Text = fmt.Sprintf("an upgrade now would stall on %s and cut traffic to %s",
		plural(s.StallingPDBs, "PDB", "PDBs"), plural(s.CutServices, "service", "services"))
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
