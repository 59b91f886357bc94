// Command bench measures ha-webhook's admission latency, throughput and memory against a null webhook served by the
// same stack, and Pod creation through a real kube-apiserver without a webhook, with a null webhook and with
// ha-webhook, against a patching null webhook that answers with ha-webhook's own patch, ha-webhook's memory with a
// cluster of 10,000 workloads and their pods, and its time to ready there. It is a program, not a test: `go run .`
// in test/bench (table), `-json` (one JSON object), `-quick` (shorter measurements), `-plot ../../docs/latency.png`,
// `-baseline-repo DIR` (an older checkout's binary measured beside this one: memory, and Pod creation through the
// API server with the cluster filled). docs/benchmarks.md explains the method and records a run.
// test/bench is a Go module of its own, so that vegeta and gonum/plot stay out of ha-webhook's go.mod.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// options are the benchmark's knobs; full and quick runs differ only in these.
type options struct {
	quick bool
	json  bool
	plot  string

	// rate is the open-loop offered rate of every webhook case, in requests per second.
	rate int
	// openDur and closedDur are each case's total open-loop and closed-loop time, split into rounds that alternate
	// between the cases of a phase so that a burst of foreign load on the machine hits all of them alike.
	openDur, closedDur time.Duration
	rounds             int
	// conc is the closed-loop concurrency (connections) for maximum throughput.
	conc int
	// warmup precedes each case's first measurement (connections, caches, code paths) and is not counted.
	warmup time.Duration

	// namespaces × perNamespace PDBs, as many HPAs and as many workloads fill the cluster for the _10k cases.
	namespaces, perNamespace int
	fillWorkers              int

	// apiClients create pods concurrently through the API server, in apiRounds rounds of apiRoundDur per mode.
	apiClients  int
	apiRounds   int
	apiRoundDur time.Duration
	apiWarmup   time.Duration

	// phases limits the run to some phases while developing: webhook, api, fill (with the _10k cases), rss,
	// ready_10k, api_10k.
	phases map[string]bool

	// rss measures the resident memory of a separate `ha-webhook serve` process (built from cmd/webhook).
	rss bool
	// rssRuns is how many fresh processes of each binary measure the memory with the fill cached (0: 1, or 2 with
	// a baseline).
	rssRuns int
	// readyRuns is how many fresh `ha-webhook serve` processes measure the time to ready with the fill (ready_10k).
	readyRuns int
	// baselineRepo is another checkout of ha-webhook (a git worktree of an older commit) whose cmd/webhook is built
	// the same way and measured beside the current one: memory, and Pod CREATE through the API server after the fill.
	baselineRepo string

	// cpuProfile, when set, is written at the end of the run by an extra closed-loop run of profileCase, outside
	// the measurements.
	cpuProfile string
	// apiCPUProfile, when set, is a directory: after the api rounds, one more round of the patching null and of
	// ha-webhook each, with the webhook process's CPU profiled into webhook-MODE.pprof; after the api_10k rounds likewise
	// (webhook-10k-MODE.pprof).
	apiCPUProfile string
	profileCase   string
}

func defaultOptions() options {
	return options{
		rate: 1000, openDur: 10 * time.Second, closedDur: 5 * time.Second, rounds: 5, conc: 8, warmup: 500 * time.Millisecond,
		namespaces: 1000, perNamespace: 10, fillWorkers: 48,
		apiClients: 32, apiRounds: 3, apiRoundDur: 5 * time.Second, apiWarmup: time.Second,
		rss: true, readyRuns: 5,
	}
}

// quickOptions finish in about a minute: same cases and the same 10k/10k cache, shorter measurements.
func (o options) quickOptions() options {
	o.openDur, o.closedDur, o.rounds, o.warmup = 2*time.Second, time.Second, 2, 200*time.Millisecond
	o.apiRounds, o.apiRoundDur, o.apiWarmup = 1, 2*time.Second, 300*time.Millisecond
	o.readyRuns = 3
	return o
}

// withRSSRuns resolves rssRuns 0: one process per binary, two (in ABBA order) with a baseline to compare with.
func (o options) withRSSRuns() options {
	if o.rssRuns <= 0 {
		o.rssRuns = 1
		if o.baselineRepo != "" {
			o.rssRuns = 2
		}
	}
	return o
}

func main() {
	if isChild() {
		os.Exit(childMain()) // the benchmark's webhook process (child.go)
	}
	o := defaultOptions()
	flag.BoolVar(&o.quick, "quick", false, "short measurements (about a minute), same cases and cache size")
	flag.BoolVar(&o.json, "json", false, "print one JSON object on stdout (the table goes to stderr)")
	flag.StringVar(&o.plot, "plot", "", "write a latency plot (PNG) to this file, e.g. docs/latency.png")
	flag.IntVar(&o.rate, "rate", o.rate, "open-loop offered rate per webhook case, requests/s")
	flag.IntVar(&o.conc, "conc", o.conc, "closed-loop concurrency for maximum throughput")
	flag.IntVar(&o.namespaces, "namespaces", o.namespaces, "namespaces of the validate_10k fill")
	flag.IntVar(&o.perNamespace, "per-namespace", o.perNamespace, "PDBs (and HPAs) per namespace of the fill")
	flag.IntVar(&o.apiClients, "api-clients", o.apiClients, "concurrent pod-creating clients through the API server")
	apiRounds := flag.Int("api-rounds", 0, "rounds per mode through the API server (0: 3, or 1 with -quick)")
	apiRoundDur := flag.Duration("api-round", 0, "duration of one round per mode through the API server (0: 5s, or 2s with -quick)")
	flag.BoolVar(&o.rss, "rss", o.rss, "measure the resident memory of a separate ha-webhook serve process")
	flag.IntVar(&o.rssRuns, "rss-runs", 0, "fresh processes per binary measuring the memory with the fill cached, alternating (0: 1, or 2 with -baseline-repo)")
	readyRuns := flag.Int("ready-runs", 0, "fresh ha-webhook serve processes timed from start to ready with the fill (0: 5, or 3 with -quick)")
	flag.StringVar(&o.baselineRepo, "baseline-repo", "", "another checkout of ha-webhook (e.g. `git worktree add /tmp/base COMMIT`): build its cmd/webhook the same way and measure it beside this one (rss, api_10k)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "after the measurements, profile one extra closed-loop run of -profile-case into this file")
	flag.StringVar(&o.apiCPUProfile, "api-cpuprofile", "", "directory: after the api rounds, profile the webhook process during one more round of the patching null and of ha-webhook (webhook-null_patch.pprof, webhook-with.pprof); after the api_10k rounds likewise, with the fill cached (webhook-10k-null_patch.pprof, webhook-10k-current.pprof)")
	flag.StringVar(&o.profileCase, "profile-case", "mutate", "case profiled by -cpuprofile: null, mutate, mutate_64k, validate, validate_deny, validate_10k, validate_pdb_10k")
	phases := flag.String("phases", "webhook,api,fill,rss,ready_10k,api_10k", "phases to run (a subset of webhook,api,fill,rss,ready_10k,api_10k; rss after the fill, ready_10k and api_10k need fill); the JSON of a partial run lacks the others' keys")
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	o.rss = o.rss && o.phases["rss"]
	if o.quick {
		q := o.quickOptions()
		q.quick = true
		o = q
	}
	if *apiRounds > 0 {
		o.apiRounds = *apiRounds
	}
	if *apiRoundDur > 0 {
		o.apiRoundDur = *apiRoundDur
	}
	if *readyRuns > 0 {
		o.readyRuns = *readyRuns
	}
	o = o.withRSSRuns()
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rep, samples, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if o.plot != "" {
		if err := writePlot(o.plot, samples, rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench: plot:", err)
			os.Exit(1)
		}
	}
	if o.json {
		printTable(os.Stderr, rep) // beside the progress lines, so one run gives both
		if err := writeJSON(os.Stdout, rep); err != nil {
			os.Exit(1)
		}
		return
	}
	printTable(os.Stdout, rep)
}

func writeJSON(w io.Writer, rep *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// progress prints timestamped progress lines on w (stderr), so a run shows where its time goes.
type progress struct {
	w     io.Writer
	start time.Time
}

func (p progress) printf(format string, a ...any) {
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, a...))
}

// loadAverage is the first field of /proc/loadavg: how busy the machine was with other work.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

func machine() map[string]any {
	m := map[string]any{"gomaxprocs": runtime.GOMAXPROCS(0), "num_cpu": runtime.NumCPU(), "go": runtime.Version(),
		"os_arch": runtime.GOOS + "/" + runtime.GOARCH, "loadavg_1m_at_start": loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if name := cpuModel(string(b)); name != "" {
			m["cpu"] = name
		}
	}
	return m
}
