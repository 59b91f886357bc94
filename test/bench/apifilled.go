package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// The modes of the api_10k phase, after the fill: no webhook, or ha-webhook's mutating webhook served by a
// separate `ha-webhook serve` process of the current binary or of the baseline's.
const (
	modeCurrent  = "current"
	modeBaseline = "baseline"
)

// procMutating is ha-webhook's MutatingWebhookConfiguration (as webhookconfig builds it today, for both binaries)
// under name, calling the process at base.
func procMutating(o webhookconfig.Options, name, base string, ca []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	o.Name = name
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		url := base + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca}
	}
	return webhookconfig.Mutating(o)
}

// apiServerFilled measures Pod CREATE through the API server with the cluster filled, as apiServer does (dry runs,
// the same clients, rounds rotating the order of the modes), with ha-webhook served by separate processes: the
// current binary and, with -baseline-repo, the baseline's, both started before the first round and serving
// throughout, each with the filled cluster in its cache. Only the mutating webhook is registered: a Pod CREATE calls
// no other.
func (b *bench) apiServerFilled(ctx context.Context, bins binaries) (*apiFilledResult, error) {
	clients, err := podClients(b.env.Config, b.o.apiClients)
	if err != nil {
		return nil, err
	}
	modes := []string{modeWithout, modeCurrent}
	binOf := map[string]string{modeCurrent: bins.current}
	commOf := map[string]string{modeCurrent: "ha-webhook"}
	if bins.baseline != "" {
		modes = append(modes, modeBaseline)
		binOf[modeBaseline], commOf[modeBaseline] = bins.baseline, baselineBinary
	}
	procs := map[string]*webhookProc{}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	configs := map[string]*admissionregistrationv1.MutatingWebhookConfiguration{}
	for _, m := range modes[1:] {
		p, err := b.startWebhook(ctx, binOf[m], true)
		if err != nil {
			return nil, err
		}
		procs[m] = p
		configs[m] = procMutating(b.env.WebhookOptions(), "bench-ha-webhook-"+m, p.base, b.env.CAData)
	}
	defer func() { _ = b.setFilledMode(context.WithoutCancel(ctx), modeWithout, configs, procs) }()

	samples := map[string]sample{}
	cpus := map[string]map[string]time.Duration{}
	calls := map[string]float64{}
	for r := range b.o.apiRounds {
		for i := range modes {
			mode := modes[(i+r)%len(modes)]
			if err := b.setFilledMode(ctx, mode, configs, procs); err != nil {
				return nil, err
			}
			want := modeWithout
			if mode != modeWithout {
				want = modeWith
			}
			createPods(ctx, clients, want, b.o.apiWarmup)
			self0, children0 := processCPU(), childCPU()
			var calls0 float64
			if p := procs[mode]; p != nil {
				calls0, _ = p.mutateCalls()
			}
			s := createPods(ctx, clients, want, b.o.apiRoundDur)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			cpu := cpus[mode]
			if cpu == nil {
				cpu = map[string]time.Duration{}
				cpus[mode] = cpu
			}
			cpu["bench (clients)"] += processCPU() - self0
			children := childCPU()
			for _, name := range []string{"kube-apiserver", "etcd"} {
				cpu[name] += children[name] - children0[name]
			}
			var perPod float64
			if p := procs[mode]; p != nil {
				cpu["webhook"] += children[commOf[mode]] - children0[commOf[mode]]
				n, _ := p.mutateCalls()
				calls[mode] += n - calls0
				perPod = (n - calls0) / float64(max(s.requests, 1))
			}
			b.p.printf("  round %d %-8s %5d pods, %4.0f pods/s, p99 %6.0fµs, %d errors; ha-webhook calls per pod %.2f",
				r+1, mode, s.requests, float64(s.requests-s.errors)/s.elapsed.Seconds(), us(s.percentiles().p99), s.errors, perPod)
			m := samples[mode]
			m.mergeRound(s)
			samples[mode] = m
		}
	}
	res := &apiFilledResult{Clients: b.o.apiClients, Rounds: b.o.apiRounds, RoundSeconds: b.o.apiRoundDur.Seconds(), DryRun: true}
	for _, mode := range modes {
		s := samples[mode]
		p := s.percentiles()
		m := &apiModeResult{P50us: us(p.p50), P99us: us(p.p99), P99RoundMedianUs: us(s.medianRoundP99()), Pods: s.requests,
			PodsPerS: float64(s.requests-s.errors) / s.elapsed.Seconds(), Errors: s.errors, CPUPerPod: map[string]float64{}}
		for name, t := range cpus[mode] {
			m.CPUPerPod[name] = us(t) / float64(max(s.requests, 1))
		}
		if mode != modeWithout {
			m.CallsPerPod = calls[mode] / float64(max(s.requests, 1))
		}
		if s.firstErr != "" {
			b.p.printf("  %s: first error: %s", mode, s.firstErr)
		}
		switch mode {
		case modeWithout:
			res.Without = m
		case modeCurrent:
			res.Current = m
		case modeBaseline:
			res.Baseline = m
		}
	}
	if c, bl := res.Current, res.Baseline; bl != nil && bl.P99us > 0 && bl.P99RoundMedianUs > 0 && bl.PodsPerS > 0 {
		res.P99Ratio, res.P99RoundMedianRatio, res.PodsPerSRatio = c.P99us/bl.P99us, c.P99RoundMedianUs/bl.P99RoundMedianUs, c.PodsPerS/bl.PodsPerS
		if w := bl.CPUPerPod["webhook"]; w > 0 {
			res.WebhookCPURatio = c.CPUPerPod["webhook"] / w
		}
	}
	return res, nil
}

// setFilledMode registers the mutating configuration of mode (none for modeWithout), removes the others, and waits
// until the API server acts on exactly it: a dry-run probe pod must come back mutated or not, and be answered by
// mode's process and no other.
func (b *bench) setFilledMode(ctx context.Context, mode string, configs map[string]*admissionregistrationv1.MutatingWebhookConfiguration,
	procs map[string]*webhookProc) error {
	for m, c := range configs {
		obj := c.DeepCopy()
		if m == mode {
			if err := b.env.Client.Create(ctx, obj); client.IgnoreAlreadyExists(err) != nil {
				return err
			}
		} else if err := b.env.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	want := modeWithout
	if mode != modeWithout {
		want = modeWith
	}
	var last error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		before := map[string]float64{}
		for m, p := range procs {
			if before[m], last = p.mutateCalls(); last != nil {
				return last
			}
		}
		pod := manifestPod(nsAPI)
		last = b.env.Client.Create(ctx, pod, client.DryRunAll)
		if last == nil {
			last = checkPod(pod, want)
		}
		for m, p := range procs {
			n, err := p.mutateCalls()
			if err != nil {
				return err
			}
			if called := n > before[m]; last == nil && called != (m == mode) {
				last = fmt.Errorf("the probe pod reached %s's process: %v", m, called)
			}
		}
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not switch to mode %q within 30s: %v", mode, last)
}

// mutateCalls reads the process's count of requests to the pod mutating webhook from its metrics endpoint
// (controller-runtime's webhook request counter).
func (p *webhookProc) mutateCalls() (float64, error) {
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var n float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "controller_runtime_webhook_requests_total{") ||
			!strings.Contains(line, `webhook="`+names.PathMutatePod+`"`) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			n += v
		}
	}
	return n, nil
}
