package reliability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestRollingRestartBehindService: two replicas behind one address (a layer-4 balancer that follows /readyz, as a
// Service does) under ~300 admissions/s, rolled like a Deployment with maxSurge 1, maxUnavailable 0: start a new
// replica, wait until it is ready, SIGTERM the oldest; rollingRestarts times for each of the two. The client only knows the
// Service address and keeps its keep-alive connections, which the balancer pins to one replica: zero failures.
// rollingRestarts is how many times each of the two replicas is replaced.
const rollingRestarts = 10

func TestRollingRestartBehindService(t *testing.T) {
	certDir := t.TempDir()
	ca, err := devcert.Write(certDir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	opts := serveOptions{certDir: certDir, caPEM: ca, shutdownDelay: testShutdownDelay}
	start := func(name string) *serveProc { return startServe(t, name, opts) }

	lb := newBalancer(t)
	old1, old2 := start("replica-1"), start("replica-2")
	old1.waitReady(t)
	old2.waitReady(t)
	backends := []*lbBackend{lb.add(old1), lb.add(old2)}
	backends[0].waitListed(t)
	backends[1].waitListed(t)

	cfg := tlsConfig(t, ca)
	load := (&loadGen{
		rate: loadRate, keepAlive: keepAliveClient(cfg, 16), fresh: freshClient(cfg), freshEvery: 10,
		target: lb.target("https://" + lb.addr() + names.PathMutatePod),
	}).start()
	phases := []phase{{"replica-1 and replica-2 serving", time.Now()}}
	mark := func(name string) { phases = append(phases, phase{name, time.Now()}) }
	time.Sleep(time.Second)

	// rollingRestarts restarts of both replicas, as a Deployment with maxSurge 1 and maxUnavailable 0 rolls: a new
	// replica, once ready and listed, replaces the oldest, which drains on its own while the roll goes on.
	serving := []*serveProc{old1, old2}
	var draining []*serveProc
	var sigterms []time.Time
	for i := range 2 * rollingRestarts {
		old := serving[0]
		name := fmt.Sprintf("replica-%d", i+3)
		mark(name + " starting (surge)")
		p := start(name)
		p.waitReady(t)
		be := lb.add(p)
		be.waitListed(t)
		backends = append(backends, be)
		mark(fmt.Sprintf("%s listed; SIGTERM to %s", name, old.name))
		sigterms = append(sigterms, old.sigterm(t))
		draining = append(draining, old)
		serving = append(serving[1:], p)
	}
	mark("the last two replicas serving; the others draining")
	for i, old := range draining {
		exited := old.wait(t, testShutdownDelay+testClientIdle+30*time.Second)
		t.Logf("%s exited %s after SIGTERM", old.name, exited.Sub(sigterms[i]).Round(time.Millisecond))
	}
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, phases)
	sent, failed := totals(ts)
	extra := "connections per replica:"
	for _, be := range backends {
		extra += fmt.Sprintf(" %s %d,", be.name, be.conns.Load())
	}
	extra += fmt.Sprintf(" refused by the balancer (no ready replica) %d, dials to a listed replica failed %d", lb.noBackend.Load(), lb.dialFailed.Load())
	report(t, fmt.Sprintf("%d rolling restarts of 2 replicas behind a balancer, --shutdown-delay=%s --client-idle-timeout=%s, %d/s", rollingRestarts, testShutdownDelay, testClientIdle, loadRate), ts, extra)
	// No tolerance: the server never closes a connection under a client (it waits, after the shutdown delay, for the
	// clients to close their idle ones), so a request written on a keep-alive connection to a draining replica is
	// answered, with "Connection: close".
	if failed != 0 {
		t.Errorf("%d of %d admissions failed during the rolling restart:%s", failed, sent, firstErrors(outcomes, 5))
	}
	for _, be := range backends {
		if be.conns.Load() == 0 {
			t.Errorf("%s took no connection: the roll did not move traffic", be.name)
		}
	}
}

// TestRollingRestartThroughTheAPIServer: the same roll, with the real kube-apiserver as the client — its webhook
// client, its connection pool and its idle timeout (90 s), failurePolicy Fail so that every failed call is a failed
// pod creation — under 300 pod creations/s (server-side dry run: admitted through the webhooks, not stored).
// --client-idle-timeout=90s is the API server's idle timeout: a replacement drains until the API server has closed
// its connections, at most 95 s, while the roll goes on.
func TestRollingRestartThroughTheAPIServer(t *testing.T) {
	certDir := t.TempDir()
	ca, err := devcert.Write(certDir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const apiServerIdle = 90 * time.Second
	opts := serveOptions{certDir: certDir, caPEM: ca, shutdownDelay: testShutdownDelay,
		args: []string{"--client-idle-timeout", apiServerIdle.String()}}
	start := func(name string) *serveProc { return startServe(t, name, opts) }
	lb := newBalancer(t)
	old1, old2 := start("replica-1"), start("replica-2")
	old1.waitReady(t)
	old2.waitReady(t)
	backends := []*lbBackend{lb.add(old1), lb.add(old2)}
	backends[0].waitListed(t)
	backends[1].waitListed(t)

	reg := registration{name: "roll", base: "https://" + lb.addr(), caBundle: ca,
		policy: admissionregistrationv1.Fail, timeout: 5}
	register(t, reg)
	ns := scenarioNamespace(t, "roll")
	mutatedByWebhook(t, ns)

	// The load's own client: no client-side rate limit (the default is 5/s).
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	load := (&loadGen{
		rate:   loadRate,
		target: func() (string, string, bool) { return "", "kube-apiserver", true },
		admit: func(_ *http.Client, _, uid string) (bool, error) {
			pod := servingPod(ns, uid)
			if err := c.Create(context.Background(), pod, client.DryRunAll); err != nil {
				return false, err
			}
			if pod.Annotations[names.AnnotationInjected] == "" {
				return false, errors.New("admitted without mutation")
			}
			return false, nil
		},
	}).start()
	phases := []phase{{"replica-1 and replica-2 serving", time.Now()}}
	mark := func(name string) { phases = append(phases, phase{name, time.Now()}) }
	time.Sleep(time.Second)

	serving := []*serveProc{old1, old2}
	var draining []*serveProc
	var sigterms []time.Time
	for i := range 2 * rollingRestarts {
		old := serving[0]
		name := fmt.Sprintf("replica-%d", i+3)
		mark(name + " starting (surge)")
		p := start(name)
		p.waitReady(t)
		be := lb.add(p)
		be.waitListed(t)
		backends = append(backends, be)
		mark(fmt.Sprintf("%s listed; SIGTERM to %s", name, old.name))
		sigterms = append(sigterms, old.sigterm(t))
		draining = append(draining, old)
		serving = append(serving[1:], p)
		time.Sleep(500 * time.Millisecond)
	}
	mark("the last two replicas serving; the others draining until the API server has closed their connections")
	var waits []string
	for i, old := range draining {
		exited := old.wait(t, testShutdownDelay+apiServerIdle+30*time.Second)
		waits = append(waits, exited.Sub(sigterms[i]).Round(100*time.Millisecond).String())
	}
	t.Logf("replicas exited after SIGTERM in: %s", strings.Join(waits, ", "))
	mark("all replaced replicas exited")
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, phases)
	sent, failed := totals(ts)
	report(t, fmt.Sprintf("%d rolling restarts of 2 replicas through kube-apiserver (failurePolicy Fail), --shutdown-delay=%s --client-idle-timeout=%s, %d pod creations/s",
		rollingRestarts, testShutdownDelay, apiServerIdle, loadRate), ts, "")
	if failed != 0 {
		t.Errorf("%d of %d pod creations failed during the rolling restarts:%s", failed, sent, firstErrors(outcomes, 5))
	}
	if elapsed := time.Since(phases[0].from); float64(len(outcomes)) < 0.9*float64(loadRate)*elapsed.Seconds() {
		t.Errorf("%d pod creations in %s: the load did not hold its %d/s", len(outcomes), elapsed.Round(time.Second), loadRate)
	}
}
