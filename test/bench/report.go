package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// caseResult is one webhook case. Latencies are in microseconds; open-loop figures at the fixed offered rate,
// max_rps* from the closed loop.
type caseResult struct {
	P50us float64 `json:"p50_us"`
	P90us float64 `json:"p90_us"`
	P99us float64 `json:"p99_us"`
	// P99RoundMedianUs is the median of the rounds' p99 (robust to a burst of foreign load in one round).
	P99RoundMedianUs float64 `json:"p99_round_median_us"`
	MaxUs            float64 `json:"max_us"`
	OfferedRPS       float64 `json:"offered_rps"`
	RateRPS          float64 `json:"rate_rps"`
	Requests         int     `json:"requests"`
	Errors           int     `json:"errors"`
	MaxRPS           float64 `json:"max_rps"`
	MaxRPSP50us      float64 `json:"max_rps_p50_us"`
	MaxRPSP99us      float64 `json:"max_rps_p99_us"`
	MaxRPSErr        int     `json:"max_rps_errors"`
	Conc             int     `json:"max_rps_concurrency"`
	// CPUusPerReq is this process's CPU time (ha-webhook's server and the load generator) per closed-loop request:
	// unlike the rates, it hardly depends on what else the machine runs.
	CPUusPerReq float64 `json:"cpu_us_per_request"`
	BodyBytes   int     `json:"request_bytes"`
}

func (m *measured) result(rate, conc, bodyBytes int) *caseResult {
	p, c := m.open.percentiles(), m.closed.percentiles()
	r := &caseResult{
		P50us: us(p.p50), P90us: us(p.p90), P99us: us(p.p99), P99RoundMedianUs: us(m.open.medianRoundP99()), MaxUs: us(p.max),
		OfferedRPS: float64(rate), Requests: m.open.requests, Errors: m.open.errors,
		MaxRPSP50us: us(c.p50), MaxRPSP99us: us(c.p99), MaxRPSErr: m.closed.errors, Conc: conc, BodyBytes: bodyBytes,
	}
	if m.closed.requests > 0 {
		r.CPUusPerReq = us(m.cpu) / float64(m.closed.requests)
	}
	if s := m.open.elapsed.Seconds(); s > 0 {
		r.RateRPS = float64(m.open.requests) / s
	}
	if s := m.closed.elapsed.Seconds(); s > 0 {
		r.MaxRPS = float64(m.closed.requests-m.closed.errors) / s
	}
	return r
}

// apiResult is Pod CREATE through the API server in the three modes.
type apiResult struct {
	WithoutP50       float64 `json:"without_p50_us"`
	WithoutP99       float64 `json:"without_p99_us"`
	WithoutP99Median float64 `json:"without_p99_round_median_us"`
	NullP50          float64 `json:"null_p50_us"`
	NullP99          float64 `json:"null_p99_us"`
	NullP99Median    float64 `json:"null_p99_round_median_us"`
	// NullPatch*: a null webhook that answers with a one-line patch, registered like the others.
	NullPatchP50       float64 `json:"null_patch_p50_us"`
	NullPatchP99       float64 `json:"null_patch_p99_us"`
	NullPatchP99Median float64 `json:"null_patch_p99_round_median_us"`
	NullPatchRate      float64 `json:"null_patch_pods_per_s"`
	NullPatchErrors    int     `json:"null_patch_errors"`
	WithP50            float64 `json:"with_p50_us"`
	WithP99            float64 `json:"with_p99_us"`
	WithP99Median      float64 `json:"with_p99_round_median_us"`
	WithoutRate        float64 `json:"without_pods_per_s"`
	NullRate           float64 `json:"null_pods_per_s"`
	WithRate           float64 `json:"with_pods_per_s"`
	WithoutErrors      int     `json:"without_errors"`
	NullErrors         int     `json:"null_errors"`
	WithErrors         int     `json:"with_errors"`
	Clients            int     `json:"clients"`
	Rounds             int     `json:"rounds"`
	RoundSeconds       float64 `json:"round_seconds"`
	DryRun             bool    `json:"dry_run"`
	// CPUPerPod is the CPU time per created pod, by mode, of kube-apiserver, etcd, the webhook process (ha-webhook's
	// server with the null webhooks on its webhook server, a process of its own: "webhook") and this process (the
	// pod-creating clients: "clients").
	CPUPerPod map[string]map[string]float64 `json:"cpu_us_per_pod"`
	// WebhookCPUPerAdmission is the webhook process's CPU time per call the API server made to it, by mode.
	WebhookCPUPerAdmission map[string]float64 `json:"webhook_cpu_us_per_admission"`
	// CallsPerPod is how many times the API server called the webhook per pod, by mode (1: no reinvocation).
	CallsPerPod map[string]float64 `json:"webhook_calls_per_pod"`
	// WithVsNullPatch is ha-webhook over the patching null webhook, which answers with ha-webhook's own patch: what
	// ha-webhook's own work costs beyond what any webhook making the same change costs.
	WithVsNullPatch *modeRatios `json:"with_vs_null_patch"`
}

// modeRatios are one mode's figures over another's.
type modeRatios struct {
	PodsPerS       float64 `json:"pods_per_s"`
	P50            float64 `json:"p50"`
	P99            float64 `json:"p99"`
	P99RoundMedian float64 `json:"p99_round_median"`
	// WebhookCPUPerPod is the webhook process's CPU per pod; APIServerCPUPerPod kube-apiserver's; TotalCPUPerPod
	// that of every process measured (kube-apiserver, etcd, webhook, clients).
	WebhookCPUPerPod   float64 `json:"webhook_cpu_per_pod"`
	APIServerCPUPerPod float64 `json:"apiserver_cpu_per_pod"`
	TotalCPUPerPod     float64 `json:"total_cpu_per_pod"`
}

// apiModeResult is Pod CREATE through the API server in one mode of the api_10k phase.
type apiModeResult struct {
	P50us            float64 `json:"p50_us"`
	P99us            float64 `json:"p99_us"`
	P99RoundMedianUs float64 `json:"p99_round_median_us"`
	PodsPerS         float64 `json:"pods_per_s"`
	Pods             int     `json:"pods"`
	Errors           int     `json:"errors"`
	// CPUPerPod is the CPU time per pod of kube-apiserver, etcd, the webhook process serving the mode (from its
	// /proc/PID/stat: "webhook"), and this process (the pod-creating clients; its in-process server is idle in these
	// phases: "clients").
	CPUPerPod map[string]float64 `json:"cpu_us_per_pod"`
	// CallsPerPod is how many times the API server called the webhook per pod (1: no reinvocation).
	CallsPerPod float64 `json:"webhook_calls_per_pod,omitempty"`
	// WebhookCPUPerAdmission is the webhook process's CPU time per call the API server made to it.
	WebhookCPUPerAdmission float64 `json:"webhook_cpu_us_per_admission,omitempty"`
}

// apiFilledResult is the api_10k phase: Pod CREATE through the API server with the cluster filled, ha-webhook served
// by a separate process of the current binary and, with -baseline-repo, of the baseline's.
type apiFilledResult struct {
	Clients      int            `json:"clients"`
	Rounds       int            `json:"rounds"`
	RoundSeconds float64        `json:"round_seconds"`
	DryRun       bool           `json:"dry_run"`
	Without      *apiModeResult `json:"without"`
	Current      *apiModeResult `json:"current"`
	Baseline     *apiModeResult `json:"baseline,omitempty"`
	// NullPatch is the patching null webhook (ha-webhook's own patch, answered by the benchmark's webhook process,
	// whose cache holds the fill too); CurrentVsNullPatch the current binary's figures over it.
	NullPatch          *apiModeResult `json:"null_patch"`
	CurrentVsNullPatch *modeRatios    `json:"current_vs_null_patch"`
	// The current binary's figures over the baseline's.
	P99Ratio            float64 `json:"p99_ratio,omitempty"`
	P99RoundMedianRatio float64 `json:"p99_round_median_ratio,omitempty"`
	PodsPerSRatio       float64 `json:"pods_per_s_ratio,omitempty"`
	WebhookCPURatio     float64 `json:"webhook_cpu_per_pod_ratio,omitempty"`
}

// baselineResult is the baseline binary (-baseline-repo) measured beside the current one, in the same run.
type baselineResult struct {
	Repo    string `json:"repo"`
	Commit  string `json:"commit"`
	Subject string `json:"subject"`
	// Dirty: the checkout's tracked files differ from its commit.
	Dirty bool `json:"dirty"`
	// RSSMiB and RSSPeakMiB are the medians of RSSRunsMiB and RSSPeakRunsMiB (VmRSS and VmHWM with the fill
	// cached); RSSEmptyMiB is VmRSS on the empty cluster.
	RSSMiB         float64   `json:"rss_mib"`
	RSSPeakMiB     float64   `json:"rss_peak_mib"`
	RSSEmptyMiB    float64   `json:"rss_empty_mib"`
	RSSRunsMiB     []float64 `json:"rss_runs_mib"`
	RSSPeakRunsMiB []float64 `json:"rss_peak_runs_mib"`
	// The current binary's figures over the baseline's.
	RSSRatio      float64 `json:"rss_ratio"`
	RSSPeakRatio  float64 `json:"rss_peak_ratio"`
	RSSEmptyRatio float64 `json:"rss_empty_ratio"`
}

// targetCheck is one of the targets, as a ratio against its limit.
type targetCheck struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	// AtMost: the value must be ≤ the limit; otherwise ≥.
	AtMost bool `json:"at_most"`
	OK     bool `json:"ok"`
	// Robust is the same ratio from figures a shared machine disturbs less: the median of the rounds' p99 for
	// latency, the inverse ratio of CPU time per request (or per pod, all control-plane processes included) for
	// throughput. Zero when there is none.
	Robust   float64 `json:"robust_value,omitempty"`
	RobustOK bool    `json:"robust_ok,omitempty"`
}

// report is the -json output.
type report struct {
	Null      *caseResult `json:"null"`
	Mutate    *caseResult `json:"mutate"`
	Mutate64k *caseResult `json:"mutate_64k"`
	Validate  *caseResult `json:"validate"`
	// ValidateDeny is validate enforced: denied, and every denial confirmed by a live read of the namespace.
	ValidateDeny *caseResult `json:"validate_deny"`
	Validate10k  *caseResult `json:"validate_10k"`
	// ValidatePDB10k is a PDB UPDATE in a filled namespace, judged by its impact on the namespace's workloads.
	ValidatePDB10k *caseResult `json:"validate_pdb_10k"`
	// Null10k is the null webhook measured again with the cache filled, alternating with validate_10k.
	Null10k *caseResult `json:"null_10k"`
	// RSSMiB is VmRSS of a separate `ha-webhook serve` with the full fill in the cluster, pods included, after
	// serving (the median of RSSRunsMiB, one fresh process each); RSSPeakMiB its VmHWM; RSSBaselineMiB VmRSS of the
	// same on an empty cluster (the empty cluster's "baseline", not the baseline binary's: that is Baseline).
	RSSMiB         float64   `json:"rss_mib"`
	RSSPeakMiB     float64   `json:"rss_peak_mib"`
	RSSBaselineMiB float64   `json:"rss_baseline_mib"`
	RSSRunsMiB     []float64 `json:"rss_runs_mib"`
	RSSPeakRunsMiB []float64 `json:"rss_peak_runs_mib"`
	// RSSNoPodsMiB is the same measured, in the same run and on fresh processes, before the pods were created (the
	// median of RSSNoPodsRunsMiB); RSSPodsMiB = RSSMiB - RSSNoPodsMiB is what the fill's pods cost, and
	// RSSPer10kPodsMiB that scaled to 10,000 pods.
	RSSNoPodsMiB     float64   `json:"rss_no_pods_mib"`
	RSSNoPodsRunsMiB []float64 `json:"rss_no_pods_runs_mib"`
	RSSPodsMiB       float64   `json:"rss_pods_mib"`
	RSSPer10kPodsMiB float64   `json:"rss_per_10k_pods_mib"`
	// Ready10k is the time a fresh `ha-webhook serve` takes to be ready with the full fill in the cluster.
	Ready10k *readyResult `json:"ready_10k,omitempty"`
	// Baseline is the binary built from -baseline-repo, measured in the same run.
	Baseline  *baselineResult `json:"baseline,omitempty"`
	APIServer *apiResult      `json:"apiserver"`
	// APIServer10k is Pod CREATE through the API server with the cluster filled, separate ha-webhook processes.
	APIServer10k *apiFilledResult `json:"apiserver_10k,omitempty"`
	Fill         *fillResult      `json:"fill"`
	Allocs       allocResult      `json:"allocs_per_admission"`
	Targets      []targetCheck    `json:"targets"`
	Machine      map[string]any   `json:"machine"`
	Config       map[string]any   `json:"config"`
}

func (r *report) setCase(name string, c *caseResult) {
	switch name {
	case "null":
		r.Null = c
	case "mutate":
		r.Mutate = c
	case "mutate_64k":
		r.Mutate64k = c
	case "validate":
		r.Validate = c
	case "validate_deny":
		r.ValidateDeny = c
	case "validate_10k":
		r.Validate10k = c
	case "validate_pdb_10k":
		r.ValidatePDB10k = c
	case "null_10k":
		r.Null10k = c
	}
}

// namedCase is a webhook case's result under its name.
type namedCase struct {
	name string
	c    *caseResult
}

func (r *report) cases() []namedCase {
	return []namedCase{{"null", r.Null}, {"mutate", r.Mutate}, {"mutate_64k", r.Mutate64k}, {"validate", r.Validate},
		{"validate_deny", r.ValidateDeny}, {"null_10k", r.Null10k}, {"validate_10k", r.Validate10k}, {"validate_pdb_10k", r.ValidatePDB10k}}
}

func configOf(o options) map[string]any {
	return map[string]any{
		"quick": o.quick, "rate_rps": o.rate, "open_seconds_per_case": o.openDur.Seconds(),
		"closed_seconds_per_case": o.closedDur.Seconds(), "rounds": o.rounds, "closed_loop_concurrency": o.conc,
		"namespaces": o.namespaces, "per_namespace": o.perNamespace,
		"api_clients": o.apiClients, "api_rounds": o.apiRounds, "api_round_seconds": o.apiRoundDur.Seconds(),
		"rss_runs": o.rssRuns, "ready_runs": o.readyRuns, "baseline_repo": o.baselineRepo,
	}
}

// evaluateTargets checks the targets. They are reported, never asserted: a shared 2-core machine is noisy.
func evaluateTargets(r *report) []targetCheck {
	var out []targetCheck
	check := func(name string, a, b, robustA, robustB, limit float64, atMost bool) {
		if b == 0 {
			return
		}
		pass := func(v float64) bool {
			if atMost {
				return v <= limit
			}
			return v >= limit
		}
		t := targetCheck{Name: name, Value: a / b, Limit: limit, AtMost: atMost}
		t.OK = pass(t.Value)
		if robustB > 0 {
			t.Robust = robustA / robustB
			t.RobustOK = pass(t.Robust)
		}
		out = append(out, t)
	}
	if n, m, v := r.Null, r.Mutate, r.Validate; n != nil && m != nil && v != nil {
		check("mutate p99 / null p99", m.P99us, n.P99us, m.P99RoundMedianUs, n.P99RoundMedianUs, 1.25, true)
		check("validate p99 / null p99", v.P99us, n.P99us, v.P99RoundMedianUs, n.P99RoundMedianUs, 1.25, true)
		check("mutate max_rps / null max_rps", m.MaxRPS, n.MaxRPS, n.CPUusPerReq, m.CPUusPerReq, 0.8, false)
		check("validate max_rps / null max_rps", v.MaxRPS, n.MaxRPS, n.CPUusPerReq, v.CPUusPerReq, 0.8, false)
	}
	if v10, v := r.Validate10k, r.Validate; v10 != nil && v != nil {
		check("validate_10k p99 / validate p99", v10.P99us, v.P99us, v10.P99RoundMedianUs, v.P99RoundMedianUs, 1.25, true)
		if n10, n := r.Null10k, r.Null; n10 != nil && n != nil && n10.P99us > 0 && n.P99us > 0 && n10.P99RoundMedianUs > 0 && n.P99RoundMedianUs > 0 {
			// Each phase's p99 divided by its own null p99: what the fill changed beyond the machine's state.
			check("(info) (validate_10k/null_10k) / (validate/null), p99", v10.P99us/n10.P99us, v.P99us/n.P99us,
				v10.P99RoundMedianUs/n10.P99RoundMedianUs, v.P99RoundMedianUs/n.P99RoundMedianUs, 1.25, true)
		}
	}
	limit := func(name string, v, limit float64) {
		if v > 0 {
			out = append(out, targetCheck{Name: name, Value: v, Limit: limit, AtMost: true, OK: v <= limit})
		}
	}
	// The memory target is at the full fill, 10,000 pods included; 128 MiB was the target before the fill had pods
	// and Services.
	limit("rss_mib (full fill, pods included)", r.RSSMiB, 192)
	limit("(info) rss_no_pods_mib", r.RSSNoPodsMiB, 128)
	if rd := r.Ready10k; rd != nil {
		limit("ready_10k seconds to /readyz, median", rd.ReadyMedianS, 10)
		limit("ready_10k seconds to /readyz, max", rd.ReadyMaxS, 10)
		limit("(info) ready_10k seconds to first admission, max", rd.AdmissionMaxS, 10)
	}
	if a := r.APIServer; a != nil {
		cpu := func(mode string) float64 {
			var sum float64
			for _, v := range a.CPUPerPod[mode] {
				sum += v
			}
			return sum
		}
		// Issue 13's targets are against the patching null webhook: it answers with ha-webhook's own patch, so the API
		// server does the same work for both, and the difference is ha-webhook's own.
		check("apiserver with pods/s / null_patch pods/s", a.WithRate, a.NullPatchRate, cpu(modeNullPatch), cpu(modeWith), 0.95, false)
		check("apiserver with_p99 / null_patch_p99", a.WithP99, a.NullPatchP99, a.WithP99Median, a.NullPatchP99Median, 1.10, true)
		if r := a.WithVsNullPatch; r != nil && r.WebhookCPUPerPod > 0 {
			limit("apiserver webhook CPU per pod, with / null_patch", r.WebhookCPUPerPod, 1.5)
		}
		check("(info) apiserver with_p99 / null_p99", a.WithP99, a.NullP99, a.WithP99Median, a.NullP99Median, 1.10, true)
		check("(info) apiserver with pods/s / null pods/s", a.WithRate, a.NullRate, cpu(modeNull), cpu(modeWith), 0.9, false)
		if f := r.APIServer10k; f != nil && f.Current != nil && f.NullPatch != nil && a.NullPatchP99 > 0 && a.NullPatchP99Median > 0 {
			// With the fill cached against the empty cache; robust: each over its own phase's patching null, since the
			// filled control plane is slower for every webhook.
			check("apiserver_10k with_p99 / apiserver with_p99 (robust: each / its null_patch)", f.Current.P99us, a.WithP99,
				f.Current.P99us/f.NullPatch.P99us, a.WithP99/a.NullPatchP99, 1.10, true)
		}
	}
	return out
}

// printTable writes the readable report.
func printTable(w io.Writer, r *report) {
	mode := "full"
	if q, _ := r.Config["quick"].(bool); q {
		mode = "quick"
	}
	fmt.Fprintf(w, "ha-webhook benchmark (%s run) on %v, %v CPUs (GOMAXPROCS %v), %v; load average %v at start, %v at end\n\n",
		mode, r.Machine["cpu"], r.Machine["num_cpu"], r.Machine["gomaxprocs"], r.Machine["go"],
		r.Machine["loadavg_1m_at_start"], r.Machine["loadavg_1m_at_end"])

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if slices.ContainsFunc(r.cases(), func(c namedCase) bool { return c.c != nil }) { // a partial run may have none
		fmt.Fprintf(w, "Webhook over HTTPS, in-process load: open loop at %v req/s (latency), closed loop with %v connections (max req/s)\n",
			r.Config["rate_rps"], r.Config["closed_loop_concurrency"])
		fmt.Fprintln(tw, "case\trequest\toffered/s\tp50 µs\tp90 µs\tp99 µs\tp99 µs, median round\tmax µs\treq/s\terrors\tmax req/s\tCPU µs/req\terrors\t")
		for _, c := range r.cases() {
			if c.c == nil {
				continue
			}
			x := c.c
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.0f\t%.0f\t%d\t\n", c.name, kib(x.BodyBytes), x.OfferedRPS,
				x.P50us, x.P90us, x.P99us, x.P99RoundMedianUs, x.MaxUs, x.RateRPS, x.Errors, x.MaxRPS, x.CPUusPerReq, x.MaxRPSErr)
		}
		tw.Flush()
	}

	if a := r.APIServer; a != nil {
		fmt.Fprintf(w, "\nPod CREATE through kube-apiserver (server-side dry run), %d clients, %d round(s) × %.0f s per mode, alternating; "+
			"the webhooks in a process of their own\n", a.Clients, a.Rounds, a.RoundSeconds)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "webhook\tp50 µs\tp99 µs\tp99 µs, median round\tpods/s\terrors\tcalls/pod\tCPU µs/pod: kube-apiserver\tetcd\twebhook\tclients\twebhook CPU µs/admission\t")
		row := func(name, mode string, p50, p99, p99m, rate float64, errs int) {
			c := a.CPUPerPod[mode]
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%s\t%.0f\t%.0f\t%s\t%.0f\t%s\t\n", name, p50, p99, p99m, rate, errs,
				optional("%.2f", a.CallsPerPod, mode), c["kube-apiserver"], c["etcd"], optional("%.0f", c, "webhook"), c["clients"],
				optional("%.0f", a.WebhookCPUPerAdmission, mode))
		}
		row("none", modeWithout, a.WithoutP50, a.WithoutP99, a.WithoutP99Median, a.WithoutRate, a.WithoutErrors)
		row("null", modeNull, a.NullP50, a.NullP99, a.NullP99Median, a.NullRate, a.NullErrors)
		row("null, patching", modeNullPatch, a.NullPatchP50, a.NullPatchP99, a.NullPatchP99Median, a.NullPatchRate, a.NullPatchErrors)
		row("ha-webhook", modeWith, a.WithP50, a.WithP99, a.WithP99Median, a.WithRate, a.WithErrors)
		tw.Flush()
		printRatios(w, "ha-webhook / patching null (the same patch)", a.WithVsNullPatch)
	}

	if a := r.APIServer10k; a != nil {
		fmt.Fprintf(w, "\nPod CREATE through kube-apiserver with the fill cached, ha-webhook as a separate process, %d clients, %d round(s) × %.0f s per mode, alternating\n",
			a.Clients, a.Rounds, a.RoundSeconds)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "webhook\tp50 µs\tp99 µs\tp99 µs, median round\tpods/s\terrors\tcalls/pod\tCPU µs/pod: kube-apiserver\tetcd\twebhook\tclients\twebhook CPU µs/admission\t")
		for _, m := range []struct {
			name string
			m    *apiModeResult
		}{{"none", a.Without}, {"ha-webhook", a.Current}, {"baseline", a.Baseline}, {"null, patching", a.NullPatch}} {
			if m.m == nil {
				continue
			}
			c := m.m.CPUPerPod
			calls, perAdmission := "", ""
			if m.m != a.Without {
				calls, perAdmission = fmt.Sprintf("%.2f", m.m.CallsPerPod), fmt.Sprintf("%.0f", m.m.WebhookCPUPerAdmission)
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%s\t%.0f\t%.0f\t%s\t%.0f\t%s\t\n", m.name, m.m.P50us, m.m.P99us, m.m.P99RoundMedianUs,
				m.m.PodsPerS, m.m.Errors, calls, c["kube-apiserver"], c["etcd"], optional("%.0f", c, "webhook"), c["clients"], perAdmission)
		}
		tw.Flush()
		if a.Baseline != nil {
			fmt.Fprintf(w, "  ha-webhook / baseline: p99 %.2f, median round p99 %.2f, pods/s %.2f, webhook CPU per pod %.2f\n",
				a.P99Ratio, a.P99RoundMedianRatio, a.PodsPerSRatio, a.WebhookCPURatio)
		}
		printRatios(w, "ha-webhook / patching null (the same patch)", a.CurrentVsNullPatch)
	}

	fmt.Fprintln(w)
	if f := r.Fill; f != nil {
		fmt.Fprintf(w, "Fill: %d namespaces, %d PDBs, %d HPAs, %d workloads, %d Services created in %.1f s (%.0f objects/s, %d workers); in ha-webhook's cache %.1f s later; settled %.1f s later\n",
			f.Namespaces, f.PDBs, f.HPAs, f.Workloads, f.Services, f.Seconds, f.ObjectsPerSecond, f.Workers, f.CacheLagSeconds, f.SettleSeconds)
		if f.Workloads > 0 {
			fmt.Fprintf(w, "  workloads: %d Deployments of %s and %d StatefulSets of %s as stored (JSON, managedFields included), a Deployment's last-applied-configuration %s; a Deployment's Service %s\n",
				f.Deployments, kib(f.DeploymentBytes), f.StatefulSets, kib(f.StatefulSetBytes), kib(f.LastAppliedBytes), kib(f.ServiceBytes))
		}
		if f.Pods > 0 {
			fmt.Fprintf(w, "  then %d pods (%d uninjected) of %s on average as stored with their status, created and given a running status in %.1f s (%.0f writes/s); settled %.1f s later\n",
				f.Pods, f.PodsUninjected, kib(f.PodBytes), f.PodsSeconds, f.PodWritesPerSecond, f.PodsSettleSeconds)
		}
	}
	if r.RSSMiB > 0 {
		fmt.Fprintf(w, "Memory of a separate `ha-webhook serve`: VmRSS %.1f MiB with the full fill cached (peak VmHWM %.1f MiB; runs %s); %.1f MiB on an empty cluster\n",
			r.RSSMiB, r.RSSPeakMiB, mibs(r.RSSRunsMiB), r.RSSBaselineMiB)
	}
	if r.RSSNoPodsMiB > 0 {
		pods := 0
		if r.Fill != nil {
			pods = r.Fill.Pods
		}
		fmt.Fprintf(w, "  without the pods %.1f MiB (runs %s): the %d pods cost %.1f MiB, %.1f MiB per 10,000 pods\n",
			r.RSSNoPodsMiB, mibs(r.RSSNoPodsRunsMiB), pods, r.RSSPodsMiB, r.RSSPer10kPodsMiB)
	}
	if bl := r.Baseline; bl != nil {
		fmt.Fprintf(w, "  baseline %.12s (%s%s): VmRSS %.1f MiB with the fill cached (peak %.1f MiB; runs %s); %.1f MiB empty\n",
			bl.Commit, bl.Subject, map[bool]string{true: ", dirty", false: ""}[bl.Dirty], bl.RSSMiB, bl.RSSPeakMiB, mibs(bl.RSSRunsMiB), bl.RSSEmptyMiB)
		fmt.Fprintf(w, "  current / baseline: VmRSS %.2f, peak %.2f, empty %.2f\n", bl.RSSRatio, bl.RSSPeakRatio, bl.RSSEmptyRatio)
	}
	if rd := r.Ready10k; rd != nil {
		fmt.Fprintf(w, "Time to ready of a fresh `ha-webhook serve` with the full fill, %d runs: /readyz 200 after %.2f s median, %.2f s max (%s s); "+
			"first admission (%s) after %.2f s median, %.2f s max (%s s)\n", rd.Runs, rd.ReadyMedianS, rd.ReadyMaxS, secs(rd.ReadySeconds),
			rd.Admission, rd.AdmissionMedianS, rd.AdmissionMaxS, secs(rd.AdmissionSeconds))
	}
	a := r.Allocs
	fmt.Fprintf(w, "Allocations per admission: mutate.Pod %.0f (64 KB pod %.0f), validate.Deployment %.0f (filled namespace %.0f); "+
		"handlers without HTTP: mutate %.0f (64 KB %.0f), validate %.0f (filled namespace %.0f)\n",
		a.MutatePod, a.MutatePod64k, a.ValidateDeployment, a.ValidateDeploymentNS, a.MutateHandler, a.MutateHandler64k,
		a.ValidateHandler, a.ValidateHandlerNS)

	fmt.Fprintln(w, "\nTargets (robust: median of the rounds' p99 for latency, inverse CPU time per request or per pod for throughput)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ratio\tlimit\tmeasured\t\trobust\t")
	status := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	for _, t := range r.Targets {
		rel := "≥"
		if t.AtMost {
			rel = "≤"
		}
		robust := "\t"
		if t.Robust > 0 {
			robust = fmt.Sprintf("%.2f\t%s", t.Robust, status(t.RobustOK))
		}
		fmt.Fprintf(tw, "  %s\t%s %.2f\t%.2f\t%s\t%s\t\n", t.Name, rel, t.Limit, t.Value, status(t.OK), robust)
	}
	tw.Flush()
}

// optional formats m[key], or "" when there is none (a mode without a webhook has no webhook figures).
func optional(format string, m map[string]float64, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	return fmt.Sprintf(format, v)
}

// printRatios writes one mode's figures over another's on one line.
func printRatios(w io.Writer, name string, r *modeRatios) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "  %s: pods/s %.2f, p50 %.2f, p99 %.2f, median round p99 %.2f; CPU per pod: webhook %.2f, kube-apiserver %.2f, all processes %.2f\n",
		name, r.PodsPerS, r.P50, r.P99, r.P99RoundMedian, r.WebhookCPUPerPod, r.APIServerCPUPerPod, r.TotalCPUPerPod)
}

// secs lists second figures: "3.21, 3.40".
func secs(l []float64) string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = fmt.Sprintf("%.2f", v)
	}
	return strings.Join(out, ", ")
}

func kib(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1024), ".0") + " KiB"
}

// mibs lists MiB figures: "96.7, 97.1".
func mibs(l []float64) string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = fmt.Sprintf("%.1f", v)
	}
	return strings.Join(out, ", ")
}
