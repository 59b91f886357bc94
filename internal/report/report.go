// Package report answers, for a running cluster, "what would a node-pool upgrade do to my traffic right now?"
// (`ha-webhook report`). Build is pure: it reads typed lists (no client, no context) and runs exactly the rule and
// mutation code the webhook runs — validate.Deployment with the namespace's PDBs and HPAs, and mutate.Pod on a copy of
// each pod. read.go is the thin layer that fills the lists from an API server.
package report

import (
	"cmp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

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

func deploymentResult(d *appsv1.Deployment, c validate.Cluster, rules validate.Options) Deployment {
	out := Deployment{
		Namespace:     d.Namespace,
		Name:          d.Name,
		Replicas:      1,
		ReadyReplicas: d.Status.ReadyReplicas,
		Violations:    []validate.Violation{},
		Warnings:      []string{},
	}
	if d.Spec.Replicas != nil {
		out.Replicas = *d.Spec.Replicas
	}
	verdict := validate.Deployment(d, c, rules)
	out.Violations = append(out.Violations, verdict.Violations...)
	// As in enforce mode, the warnings are the advisories, the exemption and the notes; violations are listed above.
	out.Warnings = append(out.Warnings, validate.Warnings(verdict, false)...)
	return out
}
