// Package check runs the webhook's rules and mutation offline over manifests (`ha-webhook check`). It calls exactly
// the code the server calls — validate.Check for Deployments and StatefulSets, validate.PDBAdvisories for
// PodDisruptionBudgets and mutate.Pod for pod templates — with the PDBs, HPAs, Deployments and StatefulSets found in
// the same input standing in for the cluster: a PDB's budget is shared by every workload of the input whose pods it
// selects, as the disruption controller counts them.
//
// Two things differ from a live cluster, by design: namespaces are assumed opted in (a Namespace object in the
// input still sets the mode with its ha-webhook.io/mode label), and --prestop-mode=auto assumes the API server
// supports the native preStop sleep (Kubernetes >= 1.30), since there is no server to ask.
package check

import (
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ha-webhook/ha-webhook/internal/manifest"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Options configure a check run.
type Options struct {
	// Options are the server's mode, mutation and rules; a Namespace object in the input may override the mode
	// with its ha-webhook.io/mode label.
	policy.Options
	// Namespace is used for objects that name none, as `kubectl apply -n` would.
	Namespace string
}

// DefaultOptions are the defaults of `ha-webhook check`: the server's defaults, enforce mode, namespace "default",
// and native preStop sleep assumed available for --prestop-mode=auto.
func DefaultOptions() Options {
	o := Options{Options: policy.DefaultOptions(), Namespace: metav1.NamespaceDefault}
	o.Mutate.NativeSleepSupported = true
	return o
}

// Validate rejects contradictory options.
func (o Options) Validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--namespace %q: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	return errors.Join(append(errs, o.Options.Validate())...)
}

// Report is the outcome of a run, one result per checked object (workload, pod or PodDisruptionBudget) in input
// order.
type Report struct {
	Results []Result `json:"results"`
}

// Denied reports whether any object would be denied.
func (r Report) Denied() bool {
	for _, res := range r.Results {
		if !res.Allowed {
			return true
		}
	}
	return false
}

// Result is what the webhook would do with one object. The JSON form is the `check -o json` interface.
type Result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Allowed   bool   `json:"allowed"`
	printer.Verdict
	// Mutations are what the mutating webhook injects into each pod (in audit mode: would inject).
	Mutations []mutate.Injection `json:"mutations"`
	// Fixes are the ready-to-run fixes of a PodDisruptionBudget's warnings, in their order (none for other kinds).
	Fixes []string `json:"fixes,omitempty"`

	Source manifest.Source `json:"-"`
	Mode   policy.Mode     `json:"-"`
	// Validated is true for the kinds the validating webhook checks (Deployments, StatefulSets and
	// PodDisruptionBudgets).
	Validated bool `json:"-"`
	// NotMutated says why the pods are left alone entirely ("" when they are mutated or need nothing).
	NotMutated string `json:"-"`
}

// Run checks objs. PDBs, HPAs and workloads are matched per namespace across the whole input, whatever their
// position; the apply-order warning says when the position matters.
func Run(objs []manifest.Object, opts Options) Report {
	env := newEnvironment(objs, opts)
	report := Report{Results: []Result{}}
	for i, o := range objs {
		var res *Result
		switch obj := o.Object.(type) {
		case *appsv1.Deployment:
			res = env.workload(i, validate.DeploymentWorkload(obj), obj.ObjectMeta, &obj.Spec.Template)
		case *appsv1.StatefulSet:
			res = env.workload(i, validate.StatefulSetWorkload(obj), obj.ObjectMeta, &obj.Spec.Template)
		case *policyv1.PodDisruptionBudget:
			res = env.pdb(obj)
		case *appsv1.DaemonSet:
			res = env.template(obj.ObjectMeta, &obj.Spec.Template)
		case *appsv1.ReplicaSet:
			res = env.template(obj.ObjectMeta, &obj.Spec.Template)
		case *batchv1.Job:
			res = env.template(obj.ObjectMeta, &obj.Spec.Template)
		case *batchv1.CronJob:
			res = env.template(obj.ObjectMeta, &obj.Spec.JobTemplate.Spec.Template)
		case *corev1.Pod:
			res = env.pod(obj)
		default:
			continue
		}
		res.Kind = o.GVK.Kind
		res.Source = o.Source
		report.Results = append(report.Results, *res)
	}
	return report
}

func (env *environment) newResult(m metav1.ObjectMeta) *Result {
	ns := env.namespace(m)
	return &Result{
		Namespace: ns,
		Name:      m.Name,
		Allowed:   true,
		Verdict:   printer.Verdict{Violations: []validate.Violation{}, Warnings: []string{}},
		Mutations: []mutate.Injection{},
		Mode:      env.mode(ns),
	}
}

// template previews the mutation of the pods a workload creates from its pod template.
func (env *environment) template(owner metav1.ObjectMeta, tpl *corev1.PodTemplateSpec) *Result {
	res := env.newResult(owner)
	t := tpl.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Namespace = res.Namespace
	env.mutate(res, pod)
	return res
}

func (env *environment) pod(p *corev1.Pod) *Result {
	res := env.newResult(p.ObjectMeta)
	pod := p.DeepCopy()
	pod.Namespace = res.Namespace
	env.mutate(res, pod)
	return res
}

// mutate runs the server's pod mutation on a copy and records what it injected.
func (env *environment) mutate(res *Result, pod *corev1.Pod) {
	out := mutate.Pod(pod, env.opts.Mutate)
	res.NotMutated = out.SkipReason
	res.Mutations = append(res.Mutations, out.Injections...)
	res.Warnings = append(res.Warnings, out.Warnings...)
}
