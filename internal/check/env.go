package check

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ha-webhook/ha-webhook/internal/manifest"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// environment is the stand-in for the cluster: the input's PDBs, HPAs and workloads (Deployments and StatefulSets)
// by namespace, with their input positions, and the modes its Namespace objects set.
type environment struct {
	opts      Options
	pdbs      map[string][]positioned[*policyv1.PodDisruptionBudget]
	hpas      map[string][]positioned[*autoscalingv2.HorizontalPodAutoscaler]
	workloads map[string][]positioned[validate.Workload]
	modes     map[string]policy.Mode
}

type positioned[T any] struct {
	index int
	obj   T
}

func newEnvironment(objs []manifest.Object, opts Options) *environment {
	env := &environment{
		opts:      opts,
		pdbs:      map[string][]positioned[*policyv1.PodDisruptionBudget]{},
		hpas:      map[string][]positioned[*autoscalingv2.HorizontalPodAutoscaler]{},
		workloads: map[string][]positioned[validate.Workload]{},
		modes:     map[string]policy.Mode{},
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
		case *appsv1.Deployment:
			env.addWorkload(i, validate.DeploymentWorkload(obj))
		case *appsv1.StatefulSet:
			env.addWorkload(i, validate.StatefulSetWorkload(obj))
		case *corev1.Namespace:
			env.modes[obj.Name] = policy.ModeFor(opts.Mode, obj.Labels)
		}
	}
	return env
}

// addWorkload records w in its namespace, --namespace when it names none: the disruption controller counts the
// pods of every workload a PDB selects.
func (env *environment) addWorkload(index int, w validate.Workload) {
	w.Namespace = env.namespace(metav1.ObjectMeta{Namespace: w.Namespace})
	env.workloads[w.Namespace] = append(env.workloads[w.Namespace], positioned[validate.Workload]{index, w})
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

// cluster returns the PDBs, HPAs and workloads of namespace; before >= 0 keeps only those earlier in the input than
// it, which is what the API server holds when `kubectl apply -f` creates the object at that position.
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
	for _, w := range env.workloads[namespace] {
		if before < 0 || w.index < before {
			c.Workloads = append(c.Workloads, w.obj)
		}
	}
	return c
}
