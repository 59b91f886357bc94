package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// Labels and finalizers the drill puts on its objects.
const (
	// fleetLabel marks the drill's pods, Services (hence EndpointSlices) and namespaces.
	fleetLabel = "drill.ha-webhook.io/fleet"
	// groupLabel on a namespace: groupOptedIn or groupControl.
	groupLabel = "drill.ha-webhook.io/group"
	// poolLabel on a node and in the pods' nodeSelector: which drill run the node belongs to.
	poolLabel = "drill.ha-webhook.io/pool"
	// processFinalizer holds a deleted pod until its simulated process has exited, so the pod object cannot vanish
	// while its listener still serves (nor the listener outlive a pod that has gone).
	processFinalizer = "drill.ha-webhook.io/process"
)

// Runtime plays the container runtime for the fleet's pods: for every pod whose container kwok reports running it
// starts a "process" — a real HTTP listener on 127.0.0.1, on a random port, that starts listening AppStartDelay after
// the container started (an application's start-up time). It plays the kubelet's readiness prober for pods that
// have a readiness probe (kwok marks pods without one Ready at once, as the kubelet does). When kwok reports the
// containers of a terminating pod exited (after the preStop sleep), the process stops accepting connections, drains
// in-flight requests and exits, and the runtime removes the pod's finalizer. A pod still held when its grace period
// ends is killed, as the kubelet's SIGKILL would.
type Runtime struct {
	client        kubernetes.Interface
	appStartDelay time.Duration
	logf          func(format string, args ...any)

	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]

	mu    sync.Mutex
	procs map[types.UID]*podProcess
}

type podProcess struct {
	key string
	// stopping is closed at SIGTERM or kill: from then on the process accepts no connection.
	stopping chan struct{}
	once     sync.Once

	mu sync.Mutex
	// addr is the reserved loopback port; another one if that was taken by the time the process listens.
	addr        string
	srv         *http.Server // set once listening
	listeningAt time.Time
	stoppedAt   time.Time // SIGTERM or kill: from then on no new connection is accepted
}

// ProcessTimes is when a pod's process started listening and stopped accepting connections (zero: not yet).
type ProcessTimes struct {
	UID                    types.UID
	Namespace, Name        string
	ListeningAt, StoppedAt time.Time
}

// Processes returns the times of every process the runtime has run.
func (rt *Runtime) Processes() []ProcessTimes {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]ProcessTimes, 0, len(rt.procs))
	for uid, p := range rt.procs {
		p.mu.Lock()
		ns, name, _ := strings.Cut(p.key, "/")
		out = append(out, ProcessTimes{UID: uid, Namespace: ns, Name: name, ListeningAt: p.listeningAt, StoppedAt: p.stoppedAt})
		p.mu.Unlock()
	}
	return out
}

// NewRuntime watches the fleet's pods; call Run to start it.
func NewRuntime(client kubernetes.Interface, appStartDelay time.Duration, logf func(string, ...any)) *Runtime {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = fleetLabel }))
	rt := &Runtime{
		client:        client,
		appStartDelay: appStartDelay,
		logf:          logf,
		informer:      factory.Core().V1().Pods().Informer(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](
			20*time.Millisecond, time.Second)),
		procs: map[types.UID]*podProcess{},
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			rt.queue.Add(key)
		}
	}
	_, _ = rt.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	return rt
}

// Run processes pods until ctx ends, then kills every process.
func (rt *Runtime) Run(ctx context.Context) error {
	go rt.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), rt.informer.HasSynced) {
		return fmt.Errorf("runtime: pod informer did not sync")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for rt.next(ctx) {
			}
		})
	}
	<-ctx.Done()
	rt.queue.ShutDown()
	wg.Wait()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, p := range rt.procs {
		p.kill()
	}
	return nil
}

// Addr is where the process of the pod with this UID listens (or will listen, or listened).
func (rt *Runtime) Addr(uid types.UID) (string, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	p, ok := rt.procs[uid]
	if !ok {
		return "", false
	}
	return p.address(), true
}

// Listening reports whether the process of the pod with this UID accepts connections now.
func (rt *Runtime) Listening(uid types.UID) bool {
	rt.mu.Lock()
	p := rt.procs[uid]
	rt.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.listeningAt.IsZero() && p.stoppedAt.IsZero()
}

func (rt *Runtime) next(ctx context.Context) bool {
	key, shutdown := rt.queue.Get()
	if shutdown {
		return false
	}
	defer rt.queue.Done(key)
	if err := rt.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			rt.logf("runtime: %s: %v (retrying)", key, err)
		}
		rt.queue.AddRateLimited(key)
		return true
	}
	rt.queue.Forget(key)
	return true
}

func (rt *Runtime) sync(ctx context.Context, key string) error {
	obj, exists, err := rt.informer.GetIndexer().GetByKey(key)
	if err != nil {
		return err
	}
	if !exists {
		rt.forget(key)
		return nil
	}
	pod := obj.(*corev1.Pod)
	rt.mu.Lock()
	proc := rt.procs[pod.UID]
	if proc == nil && pod.DeletionTimestamp == nil && containerRunning(pod) {
		proc = rt.start(ctx, pod)
	}
	rt.mu.Unlock()

	if pod.DeletionTimestamp == nil {
		return nil
	}
	switch {
	case proc == nil:
		// Deleted before its container ever ran: nothing to stop.
	case containersExited(pod):
		proc.sigterm()
	case time.Now().After(pod.DeletionTimestamp.Time):
		rt.logf("runtime: %s still running at the end of its grace period: killed", key)
		proc.kill()
	default:
		// Come back when the grace period ends, in case kwok never reports the exit.
		rt.queue.AddAfter(key, time.Until(pod.DeletionTimestamp.Time)+100*time.Millisecond)
		return nil
	}
	return rt.removeFinalizer(ctx, pod)
}

// start reserves a loopback port for the pod and starts its process; rt.mu is held.
func (rt *Runtime) start(ctx context.Context, pod *corev1.Pod) *podProcess {
	key := pod.Namespace + "/" + pod.Name
	addr, err := reservePort()
	if err != nil {
		rt.logf("runtime: %s: %v", key, err)
		addr = "127.0.0.1:1" // nothing listens there: requests fail, as they would to a broken pod
	}
	p := &podProcess{key: key, addr: addr, stopping: make(chan struct{})}
	rt.procs[pod.UID] = p
	go p.run(ctx, rt.appStartDelay, rt.logf)
	if probe := readinessProbe(pod); probe != nil {
		go rt.probe(ctx, pod, p, probe)
	}
	return p
}

// forget kills the process of a pod that is gone from the API. Its address stays known, so a proxy that still routes
// to it dials a closed port, as it would in a cluster.
func (rt *Runtime) forget(key string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, p := range rt.procs {
		if p.key == key {
			p.kill()
		}
	}
}

// removeFinalizer lets the pod go once its process has exited.
func (rt *Runtime) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if !slices.Contains(pod.Finalizers, processFinalizer) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := rt.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID || !slices.Contains(cur.Finalizers, processFinalizer) {
			return nil
		}
		cur.Finalizers = slices.DeleteFunc(cur.Finalizers, func(f string) bool { return f == processFinalizer })
		_, err = rt.client.CoreV1().Pods(pod.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func containerRunning(pod *corev1.Pod) bool {
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Running != nil {
			return true
		}
	}
	return false
}

func containersExited(pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.State.Terminated == nil {
			return false
		}
	}
	return true
}
