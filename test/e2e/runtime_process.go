package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// run waits for the application's start-up time, then serves GETs until SIGTERM or a kill.
func (p *podProcess) run(ctx context.Context, startDelay time.Duration, logf func(string, ...any)) {
	select {
	case <-time.After(startDelay):
	case <-p.stopping:
		return
	case <-ctx.Done():
		return
	}
	l, err := p.listen()
	if err != nil {
		logf("runtime: %s: %v", p.key, err)
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

func (p *podProcess) address() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// listen listens on the reserved port. Between its reservation and now (the start-up delay) the port may have
// become a client connection's ephemeral port: then it listens on a new one, which the proxy dials from then on (it
// asks the runtime for the address at every request, as Kong would learn a pod's new address).
func (p *podProcess) listen() (net.Listener, error) {
	addr := p.address()
	for range 5 {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l, nil
		}
		if addr, err = reservePort(); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.addr = addr
		p.mu.Unlock()
	}
	return nil, fmt.Errorf("no free loopback port to listen on")
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
		if !probeOnce(p.address(), probe, timeout) {
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
