package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/server"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// pathNull is where the null webhook is served, on ha-webhook's own webhook server; pathNullPatch the null webhook
// that answers with ha-webhook's own patch for the benchmark pod (child.go).
const (
	pathNull      = "/bench-null"
	pathNullPatch = "/bench-null-patch"
)

// Namespaces of the cases that do not use the fill.
const (
	nsMutate = "bench-mutate"
	// nsValidate is in audit mode: the rules run and find what they find, the answer is a warning. nsValidateDeny is
	// enforced: the same Deployment is denied, and a denial is confirmed by reading the namespace live.
	nsValidate     = "bench-validate"
	nsValidateDeny = "bench-validate-deny"
	nsAPI          = "bench-api"
)

// validateApp is the Deployment of the validate cases; in a filled namespace one PDB selects it and one HPA targets it.
func validateApp(perNamespace int) string { return appName(perNamespace / 2) }

// warmConnections are opened to each case's endpoint before it is measured.
const warmConnections = 128

// size64k is the size of the big pod's JSON.
const size64k = 64 << 10

// bench is one run: the control plane, ha-webhook serving in this process (with the null webhook beside it) for the
// webhook cases, and the targets the load goes to.
type bench struct {
	o       options
	p       progress
	env     *testenv.Env
	srv     *server.Server
	base    string
	tlsConf *tls.Config
	targets map[string]*target
	// quiet is how long the control plane and this process must stay idle for settle: longer than the in-process
	// server's audit debounce, so that the audit a fill triggers has run.
	quiet time.Duration
	// nullPatch is ha-webhook's own patch for the pod the clients create through the API server, which the patching
	// null webhook answers with (haWebhookPatch).
	nullPatch []byte
}

// run performs the whole benchmark. samples holds the open-loop latencies per case, for the plot.
func run(ctx context.Context, o options, log io.Writer) (*report, map[string]sample, error) {
	o = o.withRSSRuns()
	b := &bench{o: o, p: progress{w: log, start: time.Now()}, targets: map[string]*target{}}
	rep := &report{Machine: machine(), Config: configOf(o)}
	samples := map[string]sample{}

	var bins binaries
	if o.rss || (o.phases["api_10k"] || o.phases["ready_10k"]) && o.phases["fill"] {
		dir, err := os.MkdirTemp("", "ha-webhook-bench-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(dir)
		if bins, rep.Baseline, err = buildBinaries(ctx, o, dir, b.p); err != nil {
			return nil, nil, err
		}
	}

	b.p.printf("starting kube-apiserver and etcd")
	env, err := testenv.Start()
	if err != nil {
		return nil, nil, err
	}
	defer env.Stop()
	b.env = env
	for _, ns := range []string{nsMutate, nsValidate, nsValidateDeny, nsAPI} {
		obj := namespaceObject(ns)
		if ns == nsValidate {
			obj.Labels[names.LabelMode] = string(policy.ModeAudit)
		}
		if err := env.Client.Create(ctx, obj); client.IgnoreAlreadyExists(err) != nil {
			return nil, nil, err
		}
	}

	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	done, err := b.startServer(srvCtx)
	if err != nil {
		return nil, nil, err
	}
	defer func() { stopServer(); <-done }()
	b.defineTargets()
	if o.phases["api"] || o.phases["api_10k"] && o.phases["fill"] {
		if b.nullPatch, err = b.haWebhookPatch(ctx); err != nil {
			return nil, nil, err
		}
		b.p.printf("ha-webhook's patch for the benchmark pod (the patching null webhook's answer): %d bytes", len(b.nullPatch))
	}

	b.p.printf("allocations of the pure functions and handlers")
	rep.Allocs = measureAllocs(o.perNamespace)

	// Phase A: empty cluster.
	phaseA := map[string]*measured{}
	if o.phases["webhook"] {
		b.p.printf("webhook cases on an empty cluster: null, mutate, mutate_64k, validate, validate_deny")
		phaseA = b.measure(ctx, "null", "mutate", "mutate_64k", "validate", "validate_deny")
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}

	if o.phases["api"] {
		b.p.printf("pod creation through the API server: %d clients, %d round(s) × %d modes", o.apiClients, o.apiRounds, len(apiModes))
		api, apiSamples, err := b.apiServer(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("API server phase: %w", err)
		}
		rep.APIServer = api
		for k, v := range apiSamples {
			samples["apiserver_"+k] = v
		}
	}

	if o.rss {
		b.p.printf("resident memory of a separate ha-webhook serve, empty cluster")
		warm := []*target{b.targets["validate"], b.targets["mutate"]}
		if rep.RSSBaselineMiB, _, err = b.measureRSS(ctx, bins.current, warm); err != nil {
			return nil, nil, err
		}
		if bins.baseline != "" {
			if rep.Baseline.RSSEmptyMiB, _, err = b.measureRSS(ctx, bins.baseline, warm); err != nil {
				return nil, nil, fmt.Errorf("the baseline: %w", err)
			}
			b.p.printf("  current %.1f MiB, baseline %.1f MiB", rep.RSSBaselineMiB, rep.Baseline.RSSEmptyMiB)
		}
	}

	phaseB := map[string]*measured{}
	if o.phases["fill"] {
		b.p.printf("filling %d namespaces with %d PDBs, %d HPAs, %d workloads and %d Services each", o.namespaces, o.perNamespace,
			o.perNamespace, o.perNamespace, o.perNamespace)
		if rep.Fill, err = b.fill(ctx); err != nil {
			return nil, nil, fmt.Errorf("fill: %w", err)
		}
		b.p.printf("filled in %.1fs (%.0f objects/s), ha-webhook's cache held them %.1fs later",
			rep.Fill.Seconds, rep.Fill.ObjectsPerSecond, rep.Fill.CacheLagSeconds)

		// The API server and etcd keep working for a while after thousands of writes; measuring then would charge
		// their load to what is measured next.
		settled := b.settle(ctx, time.Minute)
		b.p.printf("settled (control plane and in-process server idle for %s) after %.1fs", max(b.quiet, time.Second), settled.Seconds())
		rep.Fill.SettleSeconds = settled.Seconds()

		// The memory without pods, so that what 10,000 pods cost is the difference to the memory with them, both
		// measured in this run on fresh processes.
		if o.rss {
			b.p.printf("resident memory of a separate ha-webhook serve, the fill cached without pods, %d run(s)", o.rssRuns)
			cur, _, err := b.rssRuns(ctx, binaries{current: bins.current}, b.rssWarm())
			if err != nil {
				return nil, nil, err
			}
			rep.RSSNoPodsRunsMiB, rep.RSSNoPodsMiB = cur.rss, median(cur.rss)
		}

		b.p.printf("filling %d pods (%d namespaces × %d), each created then given a running status", o.namespaces*o.perNamespace,
			o.namespaces, o.perNamespace)
		if err := b.fillPods(ctx, rep.Fill); err != nil {
			return nil, nil, fmt.Errorf("fill: pods: %w", err)
		}
		b.p.printf("pods filled in %.1fs (%.0f writes/s)", rep.Fill.PodsSeconds, rep.Fill.PodWritesPerSecond)
		settled = b.settle(ctx, time.Minute)
		b.p.printf("settled (control plane and in-process server idle for %s) after %.1fs", max(b.quiet, time.Second), settled.Seconds())
		rep.Fill.PodsSettleSeconds = settled.Seconds()

		// Phase B: the full fill in the cluster (10k PDBs, HPAs, workloads, Services and pods); null again as this
		// phase's reference.
		b.p.printf("webhook cases with the cluster filled: null_10k, validate_10k, validate_pdb_10k")
		phaseB = b.measure(ctx, "null_10k", "validate_10k", "validate_pdb_10k")
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}

	if o.rss && o.phases["fill"] {
		b.p.printf("resident memory of a separate ha-webhook serve, %d PDBs + %d HPAs + %d workloads + %d Services + %d pods cached, %d run(s)",
			rep.Fill.PDBs, rep.Fill.HPAs, rep.Fill.Workloads, rep.Fill.Services, rep.Fill.Pods, o.rssRuns)
		cur, base, err := b.rssRuns(ctx, bins, b.rssWarm())
		if err != nil {
			return nil, nil, err
		}
		rep.RSSRunsMiB, rep.RSSPeakRunsMiB = cur.rss, cur.hwm
		rep.RSSMiB, rep.RSSPeakMiB = median(cur.rss), median(cur.hwm)
		if rep.Fill.Pods > 0 {
			rep.RSSPodsMiB = rep.RSSMiB - rep.RSSNoPodsMiB
			rep.RSSPer10kPodsMiB = rep.RSSPodsMiB * 10000 / float64(rep.Fill.Pods)
		}
		if bl := rep.Baseline; bl != nil {
			bl.RSSRunsMiB, bl.RSSPeakRunsMiB = base.rss, base.hwm
			bl.RSSMiB, bl.RSSPeakMiB = median(base.rss), median(base.hwm)
			bl.RSSRatio, bl.RSSPeakRatio = ratio(rep.RSSMiB, bl.RSSMiB), ratio(rep.RSSPeakMiB, bl.RSSPeakMiB)
			bl.RSSEmptyRatio = ratio(rep.RSSBaselineMiB, bl.RSSEmptyMiB)
		}
	}

	if o.phases["ready_10k"] && o.phases["fill"] {
		b.p.printf("time to ready of a fresh ha-webhook serve with the fill in the cluster, %d run(s)", o.readyRuns)
		if rep.Ready10k, err = b.timeToReady(ctx, bins.current); err != nil {
			return nil, nil, fmt.Errorf("ready_10k: %w", err)
		}
	}

	if o.phases["api_10k"] && o.phases["fill"] {
		b.p.printf("pod creation through the API server with the fill cached, ha-webhook as a separate process: %d clients, %d round(s)",
			o.apiClients, o.apiRounds)
		if rep.APIServer10k, err = b.apiServerFilled(ctx, bins); err != nil {
			return nil, nil, fmt.Errorf("API server phase with the fill: %w", err)
		}
	}

	if o.cpuProfile != "" {
		if err := b.profile(ctx); err != nil {
			return nil, nil, err
		}
	}

	for name, m := range mergeMaps(phaseA, phaseB) {
		rep.setCase(name, m.result(b.rateOf(name), o.conc, len(b.targets[name].body)))
		samples[name] = m.open
	}
	rep.Targets = evaluateTargets(rep)
	rep.Machine["loadavg_1m_at_end"] = loadAverage()
	b.p.printf("done")
	return rep, samples, nil
}

// rssWarm are the requests sent to a separate ha-webhook before its memory is read with the fill cached: requests
// both binaries serve (the baseline may lack the newer paths).
func (b *bench) rssWarm() []*target { return []*target{b.targets["validate_10k"], b.targets["mutate"]} }

// ratio is a / b, 0 when b is.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mergeMaps[K comparable, V any](ms ...map[K]V) map[K]V {
	out := map[K]V{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// startServer runs ha-webhook's server (server.New and Run, the code path of `ha-webhook serve`) against the test
// API server, with the null webhook registered on the same webhook server, and waits until it is ready. The webhook
// cases are measured against it; pods through the API server against a webhook process of their own (child.go).
func (b *bench) startServer(ctx context.Context) (<-chan error, error) {
	cfg, err := b.env.ServerConfig()
	if err != nil {
		return nil, err
	}
	srv, err := server.New(b.env.Config, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.AuditInterval > 0 {
		b.quiet = cfg.AuditDebounce + time.Second
	}
	// The null webhook of the webhook cases, on the same webhook server as ha-webhook's paths.
	registerNull(srv)
	b.srv = srv
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if err := testenv.WaitReady(ctx, "http://"+cfg.HealthAddr+"/readyz", done); err != nil {
		return nil, err
	}
	b.base = "https://" + net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.env.CAData) {
		return nil, errors.New("the test environment's CA is not PEM")
	}
	b.tlsConf = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	return done, nil
}

// defineTargets builds every case's request once.
func (b *bench) defineTargets() {
	pod := podReview(admittedPod(nsMutate))
	add := func(name, path string, body []byte, check func(reviewAnswer) error) {
		t := &target{name: name, url: b.base + path, body: body, check: check}
		t.client = newClient(b.tlsConf, 1024, &t.dials)
		b.targets[name] = t
	}
	add("null", pathNull, pod, wantAllowed)
	add("null_10k", pathNull, pod, wantAllowed)
	add("mutate", names.PathMutatePod, pod, wantPatch)
	add("mutate_64k", names.PathMutatePod, podReview(bigPod(nsMutate, size64k)), wantPatch)
	// No PDB exists. In audit mode the Deployment is allowed with a pdb-missing warning; enforced, it is denied.
	add("validate", names.PathValidateDeployment, deploymentReview(deployment(nsValidate, validateApp(b.o.perNamespace))), wantWarning)
	add("validate_deny", names.PathValidateDeployment, deploymentReview(deployment(nsValidateDeny, validateApp(b.o.perNamespace))), wantDenied(403))
	// The namespace holds perNamespace PDBs, HPAs and workloads; exactly one PDB selects the Deployment (its own
	// stored version and nothing else) and one HPA targets it.
	filled := filledNamespace(b.o.namespaces / 2)
	add("validate_10k", names.PathValidateDeployment, deploymentReview(deployment(filled, validateApp(b.o.perNamespace))), wantAllowed)
	// The same app's PDB updated: judged by its impact on the namespace's workloads (the one it selects).
	add("validate_pdb_10k", names.PathValidatePDB,
		pdbUpdateReview(pdbFor(filled, validateApp(b.o.perNamespace)), pdbUpdated(filled, validateApp(b.o.perNamespace))), wantAllowed)
}

// measured is one case's open-loop and closed-loop samples, and the CPU time this process (server and load
// generator) spent during the closed loop.
type measured struct {
	open, closed sample
	cpu          time.Duration
}

// rateOf is the open-loop rate of a case. The 64 KB pod and the confirmed denial are offered a tenth of the rate:
// their maximum throughput on two cores is a few hundred per second, and an overloaded open loop only measures its
// own queue.
func (b *bench) rateOf(c string) int {
	if c == "mutate_64k" || c == "validate_deny" {
		return max(b.o.rate/10, 1)
	}
	return b.o.rate
}

// measure runs the named cases: a warm-up each, then open-loop rounds at the fixed rate alternating between the
// cases, then closed-loop rounds alike.
func (b *bench) measure(ctx context.Context, cases ...string) map[string]*measured {
	out := map[string]*measured{}
	for _, c := range cases {
		out[c] = &measured{}
		// Open the connections a burst may need up front (a new TLS connection in the middle of a measurement costs
		// more than the request), then run at the case's rate.
		closedLoop(ctx, b.targets[c], warmConnections, b.o.warmup/2)
		openLoop(ctx, b.targets[c], b.rateOf(c), b.o.warmup)
	}
	for r := range b.o.rounds {
		for i := range cases {
			c := cases[(i+r)%len(cases)]
			dials := b.targets[c].dials.Load()
			s := openLoop(ctx, b.targets[c], b.rateOf(c), b.o.openDur/time.Duration(b.o.rounds))
			if os.Getenv("BENCH_DEBUG") != "" {
				p := s.percentiles()
				b.p.printf("    debug %s: %d req in %s, p50 %s p99 %s max %s, %d new connections", c, s.requests,
					s.elapsed.Round(time.Millisecond), p.p50, p.p99, p.max, b.targets[c].dials.Load()-dials)
			}
			out[c].open.mergeRound(s)
		}
	}
	for r := range b.o.rounds {
		for i := range cases {
			c := cases[(i+r)%len(cases)]
			cpu0 := processCPU()
			s := closedLoop(ctx, b.targets[c], b.o.conc, b.o.closedDur/time.Duration(b.o.rounds))
			out[c].cpu += processCPU() - cpu0
			out[c].closed.merge(s)
		}
	}
	for _, c := range cases {
		m := out[c]
		b.p.printf("  %-16s open: %6d req, p99 %7.0fµs, %d errors; closed: %6.0f req/s, %4.0fµs CPU/req, %d errors",
			c, m.open.requests, us(m.open.percentiles().p99), m.open.errors,
			float64(m.closed.requests-m.closed.errors)/m.closed.elapsed.Seconds(), us(m.cpu)/float64(max(m.closed.requests, 1)), m.closed.errors)
		if m.open.firstErr != "" || m.closed.firstErr != "" {
			b.p.printf("  %-16s first error: %s%s", c, m.open.firstErr, m.closed.firstErr)
		}
	}
	return out
}

// profile writes a CPU profile of one extra closed-loop run of the selected case, outside the measurements.
func (b *bench) profile(ctx context.Context) error {
	t, ok := b.targets[b.o.profileCase]
	if !ok {
		return fmt.Errorf("-profile-case %q: no such case", b.o.profileCase)
	}
	f, err := os.Create(b.o.cpuProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	b.p.printf("CPU profile of %s, closed loop for %s, into %s", t.name, b.o.closedDur, b.o.cpuProfile)
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	cpu0 := processCPU()
	s := closedLoop(ctx, t, b.o.conc, b.o.closedDur)
	pprof.StopCPUProfile()
	b.p.printf("  %d requests, %.0f req/s, %.0fµs CPU/req", s.requests, float64(s.requests)/s.elapsed.Seconds(),
		us(processCPU()-cpu0)/float64(max(s.requests, 1)))
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// settle waits until kube-apiserver, etcd and this process together have used less than a tenth of a core in every
// second of b.quiet in a row, or max passes, and returns how long it waited. This process counts too: after a fill
// its in-process server is still receiving watch events, and its audit re-evaluates the cluster up to the audit's
// debounce after the last change, which a single idle second would miss.
func (b *bench) settle(ctx context.Context, maxWait time.Duration) time.Duration {
	start := time.Now()
	var idle time.Duration
	for time.Since(start) < maxWait && ctx.Err() == nil && idle < max(b.quiet, time.Second) {
		before, self := childCPU(), processCPU()
		time.Sleep(time.Second)
		used, after := processCPU()-self, childCPU()
		for _, name := range []string{"kube-apiserver", "etcd"} {
			used += after[name] - before[name]
		}
		if used < 100*time.Millisecond {
			idle += time.Second
		} else {
			idle = 0
		}
	}
	return time.Since(start)
}
