package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// The ways a Pod CREATE goes through the API server.
const (
	modeWithout = "without" // no webhook configuration at all
	modeNull    = "null"    // the null webhook, registered exactly like ha-webhook's mutating webhook
	// modeNullPatch is the patching null webhook, registered alike: it answers with ha-webhook's own patch for the
	// pod without reading it, so the API server does for it exactly what it does for ha-webhook.
	modeNullPatch = "null_patch"
	modeWith      = "with" // ha-webhook's mutating and validating configurations
)

var apiModes = []string{modeWithout, modeNull, modeNullPatch, modeWith}

// apiMode is one way a Pod CREATE goes through the API server: the webhook configurations registered, and the
// process and path that must answer the API server's call (none without a webhook).
type apiMode struct {
	name    string
	configs []client.Object
	proc    *webhookProc
	path    string
	// mutated: pods come back with ha-webhook's injection (from ha-webhook, or from the patching null webhook's copy
	// of its patch).
	mutated bool
}

// pointAt is o with every webhook's client configuration calling base (a webhook process of its own).
func pointAt(o webhookconfig.Options, base string, ca []byte) webhookconfig.Options {
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		url := base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}
	}
	return o
}

// nullMutating is ha-webhook's MutatingWebhookConfiguration (same options: namespace selector, match conditions,
// failure policy, timeout, reinvocation) under another name, calling path.
func nullMutating(o webhookconfig.Options, name, path string) *admissionregistrationv1.MutatingWebhookConfiguration {
	base := o.ClientConfig
	o.Name = name
	o.ClientConfig = func(string) admissionregistrationv1.WebhookClientConfig { return base(path) }
	return webhookconfig.Mutating(o)
}

// switchMode registers m's configurations, removes the other modes', and waits until the API server acts on
// exactly them: a dry-run probe pod must come back mutated or not, and be answered by m's process on m's path and by
// no other mode's. It returns the probe pod.
func (b *bench) switchMode(ctx context.Context, modes []apiMode, m apiMode) (*corev1.Pod, error) {
	for _, x := range modes {
		if x.name == m.name {
			continue
		}
		for _, obj := range x.configs {
			if err := b.env.Client.Delete(ctx, obj.DeepCopyObject().(client.Object)); client.IgnoreNotFound(err) != nil {
				return nil, err
			}
		}
	}
	for _, obj := range m.configs {
		if err := b.env.Client.Create(ctx, obj.DeepCopyObject().(client.Object)); client.IgnoreAlreadyExists(err) != nil {
			return nil, err
		}
	}
	counts := func() (map[*webhookProc]map[string]float64, error) {
		out := map[*webhookProc]map[string]float64{}
		for _, x := range modes {
			if x.proc == nil || out[x.proc] != nil {
				continue
			}
			c, err := x.proc.webhookCalls()
			if err != nil {
				return nil, err
			}
			out[x.proc] = c
		}
		return out, nil
	}
	var last error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		before, err := counts()
		if err != nil {
			return nil, err
		}
		pod := manifestPod(nsAPI)
		last = b.env.Client.Create(ctx, pod, client.DryRunAll)
		if last == nil {
			last = checkPod(pod, m.mutated)
		}
		after, err := counts()
		if err != nil {
			return nil, err
		}
		for _, x := range modes {
			if x.proc == nil {
				continue
			}
			if called := after[x.proc][x.path] > before[x.proc][x.path]; last == nil && called != (x.name == m.name) {
				last = fmt.Errorf("the probe pod reached %s (mode %s): %v", x.path, x.name, called)
			}
		}
		if last == nil {
			return pod, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("the API server did not switch to mode %q within 30s: %v", m.name, last)
}

// webhookCalls reads the process's count of requests per webhook path from its metrics endpoint (controller-runtime's
// webhook request counter, which also counts the null webhooks registered on the same webhook server).
func (p *webhookProc) webhookCalls() (map[string]float64, error) {
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "controller_runtime_webhook_requests_total{") {
			continue
		}
		_, rest, ok := strings.Cut(line, `webhook="`)
		if !ok {
			continue
		}
		path, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			out[path] += v
		}
	}
	return out, nil
}

// podClients are the concurrent clients, each with its own connection to the API server (a custom dialer keeps
// client-go from sharing one transport), protobuf like kubectl and controllers, and no client-side rate limit.
func podClients(cfg *rest.Config, n int) ([]kubernetes.Interface, error) {
	out := make([]kubernetes.Interface, n)
	for i := range out {
		c := rest.CopyConfig(cfg)
		c.QPS, c.Burst = 1e6, 1e6
		c.ContentType = runtime.ContentTypeProtobuf
		c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		c.Dial = d.DialContext
		cs, err := kubernetes.NewForConfig(c)
		if err != nil {
			return nil, err
		}
		out[i] = cs
	}
	return out, nil
}

// createPods has every client create pods back to back (server-side dry run) for d; creates in flight at the end
// are waited for, not cancelled. A create that fails, or whose pod is not mutated as the mode implies, is an error.
func createPods(ctx context.Context, clients []kubernetes.Interface, mutated bool, d time.Duration) sample {
	deadline := time.Now().Add(d)
	results := make([]sample, len(clients))
	var wg sync.WaitGroup
	start := time.Now()
	for i, cs := range clients {
		wg.Go(func() {
			s := &results[i]
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				got, err := cs.CoreV1().Pods(nsAPI).Create(context.WithoutCancel(ctx), manifestPod(nsAPI),
					metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				lat := time.Since(t0)
				if err == nil {
					err = checkPod(got, mutated)
				}
				s.add(lat, err)
			}
		})
	}
	wg.Wait()
	var all sample
	for _, s := range results {
		all.merge(s)
	}
	all.elapsed = time.Since(start)
	return all
}

// checkPod: the pod carries ha-webhook's injection record exactly when it was meant to be mutated.
func checkPod(p *corev1.Pod, mutated bool) error {
	if got := p.Annotations[names.AnnotationInjected] != ""; got != mutated {
		return fmt.Errorf("pod mutated: %v, want %v", got, mutated)
	}
	return nil
}

// samePatchEffect checks that the patching null webhook's answer makes the API server produce the pod ha-webhook's
// own answer does: the same spec and annotations (the generated name and uid aside).
func samePatchEffect(withPod, nullPatchPod *corev1.Pod) error {
	view := func(p *corev1.Pod) string {
		b, _ := json.Marshal(struct {
			Annotations map[string]string
			Spec        corev1.PodSpec
		}{p.Annotations, p.Spec})
		return string(b)
	}
	if a, b := view(withPod), view(nullPatchPod); a != b {
		return fmt.Errorf("the patching null webhook's pod differs from ha-webhook's:\n  ha-webhook: %s\n  null_patch: %s", a, b)
	}
	return nil
}

// modeMeasure is what the rounds of one mode measured.
type modeMeasure struct {
	s sample
	// cpu is CPU time by process: kube-apiserver, etcd, "webhook" (the process answering the mode, from its own
	// /proc/PID/stat) and "clients" (this process: the pod-creating clients, and its in-process server, idle then).
	cpu   map[string]time.Duration
	calls float64
	// probe is the first probe pod of the mode, as the API server returned it.
	probe *corev1.Pod
}

// apiRounds runs b.o.apiRounds rounds of every mode, each round rotating their order so that drift on a shared
// machine spreads over all alike, with a warm-up after every switch.
//
// Creates are server-side dry runs: the API server runs the whole admission chain (mutating webhooks, schema
// validation, validating admission) and skips only the etcd write. The write costs the same in every mode, and real
// creates would grow etcd round after round (or need deletes between rounds, competing for the same two cores),
// skewing later rounds against earlier ones.
func (b *bench) apiRounds(ctx context.Context, clients []kubernetes.Interface, modes []apiMode) (map[string]*modeMeasure, error) {
	out := map[string]*modeMeasure{}
	for _, m := range modes {
		out[m.name] = &modeMeasure{cpu: map[string]time.Duration{}}
	}
	for r := range b.o.apiRounds {
		for i := range modes {
			m := modes[(i+r)%len(modes)]
			probe, err := b.switchMode(ctx, modes, m)
			if err != nil {
				return nil, err
			}
			mm := out[m.name]
			if mm.probe == nil {
				mm.probe = probe
			}
			createPods(ctx, clients, m.mutated, b.o.apiWarmup) // new webhook connections, caches
			self0, children0 := processCPU(), childCPU()
			var web0 time.Duration
			var calls0 map[string]float64
			if m.proc != nil {
				web0 = procCPU(m.proc.pid())
				if calls0, err = m.proc.webhookCalls(); err != nil {
					return nil, err
				}
			}
			s := createPods(ctx, clients, m.mutated, b.o.apiRoundDur)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			mm.cpu["clients"] += processCPU() - self0
			children := childCPU()
			for _, name := range []string{"kube-apiserver", "etcd"} {
				mm.cpu[name] += children[name] - children0[name]
			}
			var perPod float64
			if m.proc != nil {
				mm.cpu["webhook"] += procCPU(m.proc.pid()) - web0
				calls, err := m.proc.webhookCalls()
				if err != nil {
					return nil, err
				}
				mm.calls += calls[m.path] - calls0[m.path]
				perPod = (calls[m.path] - calls0[m.path]) / float64(max(s.requests, 1))
			}
			b.p.printf("  round %d %-10s %5d pods, %4.0f pods/s, p99 %6.0fµs, %d errors; webhook calls per pod %.2f",
				r+1, m.name, s.requests, float64(s.requests-s.errors)/s.elapsed.Seconds(), us(s.percentiles().p99), s.errors, perPod)
			mm.s.mergeRound(s)
		}
	}
	return out, nil
}

// result is the mode's figures; withWebhook: a webhook answered it (calls per pod and CPU per admission apply).
func (mm *modeMeasure) result(withWebhook bool) *apiModeResult {
	s := mm.s
	p := s.percentiles()
	n := float64(max(s.requests, 1))
	m := &apiModeResult{P50us: us(p.p50), P99us: us(p.p99), P99RoundMedianUs: us(s.medianRoundP99()), Pods: s.requests,
		PodsPerS: float64(s.requests-s.errors) / s.elapsed.Seconds(), Errors: s.errors, CPUPerPod: map[string]float64{}}
	for name, t := range mm.cpu {
		if name == "webhook" && !withWebhook {
			continue
		}
		m.CPUPerPod[name] = us(t) / n
	}
	if withWebhook {
		m.CallsPerPod = mm.calls / n
		if mm.calls > 0 {
			m.WebhookCPUPerAdmission = us(mm.cpu["webhook"]) / mm.calls
		}
	}
	return m
}

// apiServer measures Pod CREATE latency and pods/s through the API server without a webhook, with the null webhook,
// with the patching null webhook and with ha-webhook, all three served by one webhook process of their own (child.go)
// so that its CPU time is the webhook's alone; this process runs the clients.
func (b *bench) apiServer(ctx context.Context) (*apiResult, map[string]sample, error) {
	clients, err := podClients(b.env.Config, b.o.apiClients)
	if err != nil {
		return nil, nil, err
	}
	proc, err := b.startBenchWebhook(ctx, b.nullPatch)
	if err != nil {
		return nil, nil, err
	}
	defer proc.stop()
	o := pointAt(b.env.WebhookOptions(), proc.base, b.env.CAData)
	modes := []apiMode{
		{name: modeWithout},
		{name: modeNull, configs: []client.Object{nullMutating(o, "bench-null-webhook", pathNull)}, proc: proc, path: pathNull},
		{name: modeNullPatch, configs: []client.Object{nullMutating(o, "bench-null-patch-webhook", pathNullPatch)}, proc: proc,
			path: pathNullPatch, mutated: true},
		{name: modeWith, configs: []client.Object{webhookconfig.Mutating(o), webhookconfig.Validating(o)}, proc: proc,
			path: names.PathMutatePod, mutated: true},
	}
	defer func() { _, _ = b.switchMode(context.WithoutCancel(ctx), modes, modes[0]) }()
	got, err := b.apiRounds(ctx, clients, modes)
	if err != nil {
		return nil, nil, err
	}
	if err := samePatchEffect(got[modeWith].probe, got[modeNullPatch].probe); err != nil {
		return nil, nil, err
	}
	if b.o.apiCPUProfile != "" {
		for _, m := range []apiMode{modes[2], modes[3]} {
			if err := b.profileMode(ctx, clients, modes, m, "webhook-"); err != nil {
				return nil, nil, err
			}
		}
	}
	res := &apiResult{Clients: b.o.apiClients, Rounds: b.o.apiRounds, RoundSeconds: b.o.apiRoundDur.Seconds(), DryRun: true,
		CPUPerPod: map[string]map[string]float64{}, WebhookCPUPerAdmission: map[string]float64{}, CallsPerPod: map[string]float64{}}
	samples := map[string]sample{}
	byMode := map[string]*apiModeResult{}
	for _, m := range modes {
		mm := got[m.name]
		r := mm.result(m.proc != nil)
		byMode[m.name] = r
		samples[m.name] = mm.s
		res.CPUPerPod[m.name] = r.CPUPerPod
		if m.proc != nil {
			res.WebhookCPUPerAdmission[m.name], res.CallsPerPod[m.name] = r.WebhookCPUPerAdmission, r.CallsPerPod
		}
		b.p.printf("  %-10s CPU µs per pod: %v", m.name, r.CPUPerPod)
		if mm.s.firstErr != "" {
			b.p.printf("  %s: first error: %s", m.name, mm.s.firstErr)
		}
		switch m.name {
		case modeWithout:
			res.WithoutP50, res.WithoutP99, res.WithoutP99Median, res.WithoutRate, res.WithoutErrors = r.P50us, r.P99us, r.P99RoundMedianUs, r.PodsPerS, r.Errors
		case modeNull:
			res.NullP50, res.NullP99, res.NullP99Median, res.NullRate, res.NullErrors = r.P50us, r.P99us, r.P99RoundMedianUs, r.PodsPerS, r.Errors
		case modeNullPatch:
			res.NullPatchP50, res.NullPatchP99, res.NullPatchP99Median, res.NullPatchRate, res.NullPatchErrors = r.P50us, r.P99us, r.P99RoundMedianUs, r.PodsPerS, r.Errors
		case modeWith:
			res.WithP50, res.WithP99, res.WithP99Median, res.WithRate, res.WithErrors = r.P50us, r.P99us, r.P99RoundMedianUs, r.PodsPerS, r.Errors
		}
	}
	res.WithVsNullPatch = ratiosOf(byMode[modeWith], byMode[modeNullPatch])
	return res, samples, nil
}

// ratiosOf is a mode's figures over a reference mode's (ha-webhook over the patching null webhook).
func ratiosOf(a, ref *apiModeResult) *modeRatios {
	if a == nil || ref == nil {
		return nil
	}
	sum := func(m map[string]float64) float64 {
		var t float64
		for _, v := range m {
			t += v
		}
		return t
	}
	return &modeRatios{PodsPerS: ratio(a.PodsPerS, ref.PodsPerS), P50: ratio(a.P50us, ref.P50us), P99: ratio(a.P99us, ref.P99us),
		P99RoundMedian:     ratio(a.P99RoundMedianUs, ref.P99RoundMedianUs),
		WebhookCPUPerPod:   ratio(a.CPUPerPod["webhook"], ref.CPUPerPod["webhook"]),
		APIServerCPUPerPod: ratio(a.CPUPerPod["kube-apiserver"], ref.CPUPerPod["kube-apiserver"]),
		TotalCPUPerPod:     ratio(sum(a.CPUPerPod), sum(ref.CPUPerPod))}
}

// profileMode runs one more round of m under the same load, with the CPU of the process answering it profiled
// (Go's /debug/pprof/profile) into b.o.apiCPUProfile/PREFIXMODE.pprof.
func (b *bench) profileMode(ctx context.Context, clients []kubernetes.Interface, modes []apiMode, m apiMode, prefix string) error {
	if _, err := b.switchMode(ctx, modes, m); err != nil {
		return err
	}
	createPods(ctx, clients, m.mutated, b.o.apiWarmup)
	if err := os.MkdirAll(b.o.apiCPUProfile, 0o755); err != nil {
		return err
	}
	file := filepath.Join(b.o.apiCPUProfile, prefix+strings.ReplaceAll(strings.ReplaceAll(m.name, ",", ""), " ", "-")+".pprof")
	seconds := max(int(b.o.apiRoundDur.Seconds()), 1)
	done := make(chan error, 1)
	go func() { done <- fetchProfile(ctx, m.proc.pprof, seconds, file) }()
	s := createPods(ctx, clients, m.mutated, time.Duration(seconds)*time.Second+500*time.Millisecond)
	if err := <-done; err != nil {
		return fmt.Errorf("profiling %s: %w", m.name, err)
	}
	b.p.printf("  CPU profile of the webhook process, %s, %d s (%d pods, %d errors): %s", m.name, seconds, s.requests, s.errors, file)
	return nil
}

// fetchProfile writes the CPU profile of the process serving pprof at addr, over seconds, to file.
func fetchProfile(ctx context.Context, addr string, seconds int, file string) error {
	if addr == "" {
		return errors.New("the process serves no pprof")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
