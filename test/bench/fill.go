package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// fillResult is how the cluster was filled for validate_10k.
type fillResult struct {
	Namespaces int `json:"namespaces"`
	PDBs       int `json:"pdbs"`
	HPAs       int `json:"hpas"`
	// Workloads are Deployments and StatefulSets (every fifth), one per PDB and HPA.
	Workloads    int `json:"workloads"`
	Deployments  int `json:"deployments"`
	StatefulSets int `json:"statefulsets"`
	// DeploymentBytes and StatefulSetBytes are the JSON size of one workload as the API server stores it
	// (managedFields included), LastAppliedBytes the size of its kubectl last-applied-configuration annotation.
	DeploymentBytes  int     `json:"deployment_bytes"`
	StatefulSetBytes int     `json:"statefulset_bytes"`
	LastAppliedBytes int     `json:"last_applied_bytes"`
	Workers          int     `json:"workers"`
	Seconds          float64 `json:"seconds"`
	ObjectsPerSecond float64 `json:"objects_per_s"`
	// CacheLagSeconds is how long after the last create ha-webhook's informer cache held every object.
	CacheLagSeconds float64 `json:"cache_lag_seconds"`
	// SettleSeconds is how long settle then waited for the control plane and this process to stay idle.
	SettleSeconds float64 `json:"settle_seconds"`
	// Services: one per workload (ClusterIP for a Deployment, headless for a StatefulSet), selecting its pods;
	// ServiceBytes the JSON size of a Deployment's as stored.
	Services     int `json:"services"`
	ServiceBytes int `json:"service_bytes"`

	// Pods are created after the rest (and after the memory without them was measured): one per app, owned by a
	// ReplicaSet of one of the namespace's Deployments, then given a running status; PodsUninjected of them went
	// through no mutation. PodBytes is the mean JSON size of a pod with its status, as stored (managedFields
	// included). PodsSeconds is the time to create them and write their status (PodWritesPerSecond: both writes
	// counted), PodsSettleSeconds the time the control plane then took to go idle.
	Pods               int     `json:"pods"`
	PodsUninjected     int     `json:"pods_uninjected"`
	PodBytes           int     `json:"pod_bytes"`
	PodsSeconds        float64 `json:"pods_seconds"`
	PodWritesPerSecond float64 `json:"pod_writes_per_s"`
	PodsSettleSeconds  float64 `json:"pods_settle_seconds"`
}

// fillClient is a clientset for the fill: protobuf, no client-side rate limit.
func (b *bench) fillClient() (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(b.env.Config)
	cfg.QPS, cfg.Burst = 1e6, 1e6
	cfg.ContentType = runtime.ContentTypeProtobuf
	return kubernetes.NewForConfig(cfg)
}

// fill creates o.namespaces opted-in namespaces holding o.perNamespace apps each — a PDB, an HPA, a workload and a
// Service per app (filledKind: mostly Deployments, every fifth a StatefulSet), the PDB and the Service selecting the
// workload's pods and the HPA scaling it — through the real API server (concurrent creates, protobuf, no
// client-side rate limit), then waits until ha-webhook's informer cache holds the PDBs, HPAs and workloads. The pods
// come later (fillPods).
func (b *bench) fill(ctx context.Context) (*fillResult, error) {
	cs, err := b.fillClient()
	if err != nil {
		return nil, err
	}
	o := b.o
	n := o.namespaces * o.perNamespace
	res := &fillResult{Namespaces: o.namespaces, PDBs: n, HPAs: n, Workloads: n, Services: n, Workers: o.fillWorkers}
	for i := range n {
		if filledKind(i%o.perNamespace, o.perNamespace) == validate.KindStatefulSet {
			res.StatefulSets++
		} else {
			res.Deployments++
		}
	}
	var sizes sync.Mutex
	size := func(dst *int, obj any) { // the first one created of its kind
		sizes.Lock()
		defer sizes.Unlock()
		if *dst == 0 {
			if s, ok := obj.(string); ok {
				*dst = len(s)
			} else {
				raw, _ := json.Marshal(obj)
				*dst = len(raw)
			}
		}
	}
	start := time.Now()

	if err := parallel(ctx, o.fillWorkers, o.namespaces, func(ctx context.Context, i int) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, namespaceObject(filledNamespace(i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, err
	}
	if _, err := cs.NetworkingV1().ServiceCIDRs().Create(ctx, serviceCIDR(), metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("a Service CIDR for the fill's %d ClusterIP Services: %w", res.Deployments, err)
	}
	// Interleave PDBs, HPAs, workloads and Services so that every informer fills at once.
	create := metav1.CreateOptions{FieldManager: fieldManagerApply}
	const kinds = 4
	if err := parallel(ctx, o.fillWorkers, kinds*n, func(ctx context.Context, j int) error {
		i := j / kinds
		ns, app := filledNamespace(i/o.perNamespace), appName(i%o.perNamespace)
		kind := filledKind(i%o.perNamespace, o.perNamespace)
		var err error
		switch j % kinds {
		case 0:
			_, err = cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdbFor(ns, app), create)
		case 1:
			_, err = cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpaFor(ns, app, kind), create)
		case 2:
			var s *corev1.Service
			if s, err = cs.CoreV1().Services(ns).Create(ctx, filledService(ns, app, kind), create); err == nil && kind == validate.KindDeployment {
				size(&res.ServiceBytes, s)
			}
		default:
			if kind == validate.KindStatefulSet {
				var s *appsv1.StatefulSet
				if s, err = cs.AppsV1().StatefulSets(ns).Create(ctx, filledStatefulSet(ns, app), create); err == nil {
					size(&res.StatefulSetBytes, s)
				}
			} else {
				var d *appsv1.Deployment
				if d, err = cs.AppsV1().Deployments(ns).Create(ctx, filledDeployment(ns, app), create); err == nil {
					size(&res.DeploymentBytes, d)
					size(&res.LastAppliedBytes, d.Annotations[annotationLastApplied])
				}
			}
		}
		return err
	}); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.ObjectsPerSecond = float64(o.namespaces+res.PDBs+res.HPAs+res.Workloads+res.Services) / res.Seconds

	created := time.Now()
	deadline := created.Add(2 * time.Minute)
	for {
		held, err := b.cached(ctx)
		if err != nil {
			return nil, err
		}
		want := [4]int{res.PDBs, res.HPAs, res.Deployments, res.StatefulSets}
		done := true
		for k := range held {
			done = done && held[k] >= want[k]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("after 2 minutes ha-webhook's cache holds %d PDBs, %d HPAs, %d Deployments and %d StatefulSets of %d, %d, %d, %d",
				held[0], held[1], held[2], held[3], want[0], want[1], want[2], want[3])
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.CacheLagSeconds = time.Since(created).Seconds()
	return res, nil
}

// fillPods creates one pod per app of every filled namespace — the namespace's Deployments in turn own them, through
// a ReplicaSet each (filledPod) — and writes each one's running status (runningStatus), with the fill's workers.
// Every uninjectedEvery-th pod is uninjected. The pods are created directly, as ha-webhook would have left them:
// no mutating webhook is registered while the fill runs (checked first), so none of these creates reaches
// ha-webhook or the null webhooks, and the fill costs the webhook processes nothing.
func (b *bench) fillPods(ctx context.Context, res *fillResult) error {
	var hooks admissionregistrationv1.MutatingWebhookConfigurationList
	if err := b.env.Client.List(ctx, &hooks); err != nil {
		return err
	}
	if len(hooks.Items) > 0 {
		return fmt.Errorf("a mutating webhook (%s) is registered while the fill creates pods", hooks.Items[0].Name)
	}
	cs, err := b.fillClient()
	if err != nil {
		return err
	}
	o := b.o
	deployments := podDeployments(o.perNamespace)
	if len(deployments) == 0 {
		return fmt.Errorf("no Deployment in a filled namespace of %d apps to own pods", o.perNamespace)
	}
	n := o.namespaces * o.perNamespace
	for i := range n {
		if i%uninjectedEvery == uninjectedEvery-1 {
			res.PodsUninjected++
		}
	}
	res.Pods = n
	var podBytes atomic.Int64
	start := time.Now()
	err = parallel(ctx, o.fillWorkers, n, func(ctx context.Context, i int) error {
		ns, k := filledNamespace(i/o.perNamespace), i%o.perNamespace
		appIndex := deployments[k%len(deployments)]
		injected := i%uninjectedEvery != uninjectedEvery-1
		// As the ReplicaSet controller writes a pod, then the kubelet its status.
		p, err := cs.CoreV1().Pods(ns).Create(ctx, filledPod(ns, appName(appIndex), appIndex, k/len(deployments), injected),
			metav1.CreateOptions{FieldManager: "kube-controller-manager"})
		if err != nil {
			return err
		}
		p.Status = runningStatus(p, i)
		if p, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
			return err
		}
		raw, _ := json.Marshal(p)
		podBytes.Add(int64(len(raw)))
		return nil
	})
	if err != nil {
		return err
	}
	res.PodsSeconds = time.Since(start).Seconds()
	res.PodBytes = int(podBytes.Load()) / n
	res.PodWritesPerSecond = float64(2*n) / res.PodsSeconds
	return nil
}

// cached counts the PDBs, HPAs, Deployments and StatefulSets in the in-process server's informer cache.
func (b *bench) cached(ctx context.Context) ([4]int, error) {
	var pdbs policyv1.PodDisruptionBudgetList
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	var deployments appsv1.DeploymentList
	var statefulSets appsv1.StatefulSetList
	r := b.srv.CacheReader()
	for _, l := range []client.ObjectList{&pdbs, &hpas, &deployments, &statefulSets} {
		if err := r.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return [4]int{}, err
		}
	}
	return [4]int{len(pdbs.Items), len(hpas.Items), len(deployments.Items), len(statefulSets.Items)}, nil
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
