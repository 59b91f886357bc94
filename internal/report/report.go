// Package report answers, for a running cluster, "what would a node-pool upgrade do to my traffic right now?"
// (`ha-webhook report`). Build is pure: it reads typed lists (no client, no context) and runs exactly the rule and
// mutation code the webhook runs — validate.Deployment with the namespace's PDBs and HPAs, and mutate.Pod on a copy of
// each pod. read.go is the thin layer that fills the lists from an API server.
package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Input is what the report reads from a cluster. Objects in namespaces outside the scope are ignored, so a reader may
// list cluster-wide.
type Input struct {
	Namespaces  []corev1.Namespace
	Deployments []appsv1.Deployment
	Pods        []corev1.Pod
	PDBs        []policyv1.PodDisruptionBudget
	HPAs        []autoscalingv2.HorizontalPodAutoscaler
	Services    []corev1.Service
}

// Scope says which namespaces are reported.
type Scope struct {
	// AllNamespaces reports every namespace, opted in or not.
	AllNamespaces bool
	// Namespaces, when set, reports exactly these namespaces, opted in or not.
	Namespaces []string
}

// Describe names the scope for the report's header.
func (s Scope) Describe() string {
	switch {
	case s.AllNamespaces:
		return "all namespaces"
	case len(s.Namespaces) > 0:
		return "namespaces " + strings.Join(s.Namespaces, ", ")
	}
	return "opted-in namespaces (label " + names.LabelEnabled + "=true)"
}

// Options configure a report. The mutation and rule options should be the server's, so the report says what the
// webhook would do.
type Options struct {
	Scope Scope
	// Mode is the webhook's global mode; a namespace's ha-webhook.io/mode label overrides it.
	Mode   names.Mode
	Mutate mutate.Options
	Rules  validate.Options
}

// DefaultOptions are the server's defaults, reporting opted-in namespaces.
func DefaultOptions() Options {
	return Options{Mode: names.ModeEnforce, Mutate: mutate.DefaultOptions(), Rules: validate.DefaultOptions()}
}

// Report is the outcome. Every list is sorted by namespace, then name. The JSON form is the `report -o json`
// interface.
type Report struct {
	Scope       string       `json:"scope"`
	Namespaces  []Namespace  `json:"namespaces"`
	Deployments []Deployment `json:"deployments"`
	// UninjectedPods serve traffic but lack what the mutating webhook injects.
	UninjectedPods []Pod `json:"uninjectedPods"`
	// StallingPDBs allow no disruption right now: a drain of a node holding their pods waits.
	StallingPDBs []PDB `json:"stallingPDBs"`
	// CutServices lose every backing pod at once when their nodes are drained.
	CutServices []Service `json:"cutServices"`
	Summary     Summary   `json:"summary"`
}

// Namespace is a reported namespace.
type Namespace struct {
	Name    string     `json:"name"`
	OptedIn bool       `json:"optedIn"`
	Mode    names.Mode `json:"mode"`
}

// Deployment is one Deployment and the webhook's verdict on it.
type Deployment struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Replicas is spec.replicas (nil means 1); ReadyReplicas is from status.
	Replicas      int32 `json:"replicas"`
	ReadyReplicas int32 `json:"readyReplicas"`
	// Violations are what the validating webhook denies (in enforce mode) on the next update touching these fields.
	Violations []Violation `json:"violations"`
	// Warnings are advisories, ratcheted violations, the exemption and notes, as the webhook would warn them.
	Warnings []string `json:"warnings"`
}

// Violation is one failed rule, in the shape of `check -o json`.
type Violation struct {
	Rule  string `json:"rule"`
	Field string `json:"field"`
	// Message is the kubectl-style line of the denial: field path, rule, why it matters, and the fix.
	Message string `json:"message"`
	// Problem is Message without the fix, and Fix the ready-to-run fix, for the text output.
	Problem string `json:"-"`
	Fix     string `json:"-"`
}

// Pod is a running pod that lacks the injections.
type Pod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Owner is "Deployment/web", "StatefulSet/db", "ReplicaSet/x" … or empty for a bare pod.
	Owner string `json:"owner,omitempty"`
	Node  string `json:"node,omitempty"`
	// Missing is what the mutating webhook would inject into this pod.
	Missing []mutate.Injection `json:"missing"`
	Fix     string             `json:"fix"`
}

// PDB is a PodDisruptionBudget that would stall a drain right now.
type PDB struct {
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	DisruptionsAllowed int32  `json:"disruptionsAllowed"`
	CurrentHealthy     int32  `json:"currentHealthy"`
	DesiredHealthy     int32  `json:"desiredHealthy"`
	ExpectedPods       int32  `json:"expectedPods"`
	Why                string `json:"why"`
	Fix                string `json:"fix"`
}

// Service is a Service whose traffic a drain would cut.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// BackingPods are the running pods its selector matches; EvictableAtOnce how many a drain may evict together.
	BackingPods     int    `json:"backingPods"`
	EvictableAtOnce int    `json:"evictableAtOnce"`
	Why             string `json:"why"`
	Fix             string `json:"fix"`
}

// Summary counts what the report found.
type Summary struct {
	Namespaces                int `json:"namespaces"`
	Deployments               int `json:"deployments"`
	DeploymentsWithViolations int `json:"deploymentsWithViolations"`
	UninjectedPods            int `json:"uninjectedPods"`
	StallingPDBs              int `json:"stallingPDBs"`
	CutServices               int `json:"cutServices"`
	// Text is the one-line verdict: "an upgrade now would stall on N PDBs and cut traffic to M services".
	Text string `json:"text"`
}

// Problems reports whether anything was found that loses traffic or stalls an upgrade.
func (r Report) Problems() bool {
	s := r.Summary
	return s.DeploymentsWithViolations+s.UninjectedPods+s.StallingPDBs+s.CutServices > 0
}

// Build computes the report. It never mutates in.
func Build(in Input, opts Options) Report {
	r := Report{
		Scope:          opts.Scope.Describe(),
		Namespaces:     []Namespace{},
		Deployments:    []Deployment{},
		UninjectedPods: []Pod{},
		StallingPDBs:   []PDB{},
		CutServices:    []Service{},
	}
	nss := selectNamespaces(in.Namespaces, opts)
	for _, ns := range nss {
		r.Namespaces = append(r.Namespaces, ns)
	}
	inScope := func(namespace string) (Namespace, bool) {
		ns, ok := nss[namespace]
		return ns, ok
	}

	cluster := map[string]*validate.Cluster{}
	clusterOf := func(namespace string) *validate.Cluster {
		if c, ok := cluster[namespace]; ok {
			return c
		}
		c := &validate.Cluster{}
		cluster[namespace] = c
		return c
	}
	for i := range in.PDBs {
		if _, ok := inScope(in.PDBs[i].Namespace); ok {
			c := clusterOf(in.PDBs[i].Namespace)
			c.PDBs = append(c.PDBs, &in.PDBs[i])
		}
	}
	for i := range in.HPAs {
		if _, ok := inScope(in.HPAs[i].Namespace); ok {
			c := clusterOf(in.HPAs[i].Namespace)
			c.HPAs = append(c.HPAs, &in.HPAs[i])
		}
	}

	deploymentsByNS := map[string][]*appsv1.Deployment{}
	for i := range in.Deployments {
		d := &in.Deployments[i]
		if _, ok := inScope(d.Namespace); !ok {
			continue
		}
		deploymentsByNS[d.Namespace] = append(deploymentsByNS[d.Namespace], d)
		r.Deployments = append(r.Deployments, deploymentResult(d, *clusterOf(d.Namespace), opts.Rules))
	}

	var running []*corev1.Pod
	for i := range in.Pods {
		p := &in.Pods[i]
		if _, ok := inScope(p.Namespace); ok && alive(p) {
			running = append(running, p)
		}
	}
	for _, p := range running {
		ns, _ := inScope(p.Namespace)
		if pod, ok := uninjected(p, ns, deploymentsByNS[p.Namespace], opts.Mutate); ok {
			r.UninjectedPods = append(r.UninjectedPods, pod)
		}
	}

	for i := range in.PDBs {
		p := &in.PDBs[i]
		if _, ok := inScope(p.Namespace); ok {
			if pdb, ok := stalling(p); ok {
				r.StallingPDBs = append(r.StallingPDBs, pdb)
			}
		}
	}

	for i := range in.Services {
		s := &in.Services[i]
		if _, ok := inScope(s.Namespace); !ok {
			continue
		}
		if svc, ok := cutService(s, running, clusterOf(s.Namespace).PDBs); ok {
			r.CutServices = append(r.CutServices, svc)
		}
	}

	sortByKey(r.Namespaces, func(n Namespace) string { return n.Name })
	sortByKey(r.Deployments, func(d Deployment) string { return d.Namespace + "/" + d.Name })
	sortByKey(r.UninjectedPods, func(p Pod) string { return p.Namespace + "/" + p.Name })
	sortByKey(r.StallingPDBs, func(p PDB) string { return p.Namespace + "/" + p.Name })
	sortByKey(r.CutServices, func(s Service) string { return s.Namespace + "/" + s.Name })
	r.Summary = summarize(r)
	return r
}

func sortByKey[T any](s []T, key func(T) string) {
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}

// selectNamespaces returns the namespaces in scope by name. An explicitly named namespace that the input lacks is
// still reported (with no objects), so a typo shows as an empty namespace rather than vanishing.
func selectNamespaces(all []corev1.Namespace, opts Options) map[string]Namespace {
	out := map[string]Namespace{}
	add := func(name string, lbls map[string]string) {
		out[name] = Namespace{Name: name, OptedIn: lbls[names.LabelEnabled] == "true", Mode: names.ModeFor(opts.Mode, lbls)}
	}
	if len(opts.Scope.Namespaces) > 0 {
		byName := map[string]map[string]string{}
		for _, ns := range all {
			byName[ns.Name] = ns.Labels
		}
		for _, name := range opts.Scope.Namespaces {
			add(name, byName[name])
		}
		return out
	}
	for _, ns := range all {
		if opts.Scope.AllNamespaces || ns.Labels[names.LabelEnabled] == "true" {
			add(ns.Name, ns.Labels)
		}
	}
	return out
}

func deploymentResult(d *appsv1.Deployment, c validate.Cluster, rules validate.Options) Deployment {
	out := Deployment{
		Namespace:     d.Namespace,
		Name:          d.Name,
		Replicas:      1,
		ReadyReplicas: d.Status.ReadyReplicas,
		Violations:    []Violation{},
		Warnings:      []string{},
	}
	if d.Spec.Replicas != nil {
		out.Replicas = *d.Spec.Replicas
	}
	verdict := validate.Deployment(d, c, rules)
	for _, v := range verdict.Violations {
		out.Violations = append(out.Violations, newViolation(v))
	}
	// In enforce mode the warnings are the advisories, the exemption and the notes; violations are listed above.
	out.Warnings = append(out.Warnings, validate.Warnings(verdict, names.ModeEnforce)...)
	return out
}

func newViolation(v validate.Violation) Violation {
	noFix := v
	noFix.Fix = ""
	return Violation{
		Rule:    v.Rule,
		Field:   v.Field.String(),
		Message: v.FieldError().Error(),
		Problem: noFix.FieldError().Error(),
		Fix:     v.Fix,
	}
}

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
	case ns.Mode == names.ModeAudit:
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
			budgetString(p), s.ExpectedPods)
		out.Fix = fmt.Sprintf(`kubectl patch pdb %s -n %s --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'`,
			p.Name, p.Namespace)
	default:
		out.Why = fmt.Sprintf("0 disruptions allowed now: %d of %d pods healthy, %d must stay up; the budget is spent on %d pod(s) "+
			"already down (evicted, starting or failing) until they are ready", s.CurrentHealthy, s.ExpectedPods, s.DesiredHealthy,
			s.ExpectedPods-s.CurrentHealthy)
		out.Fix = fmt.Sprintf("transient during a rollout or a drain; if it lasts, fix the pods that are not ready (kubectl get pods -n %s -l %s)",
			p.Namespace, selectorString(p))
	}
	return out, true
}

func budgetString(p *policyv1.PodDisruptionBudget) string {
	switch {
	case p.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + p.Spec.MaxUnavailable.String()
	case p.Spec.MinAvailable != nil:
		return "minAvailable " + p.Spec.MinAvailable.String()
	}
	return "a budget without minAvailable or maxUnavailable"
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
		selecting := selectingPDBs(p, pdbs)
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

// selectingPDBs returns the PDBs whose selector matches the pod, as the Eviction API reads them: a nil selector
// selects nothing, an empty one every pod of the namespace.
func selectingPDBs(p *corev1.Pod, pdbs []*policyv1.PodDisruptionBudget) []*policyv1.PodDisruptionBudget {
	var out []*policyv1.PodDisruptionBudget
	for _, pdb := range pdbs {
		if pdb.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, pdb)
		}
	}
	return out
}

func summarize(r Report) Summary {
	s := Summary{
		Namespaces:     len(r.Namespaces),
		Deployments:    len(r.Deployments),
		UninjectedPods: len(r.UninjectedPods),
		StallingPDBs:   len(r.StallingPDBs),
		CutServices:    len(r.CutServices),
	}
	for _, d := range r.Deployments {
		if len(d.Violations) > 0 {
			s.DeploymentsWithViolations++
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
