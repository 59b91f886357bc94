package admission

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// CachedCluster reads a namespace's PDBs, HPAs, Deployments and StatefulSets from an informer-backed reader. controller-runtime's cache
// indexes objects by namespace, so a lookup costs the namespace's objects, not the cluster's.
type CachedCluster struct {
	Reader client.Reader
}

// Cluster lists the namespace's PDBs, HPAs and workloads. A cache that has not synced yields an error (the caller fails the
// request per failurePolicy), never an empty list that would look like "no PDB".
//
// The lists are not deep-copied out of the cache: the items share their maps, slices and pointers with the
// informer's objects, so nothing that reads a Cluster may modify them (the rules only read). Deep copies were most
// of the lookup's cost, paid for every PDB and HPA of the namespace on every request.
func (c CachedCluster) Cluster(ctx context.Context, namespace string) (validate.Cluster, error) {
	var pdbs policyv1.PodDisruptionBudgetList
	if err := c.Reader.List(ctx, &pdbs, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return validate.Cluster{}, fmt.Errorf("listing PodDisruptionBudgets in %s: %w", namespace, err)
	}
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	if err := c.Reader.List(ctx, &hpas, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return validate.Cluster{}, fmt.Errorf("listing HorizontalPodAutoscalers in %s: %w", namespace, err)
	}
	var deployments appsv1.DeploymentList
	if err := c.Reader.List(ctx, &deployments, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return validate.Cluster{}, fmt.Errorf("listing Deployments in %s: %w", namespace, err)
	}
	var statefulSets appsv1.StatefulSetList
	if err := c.Reader.List(ctx, &statefulSets, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return validate.Cluster{}, fmt.Errorf("listing StatefulSets in %s: %w", namespace, err)
	}
	out := validate.Cluster{
		PDBs:      make([]*policyv1.PodDisruptionBudget, len(pdbs.Items)),
		HPAs:      make([]*autoscalingv2.HorizontalPodAutoscaler, len(hpas.Items)),
		Workloads: make([]validate.Workload, 0, len(deployments.Items)+len(statefulSets.Items)),
	}
	for i := range deployments.Items {
		out.Workloads = append(out.Workloads, validate.DeploymentWorkload(&deployments.Items[i]))
	}
	for i := range statefulSets.Items {
		out.Workloads = append(out.Workloads, validate.StatefulSetWorkload(&statefulSets.Items[i]))
	}
	for i := range pdbs.Items {
		out.PDBs[i] = &pdbs.Items[i]
	}
	for i := range hpas.Items {
		out.HPAs[i] = &hpas.Items[i]
	}
	return out, nil
}

// NamespaceModes resolves the mode per namespace from the cached Namespace's ha-webhook.io/mode label. A namespace
// the cache has not seen yet (created a moment ago, with its label) is read live rather than given the global mode.
func NamespaceModes(cached, live client.Reader, global policy.Mode) ModeLookup {
	return func(ctx context.Context, namespace string) (policy.Mode, error) {
		if namespace == "" {
			return global, nil
		}
		ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
		defer cancel()
		ns := &corev1.Namespace{}
		err := cached.Get(ctx, client.ObjectKey{Name: namespace}, ns)
		if apierrors.IsNotFound(err) {
			err = live.Get(ctx, client.ObjectKey{Name: namespace}, ns)
		}
		if err != nil {
			if apierrors.IsNotFound(err) {
				return global, nil
			}
			return "", fmt.Errorf("reading namespace %s: %w", namespace, err)
		}
		return policy.ModeFor(global, ns.Labels), nil
	}
}

// Workload reads one Deployment or StatefulSet (kind is validate.KindDeployment or KindStatefulSet).
func (c CachedCluster) Workload(ctx context.Context, kind, namespace, name string) (validate.Workload, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if kind == validate.KindStatefulSet {
		s := &appsv1.StatefulSet{}
		err := c.Reader.Get(ctx, key, s)
		return validate.StatefulSetWorkload(s), err
	}
	d := &appsv1.Deployment{}
	err := c.Reader.Get(ctx, key, d)
	return validate.DeploymentWorkload(d), err
}
