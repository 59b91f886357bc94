package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// The ways a Pod CREATE goes through the API server.
const (
	modeWithout = "without" // no webhook configuration at all
	modeNull    = "null"    // the null webhook, registered exactly like ha-webhook's mutating webhook
	// modeNullPatch is a null webhook that answers with a one-line patch (an annotation): what any webhook that
	// mutates costs the API server (applying the patch, re-running the in-tree mutating admission plugins).
	modeNullPatch = "null_patch"
	modeWith      = "with" // ha-webhook's mutating and validating configurations
)

var apiModes = []string{modeWithout, modeNull, modeNullPatch, modeWith}

// nullMutating is ha-webhook's MutatingWebhookConfiguration (same options: namespace selector, match conditions,
// failure policy, timeout, reinvocation) under another name, calling path.
func nullMutating(o webhookconfig.Options, name, path string) *admissionregistrationv1.MutatingWebhookConfiguration {
	base := o.ClientConfig
	o.Name = name
	o.ClientConfig = func(string) admissionregistrationv1.WebhookClientConfig { return base(path) }
	return webhookconfig.Mutating(o)
}

// setMode registers the configurations of mode, removes the others, and waits until the API server acts on exactly
// them: a dry-run probe pod must come back mutated (with) or not, and reach the null webhook (null) or not.
func (b *bench) setMode(ctx context.Context, mode string) error {
	o := b.env.WebhookOptions()
	objs := []struct {
		obj     client.Object
		present bool
	}{
		{webhookconfig.Mutating(o), mode == modeWith},
		{webhookconfig.Validating(o), mode == modeWith},
		{nullMutating(o, "bench-null-webhook", pathNull), mode == modeNull},
		{nullMutating(o, "bench-null-patch-webhook", pathNullPatch), mode == modeNullPatch},
	}
	for _, x := range objs {
		if x.present {
			if err := b.env.Client.Create(ctx, x.obj); client.IgnoreAlreadyExists(err) != nil {
				return err
			}
		} else if err := b.env.Client.Delete(ctx, x.obj); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		null0, patch0 := b.nullHits.Load(), b.nullPatchHits.Load()
		pod := manifestPod(nsAPI)
		err := b.env.Client.Create(ctx, pod, client.DryRunAll)
		nullCalled, patchCalled := b.nullHits.Load() > null0, b.nullPatchHits.Load() > patch0
		if err == nil && checkPod(pod, mode) == nil && nullCalled == (mode == modeNull) && patchCalled == (mode == modeNullPatch) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not switch to mode %q within 30s", mode)
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
func createPods(ctx context.Context, clients []kubernetes.Interface, mode string, d time.Duration) sample {
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
					err = checkPod(got, mode)
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

// checkPod: only ha-webhook injects, only the patching null webhook annotates.
func checkPod(p *corev1.Pod, mode string) error {
	mutated := p.Annotations[names.AnnotationInjected] != ""
	_, annotated := p.Annotations[annotationNullPatched]
	if mutated != (mode == modeWith) || annotated != (mode == modeNullPatch) {
		return fmt.Errorf("mode %s: pod mutated by ha-webhook=%v, by the patching null webhook=%v", mode, mutated, annotated)
	}
	return nil
}

// apiServer measures Pod CREATE latency and pods/s in rounds that alternate between the modes (each round
// rotates the order), so that drift on a shared machine spreads over all three alike.
//
// Creates are server-side dry runs: the API server runs the whole admission chain (mutating webhooks, schema
// validation, validating admission) and skips only the etcd write. The write costs the same in all three modes, and
// real creates would grow etcd round after round (or need deletes between rounds, competing for the same two
// cores), skewing later rounds against earlier ones.
func (b *bench) apiServer(ctx context.Context) (*apiResult, map[string]sample, error) {
	clients, err := podClients(b.env.Config, b.o.apiClients)
	if err != nil {
		return nil, nil, err
	}
	samples := map[string]sample{}
	cpus := map[string]map[string]time.Duration{} // mode → process → CPU time during the measured rounds
	for r := range b.o.apiRounds {
		for i := range apiModes {
			mode := apiModes[(i+r)%len(apiModes)]
			if err := b.setMode(ctx, mode); err != nil {
				return nil, nil, err
			}
			createPods(ctx, clients, mode, b.o.apiWarmup) // new webhook connections, caches
			self0, children0, calls0 := processCPU(), childCPU(), webhookCalls()
			s := createPods(ctx, clients, mode, b.o.apiRoundDur)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			cpu := cpus[mode]
			if cpu == nil {
				cpu = map[string]time.Duration{}
				cpus[mode] = cpu
			}
			cpu["ha-webhook+clients"] += processCPU() - self0
			for name, t := range childCPU() {
				cpu[name] += t - children0[name]
			}
			calls := webhookCalls()
			perPod := func(path string) float64 { return (calls[path] - calls0[path]) / float64(max(s.requests, 1)) }
			b.p.printf("  round %d %-10s %5d pods, %4.0f pods/s, p99 %6.0fµs, %d errors; calls per pod: ha-webhook %.2f, null %.2f, null_patch %.2f",
				r+1, mode, s.requests, float64(s.requests-s.errors)/s.elapsed.Seconds(), us(s.percentiles().p99), s.errors,
				perPod(names.PathMutatePod), perPod(pathNull), perPod(pathNullPatch))
			m := samples[mode]
			m.mergeRound(s)
			samples[mode] = m
		}
	}
	if err := b.setMode(ctx, modeWithout); err != nil {
		return nil, nil, err
	}
	res := &apiResult{Clients: b.o.apiClients, Rounds: b.o.apiRounds, RoundSeconds: b.o.apiRoundDur.Seconds(), DryRun: true,
		CPUPerPod: map[string]map[string]float64{}}
	for _, mode := range apiModes {
		s := samples[mode]
		res.CPUPerPod[mode] = map[string]float64{}
		for name, t := range cpus[mode] {
			res.CPUPerPod[mode][name] = us(t) / float64(max(s.requests, 1))
		}
		b.p.printf("  %-10s CPU µs per pod: %v", mode, res.CPUPerPod[mode])
		p := s.percentiles()
		rate := float64(s.requests-s.errors) / s.elapsed.Seconds()
		m := us(s.medianRoundP99())
		switch mode {
		case modeWithout:
			res.WithoutP50, res.WithoutP99, res.WithoutP99Median, res.WithoutRate, res.WithoutErrors = us(p.p50), us(p.p99), m, rate, s.errors
		case modeNull:
			res.NullP50, res.NullP99, res.NullP99Median, res.NullRate, res.NullErrors = us(p.p50), us(p.p99), m, rate, s.errors
		case modeNullPatch:
			res.NullPatchP50, res.NullPatchP99, res.NullPatchP99Median, res.NullPatchRate, res.NullPatchErrors = us(p.p50), us(p.p99), m, rate, s.errors
		case modeWith:
			res.WithP50, res.WithP99, res.WithP99Median, res.WithRate, res.WithErrors = us(p.p50), us(p.p99), m, rate, s.errors
		}
		if s.firstErr != "" {
			b.p.printf("  %s: first error: %s", mode, s.firstErr)
		}
	}
	return res, samples, nil
}

// webhookCalls reads controller-runtime's webhook request counter (the webhook server's own metrics) by path.
func webhookCalls() map[string]float64 {
	out := map[string]float64{}
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}
