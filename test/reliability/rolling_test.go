package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

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
	r := newRollout(t, serveOptions{certDir: certDir, caPEM: ca, shutdownDelay: testShutdownDelay})
	lb := r.lb

	cfg := tlsConfig(t, ca)
	load := (&loadGen{
		rate: loadRate, keepAlive: keepAliveClient(cfg, 16), fresh: freshClient(cfg), freshEvery: 10,
		target: lb.target("https://" + lb.addr() + names.PathMutatePod),
	}).start()
	r.begin()
	r.roll(0, testShutdownDelay+testClientIdle+30*time.Second)
	r.mark("the last two replicas serving; the others exited")
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, r.phases)
	sent, failed := totals(ts)
	extra := "connections per replica:"
	for _, be := range r.backends {
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
	for _, be := range r.backends {
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
	r := newRollout(t, serveOptions{certDir: certDir, caPEM: ca, shutdownDelay: testShutdownDelay,
		args: []string{"--client-idle-timeout", apiServerIdle.String()}})

	reg := registration{name: "roll", base: "https://" + r.lb.addr(), caBundle: ca,
		policy: admissionregistrationv1.Fail, timeout: 5}
	register(t, reg)
	ns := scenarioNamespace(t, "roll")
	mutatedByWebhook(t, ns)

	load := apiServerPodLoad(t, ns, "", loadRate).start()
	r.begin()
	// A replacement drains until the API server has closed its connections.
	r.roll(500*time.Millisecond, testShutdownDelay+apiServerIdle+30*time.Second)
	r.mark("all replaced replicas exited")
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, r.phases)
	sent, failed := totals(ts)
	report(t, fmt.Sprintf("%d rolling restarts of 2 replicas through kube-apiserver (failurePolicy Fail), --shutdown-delay=%s --client-idle-timeout=%s, %d pod creations/s",
		rollingRestarts, testShutdownDelay, apiServerIdle, loadRate), ts, "")
	if failed != 0 {
		t.Errorf("%d of %d pod creations failed during the rolling restarts:%s", failed, sent, firstErrors(outcomes, 5))
	}
	if elapsed := time.Since(r.phases[0].from); float64(len(outcomes)) < 0.9*float64(loadRate)*elapsed.Seconds() {
		t.Errorf("%d pod creations in %s: the load did not hold its %d/s", len(outcomes), elapsed.Round(time.Second), loadRate)
	}
}

// rollout is two replicas of serve behind a balancer, rolled as a Deployment with maxSurge 1 and maxUnavailable 0.
type rollout struct {
	t        *testing.T
	opts     serveOptions
	lb       *balancer
	backends []*lbBackend
	serving  []*serveProc
	phases   []phase
}

// newRollout starts replica-1 and replica-2 and waits until the balancer lists both.
func newRollout(t *testing.T, opts serveOptions) *rollout {
	r := &rollout{t: t, opts: opts, lb: newBalancer(t)}
	for _, name := range []string{"replica-1", "replica-2"} {
		r.serving = append(r.serving, startServe(t, name, opts))
	}
	for _, p := range r.serving {
		p.waitReady(t)
		be := r.lb.add(p)
		be.waitListed(t)
		r.backends = append(r.backends, be)
	}
	return r
}

func (r *rollout) mark(name string) { r.phases = append(r.phases, phase{name, time.Now()}) }

// begin starts the timeline, once the load runs, and lets it run for a second with both replicas serving.
func (r *rollout) begin() {
	r.mark("replica-1 and replica-2 serving")
	time.Sleep(time.Second)
}

// roll replaces each replica rollingRestarts times: a new replica, once ready and listed, replaces the oldest, which
// drains on its own (SIGTERM) while the roll goes on, pause later. Then it waits for every replaced replica to exit
// 0 within exitBound of its SIGTERM, and logs how long each took.
func (r *rollout) roll(pause, exitBound time.Duration) {
	var draining []*serveProc
	var sigterms []time.Time
	for i := range 2 * rollingRestarts {
		old := r.serving[0]
		name := fmt.Sprintf("replica-%d", i+3)
		r.mark(name + " starting (surge)")
		p := startServe(r.t, name, r.opts)
		p.waitReady(r.t)
		be := r.lb.add(p)
		be.waitListed(r.t)
		r.backends = append(r.backends, be)
		r.mark(fmt.Sprintf("%s listed; SIGTERM to %s", name, old.name))
		sigterms = append(sigterms, old.sigterm(r.t))
		draining = append(draining, old)
		r.serving = append(r.serving[1:], p)
		time.Sleep(pause)
	}
	r.mark("the last two replicas serving; the others draining")
	var waits []string
	for i, old := range draining {
		exited := old.wait(r.t, exitBound)
		waits = append(waits, fmt.Sprintf("%s %s", old.name, exited.Sub(sigterms[i]).Round(100*time.Millisecond)))
	}
	r.t.Logf("replaced replicas exited after SIGTERM in: %s", strings.Join(waits, ", "))
}
