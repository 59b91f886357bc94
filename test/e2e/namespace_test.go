package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestNamespaceDeletionCompletes deletes an opted-in, enforcing namespace full of workloads, PDBs and HPAs, with
// kube-controller-manager's namespace controller doing the deleting, as `kubectl delete namespace` does: it must
// complete, and nothing the controller deletes may be refused by the webhook (a PDB DELETE is never denied).
func TestNamespaceDeletionCompletes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, t.Logf)
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
		if !t.Failed() {
			_ = c.RemoveLogs()
		} else {
			t.Logf("component logs kept in %s", c.LogDir)
		}
	})
	const ns, apps = "shop", 10
	cs := c.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{names.LabelEnabled: "true", names.LabelMode: "enforce"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range apps {
		name := fmt.Sprintf("app-%d", i)
		labels := map[string]string{"app": name}
		if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow)},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("PDB %s: %v", name, err)
		}
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
		}}
		kind := "Deployment"
		if i%2 == 0 {
			_, err = cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
			}, metav1.CreateOptions{})
		} else {
			kind = "StatefulSet"
			_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
			}, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", kind, name, err)
		}
		if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](2), MaxReplicas: 4,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: name}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("HPA %s: %v", name, err)
		}
	}
	start := time.Now()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			var conditions []string
			if got != nil {
				for _, cond := range got.Status.Conditions {
					conditions = append(conditions, fmt.Sprintf("%s=%s: %s", cond.Type, cond.Status, cond.Message))
				}
			}
			t.Fatalf("namespace %s still there after %s: %s", ns, time.Since(start).Round(time.Second), strings.Join(conditions, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("FIGURES namespace %s with %d workloads, %d PDBs and %d HPAs deleted in %s", ns, apps, apps, apps, time.Since(start).Round(100*time.Millisecond))
}
