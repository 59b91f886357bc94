package audit

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/report"
)

// readCache returns the cache's own objects of every kind the report reads, all namespaces (report.BuildObjects
// keeps those in scope). It reads the informers' stores directly: a cache List would copy each object into a new
// list (tens of megabytes per audit at 10,000 pods, which the garbage collector's headroom then multiplies).
func readCache(ctx context.Context, c cache.Cache) (report.Objects, error) {
	var out report.Objects
	var err error
	if out.Namespaces, err = stored[*corev1.Namespace](ctx, c, &corev1.Namespace{}); err != nil {
		return out, err
	}
	if out.Deployments, err = stored[*appsv1.Deployment](ctx, c, &appsv1.Deployment{}); err != nil {
		return out, err
	}
	if out.StatefulSets, err = stored[*appsv1.StatefulSet](ctx, c, &appsv1.StatefulSet{}); err != nil {
		return out, err
	}
	if out.Pods, err = stored[*corev1.Pod](ctx, c, &corev1.Pod{}); err != nil {
		return out, err
	}
	if out.PDBs, err = stored[*policyv1.PodDisruptionBudget](ctx, c, &policyv1.PodDisruptionBudget{}); err != nil {
		return out, err
	}
	if out.HPAs, err = stored[*autoscalingv2.HorizontalPodAutoscaler](ctx, c, &autoscalingv2.HorizontalPodAutoscaler{}); err != nil {
		return out, err
	}
	out.Services, err = stored[*corev1.Service](ctx, c, &corev1.Service{})
	return out, err
}

// stored lists the objects in the store of obj's informer.
func stored[T client.Object](ctx context.Context, c cache.Cache, obj client.Object) ([]T, error) {
	inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
	}
	indexed, ok := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !ok {
		return nil, fmt.Errorf("the informer of %T has no store (%T)", obj, inf)
	}
	items := indexed.GetIndexer().List()
	out := make([]T, 0, len(items))
	for _, item := range items {
		if o, ok := item.(T); ok {
			out = append(out, o)
		}
	}
	return out, nil
}
