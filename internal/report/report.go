// Package report answers, for a running cluster, "what would a node-pool upgrade do to my traffic right now?"
// (`ha-webhook report`). Build is pure: it reads typed lists (no client, no context) and runs exactly the rule and
// mutation code the webhook runs — validate.Check on each Deployment and StatefulSet with the namespace's PDBs, HPAs
// and workloads (a PDB's budget is shared by every workload it selects), validate.PDBAdvisories on each PDB, and
// mutate.Pod on a copy of each pod. read.go is the thin layer that fills the lists from an API server.
package report

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Problems reports whether anything was found that loses traffic or stalls an upgrade. Warnings are no problems.
func (r Report) Problems() bool {
	s := r.Summary
	return s.WorkloadsWithViolations+s.UninjectedPods+s.StallingPDBs+s.CutServices > 0
}

// Build computes the report. It never mutates in.
func Build(in Input, opts Options) Report { return BuildObjects(in.Objects(), opts) }

// BuildObjects computes the report from objects it only reads.
func BuildObjects(in Objects, opts Options) Report {
	r := Report{
		Scope:          opts.Scope.Describe(),
		Namespaces:     []Namespace{},
		Workloads:      []Workload{},
		UninjectedPods: []Pod{},
		StallingPDBs:   []PDB{},
		PDBWarnings:    []PDBWarning{},
		CutServices:    []Service{},
	}
	sc := scope(in, opts)
	for _, ns := range sc.namespaces {
		r.Namespaces = append(r.Namespaces, ns)
	}
	for _, w := range sc.workloads {
		r.Workloads = append(r.Workloads, workloadResult(w, *sc.cluster(w.Namespace), opts.Rules))
	}
	for _, p := range sc.running {
		if pod, ok := uninjected(p, sc.namespaces[p.Namespace], sc.deploymentsIn[p.Namespace], opts.Mutate); ok {
			r.UninjectedPods = append(r.UninjectedPods, pod)
		}
	}
	for _, p := range sc.pdbs {
		if pdb, ok := stalling(p); ok {
			r.StallingPDBs = append(r.StallingPDBs, pdb)
		}
		r.PDBWarnings = append(r.PDBWarnings, pdbWarnings(p)...)
	}
	for _, s := range sc.services {
		if svc, ok := cutService(s, sc.runningIn[s.Namespace], sc.cluster(s.Namespace).PDBs); ok {
			r.CutServices = append(r.CutServices, svc)
		}
	}
	sortByKey(r.Namespaces, func(n Namespace) string { return n.Name })
	sortByKey(r.Workloads, func(w Workload) string { return w.Namespace + "/" + w.Kind + "/" + w.Name })
	sortByKey(r.UninjectedPods, func(p Pod) string { return p.Namespace + "/" + p.Name })
	sortByKey(r.StallingPDBs, func(p PDB) string { return p.Namespace + "/" + p.Name })
	sortByKey(r.PDBWarnings, func(p PDBWarning) string { return p.Namespace + "/" + p.Name + "/" + p.Rule })
	sortByKey(r.CutServices, func(s Service) string { return s.Namespace + "/" + s.Name })
	r.Summary = summarize(r)
	return r
}

// scoped is the input restricted to the namespaces in scope, indexed the way the findings read it.
type scoped struct {
	namespaces map[string]Namespace
	clusters   map[string]*validate.Cluster
	// workloads are the Deployments and StatefulSets, with their ready replicas.
	workloads     []workload
	deploymentsIn map[string][]*appsv1.Deployment
	running       []*corev1.Pod
	// runningIn indexes running by namespace: a Service selects only its own namespace's pods.
	runningIn map[string][]*corev1.Pod
	pdbs      []*policyv1.PodDisruptionBudget
	services  []*corev1.Service
}

func scope(in Objects, opts Options) *scoped {
	sc := &scoped{
		namespaces:    selectNamespaces(in.Namespaces, opts),
		clusters:      map[string]*validate.Cluster{},
		deploymentsIn: map[string][]*appsv1.Deployment{},
		runningIn:     map[string][]*corev1.Pod{},
	}
	for _, p := range in.PDBs {
		if sc.has(p.Namespace) {
			sc.pdbs = append(sc.pdbs, p)
			sc.cluster(p.Namespace).PDBs = append(sc.cluster(p.Namespace).PDBs, p)
		}
	}
	for _, h := range in.HPAs {
		if sc.has(h.Namespace) {
			sc.cluster(h.Namespace).HPAs = append(sc.cluster(h.Namespace).HPAs, h)
		}
	}
	for _, d := range in.Deployments {
		if sc.has(d.Namespace) {
			sc.addWorkload(workload{validate.DeploymentWorkload(d), d.Status.ReadyReplicas, d.UID, d.Generation})
			sc.deploymentsIn[d.Namespace] = append(sc.deploymentsIn[d.Namespace], d)
		}
	}
	for _, s := range in.StatefulSets {
		if sc.has(s.Namespace) {
			sc.addWorkload(workload{validate.StatefulSetWorkload(s), s.Status.ReadyReplicas, s.UID, s.Generation})
		}
	}
	for _, p := range in.Pods {
		if sc.has(p.Namespace) && alive(p) {
			sc.running = append(sc.running, p)
			sc.runningIn[p.Namespace] = append(sc.runningIn[p.Namespace], p)
		}
	}
	for _, s := range in.Services {
		if sc.has(s.Namespace) {
			sc.services = append(sc.services, s)
		}
	}
	return sc
}

func (sc *scoped) has(namespace string) bool {
	_, ok := sc.namespaces[namespace]
	return ok
}

// workload is a Deployment or StatefulSet as the rules read it, its ready replicas (from its status) and identity.
type workload struct {
	validate.Workload
	ready      int32
	uid        types.UID
	generation int64
}

// addWorkload records a workload, and counts it in its namespace's cluster: a PDB's budget is shared by the pods of
// every workload it selects.
func (sc *scoped) addWorkload(w workload) {
	sc.workloads = append(sc.workloads, w)
	sc.cluster(w.Namespace).Workloads = append(sc.cluster(w.Namespace).Workloads, w.Workload)
}

// cluster is the namespace's PDBs, HPAs and workloads, as the rules read them.
func (sc *scoped) cluster(namespace string) *validate.Cluster {
	c, ok := sc.clusters[namespace]
	if !ok {
		c = &validate.Cluster{}
		sc.clusters[namespace] = c
	}
	return c
}

func sortByKey[T any](s []T, key func(T) string) {
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}

// selectNamespaces returns the namespaces in scope by name. An explicitly named namespace that the input lacks is
// still reported (with no objects), so a typo shows as an empty namespace rather than vanishing.
func selectNamespaces(all []*corev1.Namespace, opts Options) map[string]Namespace {
	out := map[string]Namespace{}
	add := func(name string, lbls map[string]string) {
		out[name] = Namespace{Name: name, OptedIn: lbls[names.LabelEnabled] == "true", Mode: policy.ModeFor(opts.Mode, lbls)}
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

func workloadResult(w workload, c validate.Cluster, rules validate.Options) Workload {
	verdict := validate.Check(w.Workload, c, rules)
	out := Workload{
		Kind:          w.Kind,
		Namespace:     w.Namespace,
		Name:          w.Name,
		UID:           w.uid,
		Generation:    w.generation,
		Replicas:      1,
		ReadyReplicas: w.ready,
		// As in enforce mode, the warnings are the advisories, the exemption and the notes; violations are apart.
		Verdict: printer.NewVerdict(verdict, false),
		Result:  verdict,
	}
	if w.Replicas != nil {
		out.Replicas = *w.Replicas
	}
	return out
}
