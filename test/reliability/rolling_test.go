package reliability

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestRollingRestartBehindService: two replicas behind one address (a layer-4 balancer that follows /readyz, as a
// Service does) under ~300 admissions/s, rolled like a Deployment with maxSurge 1, maxUnavailable 0: start a new
// replica, wait until it is ready, SIGTERM an old one, wait until it has exited; twice. The client only knows the
// Service address and keeps its keep-alive connections, which the balancer pins to one replica: zero failures.
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

	for i, old := range []*serveProc{old1, old2} {
		name := fmt.Sprintf("replica-%d", i+3)
		mark(name + " starting (surge)")
		p := start(name)
		p.waitReady(t)
		be := lb.add(p)
		be.waitListed(t)
		backends = append(backends, be)
		mark(fmt.Sprintf("%s listed; SIGTERM to %s, until it exits", name, old.name))
		sig := old.sigterm(t)
		exited := old.wait(t, testShutdownDelay+30*time.Second)
		t.Logf("%s exited %s after SIGTERM", old.name, exited.Sub(sig).Round(time.Millisecond))
	}
	mark("replica-3 and replica-4 serving")
	time.Sleep(time.Second)
	outcomes := load.finish()

	ts := tallyPhases(outcomes, phases)
	sent, failed := totals(ts)
	extra := "connections per replica:"
	for _, be := range backends {
		extra += fmt.Sprintf(" %s %d,", be.name, be.conns.Load())
	}
	extra += fmt.Sprintf(" refused by the balancer (no ready replica) %d, dials to a listed replica failed %d", lb.noBackend.Load(), lb.dialFailed.Load())
	report(t, fmt.Sprintf("rolling restart of 2 replicas behind a balancer, --shutdown-delay=%s, %d/s", testShutdownDelay, loadRate), ts, extra)
	// One failure mode is inherent to HTTP/1.1 and documented in docs/reliability.md: a keep-alive connection that
	// stayed idle through the whole shutdown delay is closed by the drain, and a request written on it at that very
	// instant reads EOF (clients do not retry a POST). It was seen once in about 2,800 admissions; at most one per
	// restarted replica is tolerated and reported, anything else fails the test.
	idleRaces := 0
	for _, o := range outcomes {
		if o.err != nil && strings.HasSuffix(o.err.Error(), ": EOF") {
			idleRaces++
		}
	}
	if idleRaces > 0 {
		t.Logf("%d admission(s) hit the documented idle keep-alive race (EOF on a connection closed by the drain)", idleRaces)
	}
	if failed-min(idleRaces, 2) != 0 {
		t.Errorf("%d of %d admissions failed during the rolling restart:%s", failed, sent, firstErrors(outcomes, 5))
	}
	for _, be := range backends {
		if be.conns.Load() == 0 {
			t.Errorf("%s took no connection: the roll did not move traffic", be.name)
		}
	}
}
