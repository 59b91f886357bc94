package main

import (
	"context"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

// The modes of the api_10k phase, after the fill: no webhook, ha-webhook's mutating webhook served by a separate
// `ha-webhook serve` process of the current binary or of the baseline's, or the patching null webhook (modeNullPatch).
const (
	modeCurrent  = "current"
	modeBaseline = "baseline"
)

// procMutating is ha-webhook's MutatingWebhookConfiguration (as webhookconfig builds it today, for both binaries)
// under name, calling the process at base.
func procMutating(o webhookconfig.Options, name, base string, ca []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	o = pointAt(o, base, ca)
	o.Name = name
	return webhookconfig.Mutating(o)
}

// apiServerFilled measures Pod CREATE through the API server with the cluster filled, as apiServer does (dry runs,
// the same clients, rounds rotating the order of the modes), with ha-webhook served by separate processes: the
// current binary and, with -baseline-repo, the baseline's, both started before the first round and serving
// throughout, each with the filled cluster in its cache; and the patching null webhook, served by the benchmark's
// webhook process (child.go), whose cache holds the fill too. Only mutating webhooks are registered: a Pod CREATE
// calls no other.
func (b *bench) apiServerFilled(ctx context.Context, bins binaries) (*apiFilledResult, error) {
	clients, err := podClients(b.env.Config, b.o.apiClients)
	if err != nil {
		return nil, err
	}
	var procs []*webhookProc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	modes := []apiMode{{name: modeWithout}}
	for _, m := range []struct{ name, bin string }{{modeCurrent, bins.current}, {modeBaseline, bins.baseline}} {
		if m.bin == "" {
			continue
		}
		// Only the current binary is profiled: the baseline may predate --pprof-bind-address.
		p, err := b.startWebhook(ctx, m.bin, true, b.o.apiCPUProfile != "" && m.name == modeCurrent)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		modes = append(modes, apiMode{name: m.name, proc: p, path: names.PathMutatePod, mutated: true,
			configs: []client.Object{procMutating(b.env.WebhookOptions(), "bench-ha-webhook-"+m.name, p.base, b.env.CAData)}})
	}
	child, err := b.startBenchWebhook(ctx, b.nullPatch)
	if err != nil {
		return nil, err
	}
	procs = append(procs, child)
	o := pointAt(b.env.WebhookOptions(), child.base, b.env.CAData)
	modes = append(modes, apiMode{name: modeNullPatch, proc: child, path: pathNullPatch, mutated: true,
		configs: []client.Object{nullMutating(o, "bench-null-patch-webhook", pathNullPatch)}})
	defer func() { _, _ = b.switchMode(context.WithoutCancel(ctx), modes, modes[0]) }()

	got, err := b.apiRounds(ctx, clients, modes)
	if err != nil {
		return nil, err
	}
	if err := samePatchEffect(got[modeCurrent].probe, got[modeNullPatch].probe); err != nil {
		return nil, err
	}
	if b.o.apiCPUProfile != "" {
		for _, m := range modes {
			if m.name == modeCurrent || m.name == modeNullPatch {
				if err := b.profileMode(ctx, clients, modes, m, "webhook-10k-"); err != nil {
					return nil, err
				}
			}
		}
	}
	res := &apiFilledResult{Clients: b.o.apiClients, Rounds: b.o.apiRounds, RoundSeconds: b.o.apiRoundDur.Seconds(), DryRun: true}
	for _, m := range modes {
		mm := got[m.name]
		r := mm.result(m.proc != nil)
		if mm.s.firstErr != "" {
			b.p.printf("  %s: first error: %s", m.name, mm.s.firstErr)
		}
		switch m.name {
		case modeWithout:
			res.Without = r
		case modeCurrent:
			res.Current = r
		case modeBaseline:
			res.Baseline = r
		case modeNullPatch:
			res.NullPatch = r
		}
	}
	res.CurrentVsNullPatch = ratiosOf(res.Current, res.NullPatch)
	if c, bl := res.Current, res.Baseline; bl != nil && bl.P99us > 0 && bl.P99RoundMedianUs > 0 && bl.PodsPerS > 0 {
		res.P99Ratio, res.P99RoundMedianRatio, res.PodsPerSRatio = c.P99us/bl.P99us, c.P99RoundMedianUs/bl.P99RoundMedianUs, c.PodsPerS/bl.PodsPerS
		if w := bl.CPUPerPod["webhook"]; w > 0 {
			res.WebhookCPURatio = c.CPUPerPod["webhook"] / w
		}
	}
	return res, nil
}
