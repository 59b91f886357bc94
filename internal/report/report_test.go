package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/printer"
)

// Builders of the typed objects a cluster would return.

func namespace(name string, labels ...string) corev1.Namespace {
	ns := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for i := 0; i+1 < len(labels); i += 2 {
		ns.Labels[labels[i]] = labels[i+1]
	}
	return ns
}

func optedIn(name string, labels ...string) corev1.Namespace {
	return namespace(name, append([]string{names.LabelEnabled, "true"}, labels...)...)
}

func deployment(ns, name string, replicas int32) appsv1.Deployment {
	return appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       podSpec(),
			},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: replicas},
	}
}

func statefulSet(ns, name string, replicas int32) appsv1.StatefulSet {
	d := deployment(ns, name, replicas)
	return appsv1.StatefulSet{
		ObjectMeta: d.ObjectMeta,
		Spec: appsv1.StatefulSetSpec{Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template,
			ServiceName: name},
		Status: appsv1.StatefulSetStatus{ReadyReplicas: replicas},
	}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		Containers: []corev1.Container{{Name: "app", Image: "example/app",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}},
	}
}

type podOption func(*corev1.Pod)

// pod is a Running pod of Deployment app (owned by its ReplicaSet), not mutated.
func pod(ns, app, suffix string, opts ...podOption) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-rs-" + suffix, Labels: map[string]string{"app": app},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-rs", Controller: ptr.To(true)}}},
		Spec:   podSpec(),
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	p.Spec.NodeName = "node-1"
	for _, o := range opts {
		o(&p)
	}
	return p
}

func injected(p *corev1.Pod) {
	p.Annotations = map[string]string{names.AnnotationInjected: "readinessProbe:app,preStop:app,terminationGracePeriodSeconds"}
}

func annotated(k, v string) podOption {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

func terminating(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }

func ownedBy(kind, name string) podOption {
	return func(p *corev1.Pod) {
		if kind == "" {
			p.OwnerReferences = nil
			return
		}
		p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: name, Controller: ptr.To(true)}}
	}
}

func ownProbeAndPreStop(p *corev1.Pod) {
	c := &p.Spec.Containers[0]
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
}

type pdbStatus struct{ allowed, healthy, desired, expected int32 }

func pdb(ns, app string, maxUnavailable intstr.IntOrString, s pdbStatus) policyv1.PodDisruptionBudget {
	return policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             ptr.To(maxUnavailable),
			Selector:                   &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: s.allowed, CurrentHealthy: s.healthy,
			DesiredHealthy: s.desired, ExpectedPods: s.expected},
	}
}

func service(ns, app string) corev1.Service {
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

// healthy is a compliant service: 3 replicas, all mutated, PDB maxUnavailable 1 allowing 1 disruption.
func healthy(ns, app string) Input {
	return Input{
		Deployments: []appsv1.Deployment{deployment(ns, app, 3)},
		Pods:        []corev1.Pod{pod(ns, app, "a", injected), pod(ns, app, "b", injected), pod(ns, app, "c", injected)},
		PDBs:        []policyv1.PodDisruptionBudget{pdb(ns, app, intstr.FromInt32(1), pdbStatus{1, 3, 2, 3})},
		Services:    []corev1.Service{service(ns, app)},
	}
}

func merge(ins ...Input) Input {
	var out Input
	for _, in := range ins {
		out.Namespaces = append(out.Namespaces, in.Namespaces...)
		out.Deployments = append(out.Deployments, in.Deployments...)
		out.StatefulSets = append(out.StatefulSets, in.StatefulSets...)
		out.Pods = append(out.Pods, in.Pods...)
		out.PDBs = append(out.PDBs, in.PDBs...)
		out.HPAs = append(out.HPAs, in.HPAs...)
		out.Services = append(out.Services, in.Services...)
	}
	return out
}

// outcome is what the table compares: rule IDs, object names, what is missing and why — not the rules' wording,
// which internal/validate owns.
type outcome struct {
	Namespaces  []string
	Workloads   map[string][]string // "Kind ns/name" → rules
	Pods        map[string]string   // "ns/name (owner)" → missing fields
	PDBs        []string
	PDBWarnings []string          // "ns/name rule"
	Services    map[string]string // "ns/name" → first words of why
	Summary     string
}

func outcomeOf(r Report) outcome {
	o := outcome{Workloads: map[string][]string{}, Pods: map[string]string{}, Services: map[string]string{}, Summary: r.Summary.Text}
	for _, ns := range r.Namespaces {
		o.Namespaces = append(o.Namespaces, ns.Name)
	}
	for _, w := range r.Workloads {
		rules := []string{}
		for _, v := range w.Violations {
			rules = append(rules, v.Rule)
		}
		o.Workloads[w.Kind+" "+w.Namespace+"/"+w.Name] = rules
	}
	for _, p := range r.PDBWarnings {
		o.PDBWarnings = append(o.PDBWarnings, p.Namespace+"/"+p.Name+" "+p.Rule)
	}
	for _, p := range r.UninjectedPods {
		var fields []string
		for _, m := range p.Missing {
			fields = append(fields, m.Field)
		}
		o.Pods[p.Namespace+"/"+p.Name+" ("+p.Owner+")"] = strings.Join(fields, ",")
	}
	for _, p := range r.StallingPDBs {
		o.PDBs = append(o.PDBs, p.Namespace+"/"+p.Name)
	}
	for _, s := range r.CutServices {
		o.Services[s.Namespace+"/"+s.Name] = strings.Join(strings.Fields(s.Why)[:3], " ")
	}
	return o
}

const allInjected = "readinessProbe,preStop,terminationGracePeriodSeconds"

func TestBuild(t *testing.T) {
	legacy := Input{
		Deployments: []appsv1.Deployment{deployment("legacy", "inventory", 1)},
		Pods:        []corev1.Pod{pod("legacy", "inventory", "a")},
		Services:    []corev1.Service{service("legacy", "inventory")},
	}
	tests := map[string]struct {
		in    Input
		scope Scope
		want  outcome
	}{
		"compliant namespace: nothing to report": {
			in: merge(Input{Namespaces: []corev1.Namespace{optedIn("shop")}}, healthy("shop", "web")),
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{"Deployment shop/web": {}},
				Pods: map[string]string{}, Services: map[string]string{},
				Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"},
		},
		"namespaces not opted in are left out by default": {
			in: merge(Input{Namespaces: []corev1.Namespace{optedIn("shop"), namespace("legacy")}}, healthy("shop", "web"), legacy),
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{"Deployment shop/web": {}},
				Pods: map[string]string{}, Services: map[string]string{},
				Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"},
		},
		"all namespaces: the control group's single replica, missing PDB, uninjected pod and cut service": {
			in:    merge(Input{Namespaces: []corev1.Namespace{optedIn("shop"), namespace("legacy")}}, healthy("shop", "web"), legacy),
			scope: Scope{AllNamespaces: true},
			want: outcome{
				Namespaces: []string{"legacy", "shop"},
				Workloads:  map[string][]string{"Deployment legacy/inventory": {"min-replicas", "pdb-missing"}, "Deployment shop/web": {}},
				Pods:       map[string]string{"legacy/inventory-rs-a (Deployment/inventory)": allInjected},
				Services:   map[string]string{"legacy/inventory": "1 backing pod:"},
				Summary:    "an upgrade now would stall on 0 PDBs and cut traffic to 1 service",
			},
		},
		"explicit namespaces, opted in or not": {
			in:    merge(Input{Namespaces: []corev1.Namespace{optedIn("shop"), namespace("legacy")}}, healthy("shop", "web"), legacy),
			scope: Scope{Namespaces: []string{"legacy"}},
			want: outcome{
				Namespaces: []string{"legacy"},
				Workloads:  map[string][]string{"Deployment legacy/inventory": {"min-replicas", "pdb-missing"}},
				Pods:       map[string]string{"legacy/inventory-rs-a (Deployment/inventory)": allInjected},
				Services:   map[string]string{"legacy/inventory": "1 backing pod:"},
				Summary:    "an upgrade now would stall on 0 PDBs and cut traffic to 1 service",
			},
		},
		"pods that need nothing or are not serving are not listed": {
			in: Input{
				Namespaces: []corev1.Namespace{optedIn("shop")},
				Pods: []corev1.Pod{
					pod("shop", "web", "injected", injected),
					pod("shop", "web", "skipped", annotated(names.AnnotationSkipMutation, "true")),
					pod("shop", "web", "mirror", annotated(names.AnnotationMirrorPod, "x")),
					pod("shop", "web", "terminating", terminating),
					pod("shop", "web", "own-probe-and-prestop", ownProbeAndPreStop),
					pod("shop", "web", "job", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }),
					pod("shop", "web", "no-ports", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }),
					pod("shop", "web", "done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				},
			},
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{}, Pods: map[string]string{},
				Services: map[string]string{}, Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"},
		},
		"uninjected pods: owners and what the webhook would add": {
			in: Input{
				Namespaces:  []corev1.Namespace{optedIn("shop")},
				Deployments: []appsv1.Deployment{deployment("shop", "web", 2)},
				Pods: []corev1.Pod{
					pod("shop", "web", "a"),
					pod("shop", "db", "0", ownedBy("StatefulSet", "db")),
					pod("shop", "debug", "x", ownedBy("", "")),
					pod("shop", "web", "prestop-zero", annotated(names.AnnotationPreStopSleepSeconds, "0")),
				},
			},
			want: outcome{
				Namespaces: []string{"shop"},
				Workloads:  map[string][]string{"Deployment shop/web": {"pdb-missing"}},
				Pods: map[string]string{
					"shop/db-rs-0 (StatefulSet/db)":             allInjected,
					"shop/debug-rs-x ()":                        allInjected,
					"shop/web-rs-a (Deployment/web)":            allInjected,
					"shop/web-rs-prestop-zero (Deployment/web)": "readinessProbe",
				},
				Services: map[string]string{},
				Summary:  "an upgrade now would stall on 0 PDBs and cut traffic to 0 services",
			},
		},
		"PDBs that stall a drain now, from their status": {
			in: merge(
				Input{Namespaces: []corev1.Namespace{optedIn("shop")}},
				Input{PDBs: []policyv1.PodDisruptionBudget{
					pdb("shop", "zero-budget", intstr.FromInt32(0), pdbStatus{0, 3, 3, 3}),
					pdb("shop", "unhealthy", intstr.FromInt32(1), pdbStatus{0, 1, 2, 3}),
					pdb("shop", "mid-drain", intstr.FromInt32(1), pdbStatus{0, 2, 2, 3}),
					pdb("shop", "no-pods", intstr.FromInt32(1), pdbStatus{0, 0, 0, 0}),
					pdb("shop", "fine", intstr.FromInt32(1), pdbStatus{1, 3, 2, 3}),
				}},
			),
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{}, Pods: map[string]string{},
				PDBs: []string{"shop/mid-drain", "shop/unhealthy", "shop/zero-budget"}, Services: map[string]string{},
				Summary: "an upgrade now would stall on 3 PDBs and cut traffic to 0 services"},
		},
		"services cut: unprotected, a budget letting all go; not cut: protected or refused": {
			in: Input{
				Namespaces: []corev1.Namespace{optedIn("shop")},
				Pods: []corev1.Pod{
					pod("shop", "open", "a", injected), pod("shop", "open", "b", injected),
					pod("shop", "loose", "a", injected), pod("shop", "loose", "b", injected),
					pod("shop", "tight", "a", injected), pod("shop", "tight", "b", injected),
					pod("shop", "double", "a", injected), pod("shop", "double", "b", injected),
					pod("shop", "gone", "a", injected, terminating),
				},
				PDBs: []policyv1.PodDisruptionBudget{
					pdb("shop", "loose", intstr.FromString("100%"), pdbStatus{2, 2, 0, 2}),
					pdb("shop", "tight", intstr.FromInt32(1), pdbStatus{1, 2, 1, 2}),
					pdb("shop", "double", intstr.FromInt32(1), pdbStatus{1, 2, 1, 2}),
					func() policyv1.PodDisruptionBudget {
						p := pdb("shop", "double", intstr.FromInt32(1), pdbStatus{1, 2, 1, 2})
						p.Name = "double-2"
						return p
					}(),
				},
				Services: []corev1.Service{service("shop", "open"), service("shop", "loose"), service("shop", "tight"),
					service("shop", "double"), service("shop", "gone"),
					{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "external"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
					{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "selectorless"}},
				},
			},
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{}, Pods: map[string]string{},
				Services: map[string]string{"shop/loose": "its PodDisruptionBudgets let", "shop/open": "no PodDisruptionBudget selects"},
				Summary:  "an upgrade now would stall on 0 PDBs and cut traffic to 2 services"},
		},
		"HPA minReplicas is what the rules read": {
			in: Input{
				Namespaces:  []corev1.Namespace{optedIn("shop")},
				Deployments: []appsv1.Deployment{deployment("shop", "web", 3)},
				HPAs: []autoscalingv2.HorizontalPodAutoscaler{{
					ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
					Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](1), MaxReplicas: 5,
						ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
				}},
			},
			want: outcome{Namespaces: []string{"shop"}, Workloads: map[string][]string{"Deployment shop/web": {"min-replicas", "pdb-missing"}},
				Pods: map[string]string{}, Services: map[string]string{},
				Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"},
		},
		"an explicitly named namespace the cluster lacks is reported empty": {
			in:    Input{},
			scope: Scope{Namespaces: []string{"typo"}},
			want: outcome{Namespaces: []string{"typo"}, Workloads: map[string][]string{}, Pods: map[string]string{},
				Services: map[string]string{}, Summary: "an upgrade now would stall on 0 PDBs and cut traffic to 0 services"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Scope = tc.scope
			got := outcomeOf(Build(tc.in, opts))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Build (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildDoesNotModifyInput(t *testing.T) {
	in := merge(Input{Namespaces: []corev1.Namespace{optedIn("shop")}}, Input{
		Deployments: []appsv1.Deployment{deployment("shop", "web", 1)},
		Pods:        []corev1.Pod{pod("shop", "web", "a")},
		Services:    []corev1.Service{service("shop", "web")},
	})
	before, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	Build(in, DefaultOptions())
	after, _ := json.Marshal(in)
	if diff := cmp.Diff(string(before), string(after)); diff != "" {
		t.Errorf("Build modified its input (-before +after):\n%s", diff)
	}
}

func TestFixes(t *testing.T) {
	in := Input{
		Namespaces:  []corev1.Namespace{optedIn("shop"), optedIn("trial", names.LabelMode, "audit"), namespace("legacy")},
		Deployments: []appsv1.Deployment{deployment("shop", "web", 2), deployment("trial", "web", 2)},
		Pods: []corev1.Pod{pod("shop", "web", "a"), pod("trial", "web", "a"), pod("legacy", "web", "a"),
			pod("legacy", "db", "0", ownedBy("StatefulSet", "db")), pod("legacy", "debug", "x", ownedBy("", ""))},
	}
	opts := DefaultOptions()
	opts.Scope.AllNamespaces = true
	got := map[string]string{}
	for _, p := range Build(in, opts).UninjectedPods {
		got[p.Namespace+"/"+p.Name] = p.Fix
	}
	want := map[string]string{
		"shop/web-rs-a":  "kubectl rollout restart deployment/web -n shop (pods are re-admitted through the webhook)",
		"trial/web-rs-a": "namespace trial is in audit mode (nothing injected): kubectl label namespace trial ha-webhook.io/mode=enforce --overwrite, then kubectl rollout restart deployment/web -n trial",
		// No Deployment in legacy selects it: its ReplicaSet is named.
		"legacy/web-rs-a":   "kubectl label namespace legacy ha-webhook.io/enabled=true, then recreate the pods of ReplicaSet/web-rs -n legacy",
		"legacy/db-rs-0":    "kubectl label namespace legacy ha-webhook.io/enabled=true, then kubectl rollout restart statefulset/db -n legacy",
		"legacy/debug-rs-x": "kubectl label namespace legacy ha-webhook.io/enabled=true, then delete and recreate pod debug-rs-x -n legacy",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fixes (-want +got):\n%s", diff)
	}
}

func TestWriteText(t *testing.T) {
	strict := pdb("shop", "strict", intstr.FromInt32(0), pdbStatus{0, 2, 2, 2})
	strict.Spec.UnhealthyPodEvictionPolicy = nil
	in := merge(
		Input{Namespaces: []corev1.Namespace{optedIn("shop"), namespace("legacy"), namespace("kube-system"), optedIn("empty")}},
		healthy("shop", "web"),
		Input{
			Deployments:  []appsv1.Deployment{deployment("legacy", "inventory", 1), deployment("legacy", "batch", 1)},
			StatefulSets: []appsv1.StatefulSet{statefulSet("legacy", "ledger", 1)},
			Pods: []corev1.Pod{pod("legacy", "inventory", "a"),
				pod("legacy", "batch", "a"), pod("legacy", "batch", "b"), pod("legacy", "batch", "c"),
				pod("legacy", "batch", "d"), pod("legacy", "batch", "e")},
			Services: []corev1.Service{service("legacy", "inventory")},
			PDBs:     []policyv1.PodDisruptionBudget{strict},
		},
	)
	opts := DefaultOptions()
	opts.Scope.AllNamespaces = true
	r := Build(in, opts)
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	// The violations' and warnings' wording belongs to internal/validate: the expected lines are built from the
	// report.
	verdicts := map[string]string{}
	for _, w := range r.Workloads[:3] {
		for _, v := range w.Violations {
			verdicts[w.Name] += "    violation: " + v.Problem() + "\n      fix: " + v.Fix + "\n"
		}
		for _, warning := range w.Warnings {
			verdicts[w.Name] += "    warning: " + warning + "\n"
		}
		if len(w.Violations) != 2 {
			t.Fatalf("want 2 violations of legacy/%s, got %+v", w.Name, w.Violations)
		}
	}
	want := `ha-webhook report: all namespaces

Namespace legacy (not opted in)
  Deployment batch: 2 violations (1/1 ready)
` + verdicts["batch"] + `  Deployment inventory: 2 violations (1/1 ready)
` + verdicts["inventory"] + `  StatefulSet ledger: 2 violations (1/1 ready)
` + verdicts["ledger"] + `  5 pods of Deployment/batch serve traffic without ha-webhook's injections: batch-rs-a, batch-rs-b, batch-rs-c, batch-rs-d and 1 more
    missing: readinessProbe tcpSocket port http (container "app"), preStop sleep 15s (container "app"), terminationGracePeriodSeconds 45
    fix: kubectl label namespace legacy ha-webhook.io/enabled=true, then kubectl rollout restart deployment/batch -n legacy
  Pod inventory-rs-a of Deployment/inventory: serves traffic without ha-webhook's injections
    missing: readinessProbe tcpSocket port http (container "app"), preStop sleep 15s (container "app"), terminationGracePeriodSeconds 45
    fix: kubectl label namespace legacy ha-webhook.io/enabled=true, then kubectl rollout restart deployment/inventory -n legacy
  Service inventory: a drain would cut its traffic: 1 backing pod: evicting it (or force-evicting it once a stalled drain times out) leaves no endpoint
    fix: run 2 or more replicas with a PodDisruptionBudget of maxUnavailable 1

Namespace shop (opted in, enforce mode)
  Deployment web: ok (3/3 ready)
  PodDisruptionBudget strict: would stall a drain: 0 disruptions allowed: maxUnavailable 0 keeps all 2 pods up, so no eviction is ever allowed
    fix: kubectl patch pdb strict -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}'
  PodDisruptionBudget strict: warning: pdb-unhealthy-eviction: one crash-looping pod spends the budget and stalls every drain
    fix: kubectl patch pdb strict -n shop --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'

Nothing to report in 2 namespaces: empty, kube-system

4 namespaces, 4 workloads (3 with violations), 6 serving pods without ha-webhook's injections, 1 PDB warning.
An upgrade now would stall on 1 PDB and cut traffic to 1 service.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text output (-want +got):\n%s", diff)
	}
}

// TestStallingWhy tells a budget that never allows an eviction from one spent by pods already down (what the report
// shows in the middle of a drain).
func TestStallingWhy(t *testing.T) {
	tests := map[string]struct {
		pdb           policyv1.PodDisruptionBudget
		why, fixStart string
	}{
		"maxUnavailable 0": {
			pdb:      pdb("shop", "web", intstr.FromInt32(0), pdbStatus{0, 3, 3, 3}),
			why:      "0 disruptions allowed: maxUnavailable 0 keeps all 3 pods up, so no eviction is ever allowed",
			fixStart: "kubectl patch pdb web -n shop",
		},
		"one pod being replaced": {
			pdb:      pdb("shop", "web", intstr.FromInt32(1), pdbStatus{0, 2, 2, 3}),
			why:      "0 disruptions allowed now: 2 of 3 pods healthy, 2 must stay up; the budget is spent on 1 pod(s) already down (evicted, starting or failing) until they are ready",
			fixStart: "transient during a rollout or a drain; if it lasts, fix the pods that are not ready (kubectl get pods -n shop -l app=web)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := stalling(&tc.pdb)
			if !ok {
				t.Fatal("not reported")
			}
			if got.Why != tc.why || !strings.HasPrefix(got.Fix, tc.fixStart) {
				t.Errorf("why %q\nfix %q\nwant why %q\nfix starting %q", got.Why, got.Fix, tc.why, tc.fixStart)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, Build(Input{}, DefaultOptions()), printer.JSON); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	// Empty lists are [], never null, so jq '.cutServices | length' works on a clean cluster.
	for _, key := range []string{"namespaces", "workloads", "uninjectedPods", "stallingPDBs", "pdbWarnings", "cutServices"} {
		if list, ok := got[key].([]any); !ok || len(list) != 0 {
			t.Errorf("%s = %#v, want []", key, got[key])
		}
	}
	summary, _ := got["summary"].(map[string]any)
	if summary["text"] != "an upgrade now would stall on 0 PDBs and cut traffic to 0 services" {
		t.Errorf("summary = %v", summary)
	}
	if err := Write(&b, Report{}, "yaml"); err == nil {
		t.Error("Write accepted format yaml")
	}
}

func TestProblems(t *testing.T) {
	if (Report{}).Problems() {
		t.Error("an empty report has problems")
	}
	if !(Report{Summary: Summary{CutServices: 1}}).Problems() {
		t.Error("a cut service is no problem")
	}
}
