package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

const (
	// overloadFactor is the burst's rate as a multiple of the replica's measured maximum; burstFor its length.
	overloadFactor = 3
	burstFor       = 60 * time.Second
	// webhookTimeout is the chart's timeoutSeconds: the API server abandons a call after it.
	webhookTimeout = 5 * time.Second
	// apiServersInFlight is the most calls the API servers have open to one replica: three API servers (an HA
	// control plane) at their default 600 requests in flight each (--max-requests-inflight 400 +
	// --max-mutating-requests-inflight 200), every one of them calling this replica. A burst request due while that
	// many are unanswered is not sent (the API servers would have answered 429 themselves) and is counted apart.
	apiServersInFlight = 1800
	// apiServerPodRate is the pod creations per second sent through kube-apiserver during the scenario, to measure
	// what a cluster's pod creations see.
	apiServerPodRate = 20
	// chartMemoryLimitKiB is the chart's resources.limits.memory (256Mi): above it the kubelet kills the replica.
	chartMemoryLimitKiB = 256 * 1024
)

// TestOverload: one replica under overloadFactor× its measured maximum throughput, open loop (requests keep arriving
// at the rate whatever the answers, up to the API servers' own in-flight limits), as ha-webhook's defaults
// (--max-in-flight=64, --max-in-flight-wait=1s) and, as the control, without the bound (--max-in-flight=0); for
// pods of a namespace in the cache (CPU-bound: for burstFor) and of one the cache has not seen (every request reads
// the namespace live: I/O-bound, for burstFor/3). Beside the burst, a steady quarter of the maximum measures
// latency before, during and after, pod creations go through kube-apiserver to the replica (failurePolicy Ignore,
// the chart's default), /healthz and /readyz are probed every 200 ms with the chart's probe timeouts, and the
// process's memory is sampled. With the bound, every request is answered within the webhook's timeout (admitted, or
// shed), /healthz stays 200, memory stays under the chart's limit and the steady load is back to normal within 5 s
// of the burst's end.
func TestOverload(t *testing.T) {
	certDir := t.TempDir()
	ca, err := devcert.Write(certDir, []string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	reg := registration{name: "overload", base: "https://127.0.0.1:" + strconv.Itoa(port), caBundle: ca,
		policy: admissionregistrationv1.Ignore, timeout: int32(webhookTimeout / time.Second)}
	register(t, reg)
	ns := scenarioNamespace(t, "overload")

	for _, load := range []struct {
		name, ns string
		burst    time.Duration
	}{
		{name: "pods of a namespace in the cache", ns: ns, burst: burstFor},
		// The API server never sends a pod of a namespace that does not exist; a namespace created a moment before
		// its first pod is read live the same way, for as long as the watch has not delivered it.
		{name: "pods of a namespace the cache has not seen (read live)", ns: "reliability-overload-unseen", burst: burstFor / 3},
	} {
		for _, c := range []struct {
			name    string
			args    []string
			bounded bool
		}{
			{name: "--max-in-flight=64 --max-in-flight-wait=1s (the defaults)", bounded: true},
			{name: "--max-in-flight=0 (no bound, the control)", args: []string{"--max-in-flight=0"}},
		} {
			p := serve(t, "overload", serveOptions{certDir: certDir, caPEM: ca, port: port, args: c.args})
			mutatedByWebhook(t, ns)
			r := overload(t, p, load.ns, ns, load.burst)
			r.report(t, load.name+", "+c.name)
			if c.bounded {
				r.check(t)
			}
			p.sigterm(t)
			p.wait(t, 30*time.Second)
		}
	}
}

// overloadRun is what one overload scenario measured.
type overloadRun struct {
	max                     float64 // closed-loop admissions/s before the burst
	burstLen                time.Duration
	phases                  []phase // before, burst, after
	burstEnd                time.Time
	burst, steady, viaAPI   []outcome
	capped                  int64
	rssBefore, rssMax, hwm  int64 // KiB
	healthz, readyz         *prober
	shedMetric              float64
	recovered, recoverAfter time.Duration
	recoveredOK             bool
}

// overload measures p's maximum for pods of reviewNS and runs the burst, for burstLen, against it; pod creations
// through kube-apiserver go to apiNS.
func overload(t *testing.T, p *serveProc, reviewNS, apiNS string, burstLen time.Duration) *overloadRun {
	r := &overloadRun{burstLen: burstLen}
	cfg := tlsConfig(t, p.caPEM)
	url := p.webhookURL(names.PathMutatePod)
	direct := func() (string, string, bool) { return url, p.name, true }
	// The reviews name the scenario's namespace, which the cache holds, as the API server's do: a namespace the
	// cache has not seen is read live on every request.
	admit := func(c *http.Client, url, uid string) (bool, error) { return admitHeavyPod(c, url, reviewNS, uid) }
	r.max = closedLoopMax(t, keepAliveClient(cfg, 32), admit, url, 32, 5*time.Second)
	client5s := func(idle int) *http.Client {
		c := keepAliveClient(cfg, idle)
		c.Timeout = webhookTimeout
		return c
	}

	viaAPI := apiServerPodLoad(t, apiNS, "overload-", apiServerPodRate)
	steady := &loadGen{rate: max(1, int(r.max/4)), keepAlive: client5s(256), target: direct, admit: admit, maxOutstanding: 256}
	burst := &loadGen{rate: int(r.max*overloadFactor) - steady.rate, keepAlive: client5s(apiServersInFlight),
		target: direct, admit: admit, maxOutstanding: apiServersInFlight}

	mon := monitorProcess(p)
	r.rssBefore = mon.rss()
	viaAPI.start()
	steady.start()
	r.phases = append(r.phases, phase{"before", time.Now()})
	time.Sleep(5 * time.Second)
	r.phases = append(r.phases, phase{fmt.Sprintf("burst: %d×, %d/s open loop", overloadFactor, burst.rate+steady.rate), time.Now()})
	burst.start()
	time.Sleep(burstLen)
	burst.halt()
	r.burstEnd = time.Now()
	r.phases = append(r.phases, phase{"after", r.burstEnd})
	time.Sleep(10 * time.Second)
	r.steady = steady.finish()
	r.viaAPI = viaAPI.finish()
	r.burst = burst.finish()
	r.capped = burst.capped.Load()
	mon.close()
	r.rssMax, r.hwm = mon.rssMax.Load(), mon.hwm()
	r.healthz, r.readyz = mon.healthz, mon.readyz
	r.shedMetric = metric(t, p.metricsAddr, "ha_webhook_admissions_shed_total")
	r.recovery()
	return r
}

// recovery finds when the steady load was back to normal after the burst: the send time, after the burst's end,
// of the last steady request that failed or took more than 10× the steady p99 before the burst (at least 50 ms).
func (r *overloadRun) recovery() {
	before := tallyPhases(r.steady, r.phases)[0]
	limit := 50 * time.Millisecond
	if p99 := quantile(before.took, 0.99); 10*p99 > limit {
		limit = 10 * p99
	}
	r.recoverAfter = limit
	r.recoveredOK = true
	for _, o := range r.steady {
		if o.start.Before(r.burstEnd) {
			continue
		}
		if o.err != nil || o.end.Sub(o.start) > limit {
			r.recovered = o.start.Sub(r.burstEnd)
		}
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// answerKind classifies one direct admission: admitted, shed (the bound's answer), timeout (no answer within the
// webhook timeout: the API server would have waited all of it), or another error.
func answerKind(o outcome) string {
	switch {
	case o.err == nil:
		return "admitted"
	case strings.Contains(o.err.Error(), "overloaded"):
		return "shed"
	case strings.Contains(o.err.Error(), "Client.Timeout exceeded"):
		return "timeout"
	default:
		return "error: " + errorClass(o.err)
	}
}

type kindTally struct {
	n    map[string]int
	took map[string][]time.Duration
}

func tallyKinds(outcomes []outcome, from, to time.Time) kindTally {
	k := kindTally{n: map[string]int{}, took: map[string][]time.Duration{}}
	for _, o := range outcomes {
		if o.start.Before(from) || !o.start.Before(to) {
			continue
		}
		kind := answerKind(o)
		k.n[kind]++
		k.took[kind] = append(k.took[kind], o.end.Sub(o.start))
	}
	return k
}

func (k kindTally) String() string {
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(k.n)) {
		d := k.took[kind]
		parts = append(parts, fmt.Sprintf("%s %d (p50 %s, p99 %s, max %s)", kind, k.n[kind],
			quantile(d, 0.5).Round(100*time.Microsecond), quantile(d, 0.99).Round(100*time.Microsecond), quantile(d, 1).Round(100*time.Microsecond)))
	}
	return strings.Join(parts, ", ")
}

func (r *overloadRun) phaseBounds(i int) (time.Time, time.Time) {
	to := time.Now().Add(time.Hour)
	if i+1 < len(r.phases) {
		to = r.phases[i+1].from
	}
	return r.phases[i].from, to
}

func (r *overloadRun) report(t *testing.T, name string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "FIGURES overload, %s: maximum %.0f admissions/s (closed loop, 32 clients); burst %d× for %s, open loop, at most %d unanswered (%d not sent: over that limit)\n",
		name, r.max, overloadFactor, r.burstLen, apiServersInFlight, r.capped)
	b.WriteString("| phase | burst requests | steady requests (max/4) | pod creations through kube-apiserver |\n|---|---|---|---|\n")
	for i, ph := range r.phases {
		from, to := r.phaseBounds(i)
		burst := "–"
		if i == 1 || i == 2 {
			burst = tallyKinds(r.burst, from, to).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", ph.name, burst, tallyKinds(r.steady, from, to), apiTally(r.viaAPI, from, to))
	}
	fmt.Fprintf(&b, "memory: VmRSS %d MiB before the burst, at most %d MiB (VmHWM %d MiB); ha_webhook_admissions_shed_total %.0f\n/healthz: %s; the chart's liveness probe would have restarted it: %v\n/readyz: %s; the chart's readiness probe would have unlisted it: %v\n",
		r.rssBefore/1024, r.rssMax/1024, r.hwm/1024, r.shedMetric, r.healthz, r.healthz.kubeletWouldFail(10*time.Second, 3), r.readyz, r.readyz.kubeletWouldFail(2*time.Second, 1))
	fmt.Fprintf(&b, "recovery: the last steady request failed or slower than %s was sent %s after the burst ended\n", r.recoverAfter.Round(time.Millisecond), r.recovered.Round(10*time.Millisecond))
	t.Log(b.String())
}

// apiTally summarises pod creations through kube-apiserver: created mutated, admitted unmutated (failurePolicy
// Ignore after a failed or timed-out call), failed; with the latency of all.
func apiTally(outcomes []outcome, from, to time.Time) string {
	var mutated, unmutated, failed int
	var took []time.Duration
	for _, o := range outcomes {
		if o.start.Before(from) || !o.start.Before(to) {
			continue
		}
		took = append(took, o.end.Sub(o.start))
		switch {
		case o.err == nil:
			mutated++
		case errors.Is(o.err, errUnmutated):
			unmutated++
		default:
			failed++
		}
	}
	return fmt.Sprintf("%d mutated, %d unmutated, %d failed; p50 %s, p99 %s, max %s", mutated, unmutated, failed,
		quantile(took, 0.5).Round(100*time.Microsecond), quantile(took, 0.99).Round(100*time.Microsecond), quantile(took, 1).Round(100*time.Microsecond))
}

// check asserts what the bound promises.
func (r *overloadRun) check(t *testing.T) {
	t.Helper()
	all := tallyKinds(append(append([]outcome(nil), r.burst...), r.steady...), r.phases[0].from, time.Now().Add(time.Hour))
	if n := all.n["timeout"]; n > 0 {
		t.Errorf("%d requests got no answer within the webhook timeout (%s): the API server would have waited all of it", n, webhookTimeout)
	}
	if slowest := quantile(all.took["shed"], 1); slowest > webhookTimeout {
		t.Errorf("the slowest shed answer took %s: beyond the webhook timeout (%s), where it is no use", slowest, webhookTimeout)
	}
	for kind, n := range all.n {
		if strings.HasPrefix(kind, "error") {
			t.Errorf("%d requests failed otherwise: %s", n, kind)
		}
	}
	if all.n["admitted"] == 0 {
		t.Error("nothing was admitted during the scenario")
	}
	if float64(all.n["shed"]) > r.shedMetric {
		t.Errorf("clients saw %d shed answers, ha_webhook_admissions_shed_total is %.0f", all.n["shed"], r.shedMetric)
	}
	// The probes run in this process, beside the load generator's goroutines on the same two cores, so their
	// latency includes the client's own scheduling delay; what must not happen is what the kubelet acts on: the
	// chart's liveness probe (every 10 s, 3 failures in a row) restarting the replica under load.
	if r.healthz.kubeletWouldFail(10*time.Second, 3) {
		t.Errorf("/healthz: %s; the chart's liveness probe (every 10 s, 3 failures in a row) would have restarted the replica", r.healthz)
	}
	if r.rssMax > chartMemoryLimitKiB {
		t.Errorf("VmRSS reached %d MiB (%d MiB before the burst): the chart's pod, limited to %d MiB, would be OOM-killed", r.rssMax/1024, r.rssBefore/1024, chartMemoryLimitKiB/1024)
	}
	if r.recovered > 5*time.Second {
		t.Errorf("the steady load was back to normal only %s after the burst, want within 5 s", r.recovered)
	}
	// Pod creations through the API server: none failed (failurePolicy Ignore), and all mutated once recovered.
	for _, o := range r.viaAPI {
		if o.err != nil && !errors.Is(o.err, errUnmutated) {
			t.Errorf("a pod creation through kube-apiserver failed: %v", o.err)
			break
		}
		if errors.Is(o.err, errUnmutated) && o.start.After(r.burstEnd.Add(5*time.Second)) {
			t.Errorf("a pod created %s after the burst was admitted unmutated", o.start.Sub(r.burstEnd).Round(time.Millisecond))
			break
		}
	}
}

// closedLoopMax is the admissions per second workers clients keep answered, each sending its next request when the
// last is answered, for d.
func closedLoopMax(t *testing.T, c *http.Client, admit func(c *http.Client, url, uid string) (bool, error), url string, workers int, d time.Duration) float64 {
	t.Helper()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				if _, err := admit(c, url, fmt.Sprintf("max-%d-%d", w, i)); err != nil {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Fatalf("measuring the maximum: %d admitted, %d failed", ok.Load(), failed.Load())
	}
	return float64(ok.Load()) / d.Seconds()
}

// heavyContainers is how many serving containers the overload's pod has. The load generator shares the machine's
// two cores with the replica, so each request must cost the replica far more than it costs the client, or the
// client, not the replica, is what overloads: each of these containers gets a readiness probe and a preStop hook
// (the patch is 18 KB), while the client only writes the review and checks the answer's bytes.
const heavyContainers = 24

// heavyPodReview is an AdmissionReview of a pod of ns with heavyContainers serving containers; %[1]s is the uid.
func heavyPodReview(ns string) string {
	var containers []string
	for i := range heavyContainers {
		containers = append(containers, fmt.Sprintf(`{"name":"app-%d","image":"registry.example/shop/web:1.4.2",`+
			`"ports":[{"name":"http-%d","containerPort":%d,"protocol":"TCP"}],"env":[{"name":"SHARD","value":"%d"}]}`, i, i, 8000+i, i))
	}
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%[1]s",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"` + ns + `","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-7d9f8-","labels":{"app":"web"}},` +
		`"spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":30,"containers":[` + strings.Join(containers, ",") + `]}}}}`
}

// heavyReviews caches heavyPodReview per namespace.
var heavyReviews sync.Map

// admitHeavyPod posts heavyPodReview and checks the answer cheaply, by its bytes: HTTP 200, this uid, allowed, a
// patch with the injected annotation.
func admitHeavyPod(c *http.Client, url, ns, uid string) (bool, error) {
	tmpl, ok := heavyReviews.Load(ns)
	if !ok {
		tmpl, _ = heavyReviews.LoadOrStore(ns, heavyPodReview(ns))
	}
	connClose, body, err := postReview(c, url, fmt.Sprintf(tmpl.(string), uid))
	if err != nil {
		return connClose, err
	}
	for _, want := range []string{`"uid":"` + uid + `"`, `"allowed":true`, `"patch":"`} {
		if !bytes.Contains(body, []byte(want)) {
			return connClose, fmt.Errorf("the answer lacks %s: %.200s", want, body)
		}
	}
	return connClose, nil
}

// probeEvery is how often processMonitor samples.
const probeEvery = 200 * time.Millisecond

// processMonitor samples a serve process's VmRSS and probes its /healthz and /readyz every 200 ms with the
// timeouts of the chart's liveness and readiness probes (a kubelet restarts the replica after 3 liveness failures
// in a row, and takes it out of the Service after 1 readiness failure).
type processMonitor struct {
	pid             int
	rssMax          atomic.Int64
	healthz, readyz *prober
	stop            chan struct{}
	done            sync.WaitGroup
}

// prober is one health endpoint's probes.
type prober struct {
	url                           string
	timeout                       time.Duration
	mu                            sync.Mutex
	probes, failed, run, worstRun int
	slowest                       time.Duration
	// results are the probes' outcomes in order, every 200 ms.
	results []bool
}

// kubeletWouldFail says whether a kubelet probing every period with this timeout, failing the probe after
// threshold failures in a row, would have: for every phase of its period against the 200 ms samples.
func (p *prober) kubeletWouldFail(period time.Duration, threshold int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	step := int(period / probeEvery)
	for offset := range step {
		run := 0
		for i := offset; i < len(p.results); i += step {
			if p.results[i] {
				run = 0
				continue
			}
			if run++; run >= threshold {
				return true
			}
		}
	}
	return false
}

func (p *prober) probe(hc *http.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	start := time.Now()
	resp, err := hc.Do(req)
	took := time.Since(start)
	ok := err == nil && resp.StatusCode == http.StatusOK
	if err == nil {
		resp.Body.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes++
	p.results = append(p.results, ok)
	p.slowest = max(p.slowest, took)
	if ok {
		p.run = 0
		return
	}
	p.failed++
	p.run++
	p.worstRun = max(p.worstRun, p.run)
}

func (p *prober) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d probes (timeout %s), %d failed, at most %d in a row, slowest %s", p.probes, p.timeout, p.failed, p.worstRun, p.slowest.Round(time.Millisecond))
}

func monitorProcess(p *serveProc) *processMonitor {
	m := &processMonitor{pid: p.cmd.Process.Pid, stop: make(chan struct{}),
		healthz: &prober{url: "http://" + p.healthAddr + "/healthz", timeout: 2 * time.Second},
		readyz:  &prober{url: p.readyzURL(), timeout: time.Second}}
	hc := &http.Client{}
	every := func(f func()) {
		m.done.Add(1)
		go func() {
			defer m.done.Done()
			tick := time.NewTicker(probeEvery)
			defer tick.Stop()
			for {
				select {
				case <-m.stop:
					return
				case <-tick.C:
					f()
				}
			}
		}()
	}
	every(func() {
		if v := m.rss(); v > m.rssMax.Load() {
			m.rssMax.Store(v)
		}
	})
	every(func() { m.healthz.probe(hc) })
	every(func() { m.readyz.probe(hc) })
	return m
}

func (m *processMonitor) close() { close(m.stop); m.done.Wait() }

func (m *processMonitor) rss() int64 { return procStatusKiB(m.pid, "VmRSS") }
func (m *processMonitor) hwm() int64 { return procStatusKiB(m.pid, "VmHWM") }

// procStatusKiB reads one "Name: N kB" line of /proc/PID/status (0 if absent).
func procStatusKiB(pid int, name string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
