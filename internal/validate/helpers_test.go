package validate

import (
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// deploy is a Deployment "name" in namespace shop whose selector and pod template carry labels app=name. replicas
// nil leaves spec.replicas unset.
func deploy(name string, replicas *int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
			},
		},
	}
}

func replicas(n int32) *int32 { return ptr.To(n) }

func with(d *appsv1.Deployment, fn func(*appsv1.Deployment)) *appsv1.Deployment {
	fn(d)
	return d
}

func selectApp(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

// maxUnavailable is a PDB selecting app=web with maxUnavailable v ("1", "0%", ...).
func maxUnavailable(name, v string) *policyv1.PodDisruptionBudget {
	return pdb(name, selectApp("web"), nil, intOrStr(v))
}

// minAvailable is a PDB selecting app=web with minAvailable v.
func minAvailable(name, v string) *policyv1.PodDisruptionBudget {
	return pdb(name, selectApp("web"), intOrStr(v), nil)
}

func pdb(name string, sel *metav1.LabelSelector, minAvail, maxUnavail *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: minAvail, MaxUnavailable: maxUnavail},
	}
}

func hpa(name, apiVersion, kind, target string, minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target},
			MinReplicas:    minReplicas,
			MaxReplicas:    10,
		},
	}
}

func webHPA(minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
	return hpa("web", "apps/v1", "Deployment", "web", minReplicas)
}

func pdbs(ps ...*policyv1.PodDisruptionBudget) Cluster { return Cluster{PDBs: ps} }

// comparePaths compares field paths by their rendering (field.Path has unexported fields).
var comparePaths = cmp.Comparer(func(a, b *field.Path) bool { return a.String() == b.String() })

// rules lists the rule IDs of vs, in order.
func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

// modeName names the mode whose warnings Warnings(v, audit) lists, as the golden files do.
func modeName(audit bool) string {
	if audit {
		return "audit"
	}
	return "enforce"
}
