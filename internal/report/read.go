package report

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// pageSize bounds each list call, so a large cluster is read in pages rather than in one huge response.
const pageSize = 500

// Run reads the cluster through r and builds the report.
func Run(ctx context.Context, r client.Reader, opts Options) (Report, error) {
	in, err := Read(ctx, r, opts.Scope)
	if err != nil {
		return Report{}, err
	}
	return Build(in, opts), nil
}

// Read lists what Build needs. The default scope reads the namespaces labelled ha-webhook.io/enabled=true and lists
// each one's objects (namespaced permissions suffice for those); --all-namespaces lists every kind cluster-wide.
func Read(ctx context.Context, r client.Reader, scope Scope) (Input, error) {
	var in Input
	switch {
	case len(scope.Namespaces) > 0:
		for _, name := range scope.Namespaces {
			ns := corev1.Namespace{}
			if err := r.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
				if apierrors.IsNotFound(err) {
					return Input{}, fmt.Errorf("namespace %s not found", name)
				}
				return Input{}, fmt.Errorf("reading namespace %s: %w", name, err)
			}
			in.Namespaces = append(in.Namespaces, ns)
		}
	case scope.AllNamespaces:
		var list corev1.NamespaceList
		if err := pages(ctx, r, &list, "", func() { in.Namespaces = append(in.Namespaces, list.Items...) }); err != nil {
			return Input{}, err
		}
	default:
		var list corev1.NamespaceList
		if err := pages(ctx, r, &list, "", func() {
			for _, ns := range list.Items {
				if ns.Labels[names.LabelEnabled] == "true" {
					in.Namespaces = append(in.Namespaces, ns)
				}
			}
		}); err != nil {
			return Input{}, err
		}
	}

	namespaces := []string{metav1.NamespaceAll}
	if !scope.AllNamespaces {
		namespaces = namespaces[:0]
		for _, ns := range in.Namespaces {
			namespaces = append(namespaces, ns.Name)
		}
	}
	for _, ns := range namespaces {
		if err := readNamespace(ctx, r, ns, &in); err != nil {
			return Input{}, err
		}
	}
	return in, nil
}

// readNamespace appends the namespace's objects to in ("" means every namespace).
func readNamespace(ctx context.Context, r client.Reader, ns string, in *Input) error {
	var (
		deployments  appsv1.DeploymentList
		statefulSets appsv1.StatefulSetList
		pods         corev1.PodList
		pdbs         policyv1.PodDisruptionBudgetList
		hpas         autoscalingv2.HorizontalPodAutoscalerList
		services     corev1.ServiceList
	)
	for _, l := range []struct {
		list    client.ObjectList
		collect func()
	}{
		{&deployments, func() { in.Deployments = append(in.Deployments, deployments.Items...) }},
		{&statefulSets, func() { in.StatefulSets = append(in.StatefulSets, statefulSets.Items...) }},
		{&pods, func() { in.Pods = append(in.Pods, pods.Items...) }},
		{&pdbs, func() { in.PDBs = append(in.PDBs, pdbs.Items...) }},
		{&hpas, func() { in.HPAs = append(in.HPAs, hpas.Items...) }},
		{&services, func() { in.Services = append(in.Services, services.Items...) }},
	} {
		if err := pages(ctx, r, l.list, ns, l.collect); err != nil {
			return err
		}
	}
	return nil
}

// pages lists every page of l, calling collect after each one.
func pages(ctx context.Context, r client.Reader, l client.ObjectList, namespace string, collect func()) error {
	cont := ""
	for {
		opts := []client.ListOption{client.Limit(pageSize), client.Continue(cont)}
		if namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		if err := r.List(ctx, l, opts...); err != nil {
			where := "every namespace"
			if namespace != "" {
				where = "namespace " + namespace
			}
			return fmt.Errorf("listing %s in %s: %w", kindOf(l), where, err)
		}
		collect()
		if cont = l.GetContinue(); cont == "" {
			return nil
		}
	}
}

func kindOf(l client.ObjectList) string {
	switch l.(type) {
	case *corev1.NamespaceList:
		return "namespaces"
	case *appsv1.DeploymentList:
		return "deployments"
	case *appsv1.StatefulSetList:
		return "statefulsets"
	case *corev1.PodList:
		return "pods"
	case *policyv1.PodDisruptionBudgetList:
		return "poddisruptionbudgets"
	case *autoscalingv2.HorizontalPodAutoscalerList:
		return "horizontalpodautoscalers"
	case *corev1.ServiceList:
		return "services"
	}
	return fmt.Sprintf("%T", l)
}
