// Package check runs the webhook's rules and mutation offline over manifests (`ha-webhook check`). It calls exactly
// the code the server calls — validate.Deployment for Deployments and mutate.Pod for pod templates — with the PDBs
// and HPAs found in the same input standing in for the cluster.
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
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
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

// Report is the outcome of a run, one result per checked object in input order.
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

	Source manifest.Source `json:"-"`
	Mode   policy.Mode     `json:"-"`
	// Validated is true for the kinds the validating webhook checks (Deployments).
	Validated bool `json:"-"`
	// NotMutated says why the pods are left alone entirely ("" when they are mutated or need nothing).
	NotMutated string `json:"-"`
}

// Run checks objs. PDBs and HPAs are matched per namespace across the whole input, whatever their position.
func Run(objs []manifest.Object, opts Options) Report {
	env := newEnvironment(objs, opts)
	report := Report{Results: []Result{}}
	for i, o := range objs {
		var res *Result
		switch obj := o.Object.(type) {
		case *appsv1.Deployment:
			res = env.deployment(i, obj)
		case *appsv1.StatefulSet:
			res = env.template(obj.ObjectMeta, &obj.Spec.Template)
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

// environment is the stand-in for the cluster: the input's PDBs and HPAs by namespace, with their input positions,
// and the modes its Namespace objects set.
type environment struct {
	opts  Options
	pdbs  map[string][]positioned[*policyv1.PodDisruptionBudget]
	hpas  map[string][]positioned[*autoscalingv2.HorizontalPodAutoscaler]
	modes map[string]policy.Mode
}

type positioned[T any] struct {
	index int
	obj   T
}

func newEnvironment(objs []manifest.Object, opts Options) *environment {
	env := &environment{
		opts:  opts,
		pdbs:  map[string][]positioned[*policyv1.PodDisruptionBudget]{},
		hpas:  map[string][]positioned[*autoscalingv2.HorizontalPodAutoscaler]{},
		modes: map[string]policy.Mode{},
	}
	for i, o := range objs {
		switch obj := o.Object.(type) {
		case *policyv1.PodDisruptionBudget:
			ns := env.namespace(obj.ObjectMeta)
			env.pdbs[ns] = append(env.pdbs[ns], positioned[*policyv1.PodDisruptionBudget]{i, obj})
		case *autoscalingv2.HorizontalPodAutoscaler:
			ns := env.namespace(obj.ObjectMeta)
			env.hpas[ns] = append(env.hpas[ns], positioned[*autoscalingv2.HorizontalPodAutoscaler]{i, obj})
		case *autoscalingv1.HorizontalPodAutoscaler:
			ns := env.namespace(obj.ObjectMeta)
			env.hpas[ns] = append(env.hpas[ns], positioned[*autoscalingv2.HorizontalPodAutoscaler]{i, hpaV2(obj)})
		case *corev1.Namespace:
			env.modes[obj.Name] = policy.ModeFor(opts.Mode, obj.Labels)
		}
	}
	return env
}

// hpaV2 keeps what the rules read of an autoscaling/v1 HPA: its target and minReplicas.
func hpaV2(h *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: *h.ObjectMeta.DeepCopy(),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: h.Spec.ScaleTargetRef.APIVersion,
				Kind:       h.Spec.ScaleTargetRef.Kind,
				Name:       h.Spec.ScaleTargetRef.Name,
			},
			MinReplicas: h.Spec.MinReplicas,
			MaxReplicas: h.Spec.MaxReplicas,
		},
	}
}

func (env *environment) namespace(m metav1.ObjectMeta) string {
	if m.Namespace != "" {
		return m.Namespace
	}
	return env.opts.Namespace
}

func (env *environment) mode(namespace string) policy.Mode {
	if m, ok := env.modes[namespace]; ok {
		return m
	}
	return env.opts.Mode
}

// cluster returns the PDBs and HPAs of namespace; before >= 0 keeps only those earlier in the input than it.
func (env *environment) cluster(namespace string, before int) validate.Cluster {
	var c validate.Cluster
	for _, p := range env.pdbs[namespace] {
		if before < 0 || p.index < before {
			c.PDBs = append(c.PDBs, p.obj)
		}
	}
	for _, h := range env.hpas[namespace] {
		if before < 0 || h.index < before {
			c.HPAs = append(c.HPAs, h.obj)
		}
	}
	return c
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

func (env *environment) deployment(index int, d *appsv1.Deployment) *Result {
	res := env.template(d.ObjectMeta, &d.Spec.Template)
	res.Validated = true
	d = d.DeepCopy()
	d.Namespace = res.Namespace // the server sets the request's namespace too; messages and fixes name it

	verdict := validate.Deployment(d, env.cluster(res.Namespace, -1), env.opts.Rules)
	res.Allowed = !verdict.Denied() || res.Mode == policy.ModeAudit
	mutationWarnings := res.Warnings
	res.Verdict = printer.NewVerdict(verdict, res.Mode == policy.ModeAudit)
	if w := env.orderWarning(index, d, verdict, res.Mode); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	res.Warnings = append(res.Warnings, mutationWarnings...)
	return res
}

// orderWarning warns when the Deployment passes only thanks to PDBs or HPAs that come after it in the input:
// `kubectl apply -f` creates objects in input order, so the webhook would deny it (Helm and Argo CD create PDBs
// first).
func (env *environment) orderWarning(index int, d *appsv1.Deployment, verdict validate.Verdict, mode policy.Mode) string {
	if verdict.Denied() || mode != policy.ModeEnforce {
		return ""
	}
	early := validate.Deployment(d, env.cluster(d.Namespace, index), env.opts.Rules)
	if !early.Denied() {
		return ""
	}
	var later []string
	if len(env.cluster(d.Namespace, -1).PDBs) > len(env.cluster(d.Namespace, index).PDBs) {
		later = append(later, "PodDisruptionBudget")
	}
	if len(env.cluster(d.Namespace, -1).HPAs) > len(env.cluster(d.Namespace, index).HPAs) {
		later = append(later, "HorizontalPodAutoscaler")
	}
	rules := make([]string, len(early.Violations))
	for i, v := range early.Violations {
		rules[i] = v.Rule
	}
	return fmt.Sprintf("ha-webhook: apply the %s before this Deployment: in this input's order it is denied (%s)",
		strings.Join(later, " and "), strings.Join(rules, ","))
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
