package report

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Input is what the report reads from a cluster. Objects in namespaces outside the scope are ignored, so a reader may
// list cluster-wide.
type Input struct {
	Namespaces   []corev1.Namespace
	Deployments  []appsv1.Deployment
	StatefulSets []appsv1.StatefulSet
	Pods         []corev1.Pod
	PDBs         []policyv1.PodDisruptionBudget
	HPAs         []autoscalingv2.HorizontalPodAutoscaler
	Services     []corev1.Service
}

// Objects is what Build reads, by reference: the audit inside `serve` passes its informer cache's own objects, all
// namespaces, without copying them (Build never modifies them).
type Objects struct {
	Namespaces   []*corev1.Namespace
	Deployments  []*appsv1.Deployment
	StatefulSets []*appsv1.StatefulSet
	Pods         []*corev1.Pod
	PDBs         []*policyv1.PodDisruptionBudget
	HPAs         []*autoscalingv2.HorizontalPodAutoscaler
	Services     []*corev1.Service
}

// Objects refers to in's objects.
func (in Input) Objects() Objects {
	return Objects{
		Namespaces: pointers(in.Namespaces), Deployments: pointers(in.Deployments), StatefulSets: pointers(in.StatefulSets),
		Pods: pointers(in.Pods), PDBs: pointers(in.PDBs), HPAs: pointers(in.HPAs), Services: pointers(in.Services),
	}
}

func pointers[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
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
	// Options are the webhook's mode, mutation and rules; a namespace's ha-webhook.io/mode label overrides the mode.
	policy.Options
	Scope Scope
}

// DefaultOptions are the server's defaults, reporting opted-in namespaces.
func DefaultOptions() Options {
	return Options{Options: policy.DefaultOptions()}
}

// Report is the outcome. Every list is sorted by namespace, then name (workloads by namespace, kind, then name). The
// JSON form is the `report -o json` interface.
type Report struct {
	Scope      string      `json:"scope"`
	Namespaces []Namespace `json:"namespaces"`
	// Workloads are the Deployments and StatefulSets, each with the webhook's verdict.
	Workloads []Workload `json:"workloads"`
	// UninjectedPods serve traffic but lack what the mutating webhook injects.
	UninjectedPods []Pod `json:"uninjectedPods"`
	// StallingPDBs allow no disruption right now: a drain of a node holding their pods waits.
	StallingPDBs []PDB `json:"stallingPDBs"`
	// PDBWarnings are the findings of the warning-only rules on PodDisruptionBudgets themselves
	// (pdb-unhealthy-eviction), one per PDB and rule.
	PDBWarnings []PDBWarning `json:"pdbWarnings"`
	// CutServices lose every backing pod at once when their nodes are drained.
	CutServices []Service `json:"cutServices"`
	Summary     Summary   `json:"summary"`
}

// Namespace is a reported namespace.
type Namespace struct {
	Name    string      `json:"name"`
	OptedIn bool        `json:"optedIn"`
	Mode    policy.Mode `json:"mode"`
}

// Workload is one Deployment or StatefulSet and the webhook's verdict on it.
type Workload struct {
	// Kind is "Deployment" or "StatefulSet".
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Replicas is spec.replicas (nil means 1); ReadyReplicas is from status.
	Replicas      int32 `json:"replicas"`
	ReadyReplicas int32 `json:"readyReplicas"`
	// Verdict: the violations are what the validating webhook denies (in enforce mode) on the next update touching
	// these fields; the warnings are advisories, pre-existing violations, the exemption and notes, as the webhook
	// would warn them.
	printer.Verdict
	// Result is the rules' verdict the printed one comes from, for the audit inside `serve` (its gauges by state
	// and rule, PolicyReport results per rule, Events); UID and Generation tell it whether the workload itself changed
	// between two audits. Not part of the JSON form.
	Result     validate.Verdict `json:"-"`
	UID        types.UID        `json:"-"`
	Generation int64            `json:"-"`
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

// PDBWarning is a warning-only finding on a PodDisruptionBudget: it stalls no drain now, but may.
type PDBWarning struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Rule is the rule ID (pdb-unhealthy-eviction).
	Rule string `json:"rule"`
	Why  string `json:"why"`
	Fix  string `json:"fix"`
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
	Namespaces              int `json:"namespaces"`
	Workloads               int `json:"workloads"`
	WorkloadsWithViolations int `json:"workloadsWithViolations"`
	UninjectedPods          int `json:"uninjectedPods"`
	StallingPDBs            int `json:"stallingPDBs"`
	PDBWarnings             int `json:"pdbWarnings"`
	CutServices             int `json:"cutServices"`
	// Text is the one-line verdict: "an upgrade now would stall on N PDBs and cut traffic to M services".
	Text string `json:"text"`
}
