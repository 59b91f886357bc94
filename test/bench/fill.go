package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fillResult is how the cluster was filled for validate_10k.
type fillResult struct {
	Namespaces       int     `json:"namespaces"`
	PDBs             int     `json:"pdbs"`
	HPAs             int     `json:"hpas"`
	Workers          int     `json:"workers"`
	Seconds          float64 `json:"seconds"`
	ObjectsPerSecond float64 `json:"objects_per_s"`
	// CacheLagSeconds is how long after the last create ha-webhook's informer cache held every object.
	CacheLagSeconds float64 `json:"cache_lag_seconds"`
	// SettleSeconds is how long the control plane then took to go idle before validate_10k was measured.
	SettleSeconds float64 `json:"settle_seconds"`
}

// fill creates o.namespaces opted-in namespaces holding o.perNamespace PDBs and as many HPAs each, through the
// real API server (concurrent creates, protobuf, no client-side rate limit), then waits until ha-webhook's informer
// cache holds all of them.
func (b *bench) fill(ctx context.Context) (*fillResult, error) {
	cfg := rest.CopyConfig(b.env.Config)
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.ContentType = runtime.ContentTypeProtobuf
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	o := b.o
	res := &fillResult{Namespaces: o.namespaces, PDBs: o.namespaces * o.perNamespace, HPAs: o.namespaces * o.perNamespace, Workers: o.fillWorkers}
	start := time.Now()

	if err := parallel(ctx, o.fillWorkers, o.namespaces, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, namespaceObject(filledNamespace(i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, err
	}
	// Interleave PDBs and HPAs so both informers fill at once.
	if err := parallel(ctx, o.fillWorkers, 2*res.PDBs, func(ctx context.Context, j int) error {
		i := j / 2
		ns, app := filledNamespace(i/o.perNamespace), appName(i%o.perNamespace)
		var err error
		if j%2 == 0 {
			_, err = cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdbFor(ns, app), metav1.CreateOptions{})
		} else {
			_, err = cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpaFor(ns, app), metav1.CreateOptions{})
		}
		return err
	}); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.ObjectsPerSecond = float64(o.namespaces+res.PDBs+res.HPAs) / res.Seconds

	created := time.Now()
	deadline := created.Add(2 * time.Minute)
	for {
		var pdbs policyv1.PodDisruptionBudgetList
		var hpas autoscalingv2.HorizontalPodAutoscalerList
		r := b.srv.CacheReader()
		if err := r.List(ctx, &pdbs, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		if err := r.List(ctx, &hpas, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		if len(pdbs.Items) >= res.PDBs && len(hpas.Items) >= res.HPAs {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("ha-webhook's cache holds %d PDBs and %d HPAs of %d after 2 minutes", len(pdbs.Items), len(hpas.Items), res.PDBs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.CacheLagSeconds = time.Since(created).Seconds()
	return res, nil
}

// parallel calls f(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
