package report

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// partOf labels the pods of a workload app.kubernetes.io/part-of=group, which sharedPDB selects.
func partOf[T appsv1.Deployment | appsv1.StatefulSet](w T, group string) T {
	switch w := any(&w).(type) {
	case *appsv1.Deployment:
		w.Spec.Template.Labels = map[string]string{"app": w.Name, "app.kubernetes.io/part-of": group}
	case *appsv1.StatefulSet:
		w.Spec.Template.Labels = map[string]string{"app": w.Name, "app.kubernetes.io/part-of": group}
	}
	return w
}

func sharedPDB(ns, group string, maxUnavailable int32) policyv1.PodDisruptionBudget {
	p := pdb(ns, group, intstr.FromInt32(maxUnavailable), pdbStatus{1, 4, 3, 4})
	p.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/part-of": group}}
	return p
}

// withWorkloads is the outcome of namespaces other and shop with these workloads' rules and no other finding.
func withWorkloads(rules map[string][]string) outcome {
	return outcome{Namespaces: []string{"other", "shop"}, Workloads: rules, Pods: map[string]string{},
		Services: map[string]string{}, Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"}
}

// TestBuildWorkloads: StatefulSets are judged like Deployments, and a PDB's budget is shared by every workload of the
// namespace it selects.
func TestBuildWorkloads(t *testing.T) {
	shop := Input{Namespaces: []corev1.Namespace{optedIn("shop"), optedIn("other")}}
	tests := map[string]struct {
		in   Input
		want outcome
	}{
		"a StatefulSet with one replica and no PDB": {
			in:   merge(shop, Input{StatefulSets: []appsv1.StatefulSet{statefulSet("shop", "db", 1)}}),
			want: withWorkloads(map[string][]string{"StatefulSet shop/db": {"min-replicas", "pdb-missing"}}),
		},
		"a compliant StatefulSet and a Deployment of the same name": {
			in: merge(shop, healthy("shop", "web"), Input{
				StatefulSets: []appsv1.StatefulSet{statefulSet("shop", "web", 3)},
			}),
			// Both are selected by PDB web, 6 pods: maxUnavailable 1 still keeps each up.
			want: withWorkloads(map[string][]string{"Deployment shop/web": {}, "StatefulSet shop/web": {}}),
		},
		"maxUnavailable 2 shared by two Deployments of 2: unprotective for each": {
			in: merge(shop, Input{
				Deployments: []appsv1.Deployment{partOf(deployment("shop", "email", 2), "notifications"), partOf(deployment("shop", "sms", 2), "notifications")},
				PDBs:        []policyv1.PodDisruptionBudget{sharedPDB("shop", "notifications", 2)},
			}),
			want: withWorkloads(map[string][]string{"Deployment shop/email": {"pdb-unprotective"}, "Deployment shop/sms": {"pdb-unprotective"}}),
		},
		"maxUnavailable 1 shared by a Deployment and a StatefulSet": {
			in: merge(shop, Input{
				Deployments:  []appsv1.Deployment{partOf(deployment("shop", "web", 2), "shop")},
				StatefulSets: []appsv1.StatefulSet{partOf(statefulSet("shop", "db", 2), "shop")},
				PDBs:         []policyv1.PodDisruptionBudget{sharedPDB("shop", "shop", 1)},
			}),
			want: withWorkloads(map[string][]string{"Deployment shop/web": {}, "StatefulSet shop/db": {}}),
		},
		"a workload of another namespace does not share the budget": {
			in: merge(shop, Input{
				Deployments: []appsv1.Deployment{partOf(deployment("shop", "email", 2), "notifications"), partOf(deployment("other", "sms", 2), "notifications")},
				PDBs:        []policyv1.PodDisruptionBudget{sharedPDB("shop", "notifications", 1)},
			}),
			want: withWorkloads(map[string][]string{"Deployment shop/email": {}, "Deployment other/sms": {"pdb-missing"}}),
		},
		"the pods of a StatefulSet are named by it": {
			in: merge(shop, Input{
				StatefulSets: []appsv1.StatefulSet{statefulSet("shop", "db", 2)},
				Pods:         []corev1.Pod{pod("shop", "db", "0", ownedBy("StatefulSet", "db"))},
			}),
			want: func() outcome {
				o := withWorkloads(map[string][]string{"StatefulSet shop/db": {"pdb-missing"}})
				o.Pods = map[string]string{"shop/db-rs-0 (StatefulSet/db)": allInjected}
				return o
			}(),
		},
		"a StatefulSet outside the scope is left out": {
			in:   merge(shop, Input{Namespaces: []corev1.Namespace{namespace("legacy")}, StatefulSets: []appsv1.StatefulSet{statefulSet("legacy", "db", 1)}}),
			want: withWorkloads(map[string][]string{}),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := outcomeOf(Build(tc.in, DefaultOptions()))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Build (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPDBWarnings: a PDB without unhealthyPodEvictionPolicy AlwaysAllow is warned, with its fix; a warning is no
// problem (exit status 0).
func TestPDBWarnings(t *testing.T) {
	withPolicy := func(policy *policyv1.UnhealthyPodEvictionPolicyType) policyv1.PodDisruptionBudget {
		p := pdb("shop", "web", intstr.FromInt32(1), pdbStatus{1, 3, 2, 3})
		p.Spec.UnhealthyPodEvictionPolicy = policy
		return p
	}
	warning := PDBWarning{Namespace: "shop", Name: "web", Rule: "pdb-unhealthy-eviction",
		Why: "PDB web: one crash-looping pod spends the budget and stalls every drain",
		Fix: `kubectl patch pdb web -n shop --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'`}
	tests := map[string]struct {
		pdb  policyv1.PodDisruptionBudget
		want []PDBWarning
	}{
		"unset":           {pdb: withPolicy(nil), want: []PDBWarning{warning}},
		"IfHealthyBudget": {pdb: withPolicy(ptr.To(policyv1.IfHealthyBudget)), want: []PDBWarning{warning}},
		"AlwaysAllow":     {pdb: withPolicy(ptr.To(policyv1.AlwaysAllow)), want: []PDBWarning{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := merge(healthy("shop", "web"), Input{Namespaces: []corev1.Namespace{optedIn("shop")}})
			in.PDBs = []policyv1.PodDisruptionBudget{tc.pdb}
			r := Build(in, DefaultOptions())
			if diff := cmp.Diff(tc.want, r.PDBWarnings); diff != "" {
				t.Errorf("PDB warnings (-want +got):\n%s", diff)
			}
			if r.Summary.PDBWarnings != len(tc.want) || r.Problems() {
				t.Errorf("summary %+v, problems %v: want %d PDB warnings and no problem", r.Summary, r.Problems(), len(tc.want))
			}
		})
	}
}

func TestSummaryCounts(t *testing.T) {
	in := merge(Input{Namespaces: []corev1.Namespace{optedIn("shop")}}, healthy("shop", "web"), Input{
		StatefulSets: []appsv1.StatefulSet{statefulSet("shop", "db", 1), statefulSet("shop", "cache", 0)},
	})
	got := Build(in, DefaultOptions()).Summary
	got.Text = ""
	want := Summary{Namespaces: 1, Workloads: 3, WorkloadsWithViolations: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}
