package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
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
	key  string
	addr string
	// stopping is closed at SIGTERM or kill: from then on the process accepts no connection.
	stopping chan struct{}
	once     sync.Once

	mu          sync.Mutex
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
	return p.addr, true
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

// run waits for the application's start-up time, then serves GETs until SIGTERM or a kill.
func (p *podProcess) run(ctx context.Context, startDelay time.Duration, logf func(string, ...any)) {
	select {
	case <-time.After(startDelay):
	case <-p.stopping:
		return
	case <-ctx.Done():
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		logf("runtime: %s: listening on %s: %v", p.key, p.addr, err)
		return
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, p.key+"\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	p.mu.Lock()
	select {
	case <-p.stopping: // SIGTERM arrived during start-up
		p.mu.Unlock()
		l.Close()
		return
	default:
	}
	p.srv = srv
	p.listeningAt = time.Now()
	p.mu.Unlock()
	_ = srv.Serve(l) // returns at once if Shutdown or Close ran before it
}

func (p *podProcess) stop(graceful bool) {
	p.once.Do(func() {
		p.mu.Lock()
		close(p.stopping)
		srv := p.srv
		p.stoppedAt = time.Now()
		p.mu.Unlock()
		if srv == nil {
			return
		}
		if !graceful {
			_ = srv.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	})
}

// sigterm makes the process stop accepting connections and finish in-flight requests (http.Server.Shutdown).
func (p *podProcess) sigterm() { p.stop(true) }

// kill closes the listener and every connection at once.
func (p *podProcess) kill() { p.stop(false) }

// probe plays the kubelet's readiness prober: it runs the pod's probe against the process's listener every
// periodSeconds and marks the pod Ready after successThreshold successes. Probing stops once the pod is Ready or its
// process is stopping.
func (rt *Runtime) probe(ctx context.Context, pod *corev1.Pod, p *podProcess, probe *corev1.Probe) {
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	wait := time.Duration(probe.InitialDelaySeconds) * time.Second
	successes := int32(0)
	for {
		select {
		case <-time.After(wait):
		case <-p.stopping:
			return
		case <-ctx.Done():
			return
		}
		wait = period
		if !probeOnce(p.addr, probe, timeout) {
			successes = 0
			continue
		}
		if successes++; successes < max(probe.SuccessThreshold, 1) {
			continue
		}
		if err := rt.markReady(ctx, pod); err != nil {
			if ctx.Err() == nil {
				rt.logf("runtime: %s/%s: marking Ready: %v", pod.Namespace, pod.Name, err)
			}
			continue
		}
		return
	}
}

// probeOnce runs a tcpSocket or httpGet probe against addr: every port of the pod is its one listener.
func probeOnce(addr string, probe *corev1.Probe, timeout time.Duration) bool {
	switch {
	case probe.HTTPGet != nil:
		c := http.Client{Timeout: timeout}
		resp, err := c.Get("http://" + addr + probe.HTTPGet.Path)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	default:
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	}
}

// markReady sets the pod's Ready and ContainersReady conditions, as the kubelet does after a successful probe; a
// terminating pod is left alone.
func (rt *Runtime) markReady(ctx context.Context, pod *corev1.Pod) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := rt.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID || cur.DeletionTimestamp != nil {
			return nil
		}
		now := metav1.Now()
		for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			setCondition(cur, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
		for i := range cur.Status.ContainerStatuses {
			cur.Status.ContainerStatuses[i].Ready = true
		}
		_, err = rt.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

func setCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
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

// readinessProbe is the first container's readiness probe, if any.
func readinessProbe(pod *corev1.Pod) *corev1.Probe {
	for _, c := range pod.Spec.Containers {
		if c.ReadinessProbe != nil {
			return c.ReadinessProbe
		}
	}
	return nil
}

// reservePort picks a free loopback port for a process that will listen on it later.
func reservePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}
