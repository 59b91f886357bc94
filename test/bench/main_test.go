package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// TestMain lets the test binary be the benchmark's webhook process too (child.go): the program starts itself
// again with childEnv set.
func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// TestBenchmarkRuns runs the whole benchmark program (every phase: webhook cases, pods through the API server
// against the webhook process, the fill with its pods, the separate ha-webhook processes for memory, time to ready and
// pods through the API server after the fill, a baseline binary beside the current one, the plot) on a tiny load, so that it cannot rot. It asserts no
// figure: only that every request was answered as its case expects and that -json has every key docs and the
// issue rely on.
func TestBenchmarkRuns(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	o := defaultOptions()
	o.quick = true
	o.rate, o.openDur, o.closedDur, o.rounds, o.conc, o.warmup = 50, 300*time.Millisecond, 200*time.Millisecond, 1, 2, 100*time.Millisecond
	o.namespaces, o.perNamespace, o.fillWorkers = 4, 5, 4 // every fifth workload of a namespace is a StatefulSet
	o.apiClients, o.apiRounds, o.apiRoundDur, o.apiWarmup = 2, 1, 300*time.Millisecond, 100*time.Millisecond
	o.readyRuns = 2
	o.phases = map[string]bool{"webhook": true, "api": true, "fill": true, "rss": true, "ready_10k": true, "api_10k": true}
	// This checkout as its own baseline: the -baseline-repo code path (a second build, both processes measured
	// alternately, both registered in turn) at the cost of a build the build cache mostly answers.
	o.baselineRepo = testenv.RepoRoot()
	o.cpuProfile, o.profileCase = filepath.Join(t.TempDir(), "cpu.pprof"), "mutate"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, samples, err := run(ctx, o, &log)
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := writeJSON(&out, rep); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("-json output is not one JSON object: %v\n%s", err, out.String())
	}
	for _, c := range []string{"null", "mutate", "mutate_64k", "validate", "validate_deny", "validate_10k", "validate_pdb_10k", "null_10k"} {
		obj, ok := got[c].(map[string]any)
		if !ok {
			t.Errorf("key %q missing or not an object", c)
			continue
		}
		for _, k := range []string{"p50_us", "p90_us", "p99_us", "max_us", "rate_rps", "errors", "max_rps", "max_rps_errors", "cpu_us_per_request"} {
			if _, ok := obj[k].(float64); !ok {
				t.Errorf("%s.%s missing or not a number", c, k)
			}
		}
		if obj["errors"] != 0.0 || obj["max_rps_errors"] != 0.0 || obj["requests"] == 0.0 {
			t.Errorf("%s: %v requests, %v errors at the fixed rate, %v in the closed loop", c, obj["requests"], obj["errors"], obj["max_rps_errors"])
		}
	}
	for _, k := range []string{"rss_mib", "rss_peak_mib", "rss_baseline_mib", "rss_no_pods_mib"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, got[k])
		}
	}
	positive := func(path string, v any) {
		if f, ok := v.(float64); !ok || f <= 0 {
			t.Errorf("%s = %v, want a positive number", path, v)
		}
	}
	if runs, ok := got["rss_runs_mib"].([]any); !ok || len(runs) != 2 {
		t.Errorf("rss_runs_mib = %v, want 2 runs (the default with a baseline)", got["rss_runs_mib"])
	}
	if runs, ok := got["rss_no_pods_runs_mib"].([]any); !ok || len(runs) != 2 {
		t.Errorf("rss_no_pods_runs_mib = %v, want 2 runs", got["rss_no_pods_runs_mib"])
	}
	for _, k := range []string{"rss_pods_mib", "rss_per_10k_pods_mib"} { // a difference of two figures: any sign
		if _, ok := got[k].(float64); !ok {
			t.Errorf("%s = %v, want a number", k, got[k])
		}
	}
	if rd, ok := got["ready_10k"].(map[string]any); !ok {
		t.Errorf("ready_10k missing")
	} else {
		for _, k := range []string{"ready_median_s", "ready_max_s", "admission_median_s", "admission_max_s"} {
			positive("ready_10k."+k, rd[k])
		}
		if runs, ok := rd["ready_seconds"].([]any); !ok || len(runs) != o.readyRuns {
			t.Errorf("ready_10k.ready_seconds = %v, want %d runs", rd["ready_seconds"], o.readyRuns)
		}
	}
	if bl, ok := got["baseline"].(map[string]any); !ok {
		t.Errorf("baseline missing")
	} else {
		for _, k := range []string{"rss_mib", "rss_peak_mib", "rss_empty_mib", "rss_ratio", "rss_peak_ratio", "rss_empty_ratio"} {
			positive("baseline."+k, bl[k])
		}
		if runs, ok := bl["rss_runs_mib"].([]any); !ok || len(runs) != 2 {
			t.Errorf("baseline.rss_runs_mib = %v", bl["rss_runs_mib"])
		}
		if bl["commit"] == "" || bl["repo"] == "" {
			t.Errorf("baseline = %v, want its repo and commit", bl)
		}
	}
	if a10, ok := got["apiserver_10k"].(map[string]any); !ok {
		t.Errorf("apiserver_10k missing")
	} else {
		for _, mode := range []string{"without", "current", "baseline", "null_patch"} {
			m, ok := a10[mode].(map[string]any)
			if !ok {
				t.Errorf("apiserver_10k.%s missing", mode)
				continue
			}
			for _, k := range []string{"p50_us", "p99_us", "p99_round_median_us", "pods_per_s"} {
				positive("apiserver_10k."+mode+"."+k, m[k])
			}
			if m["errors"] != 0.0 {
				t.Errorf("apiserver_10k.%s.errors = %v", mode, m["errors"])
			}
			if mode != "without" {
				if m["webhook_calls_per_pod"] != 1.0 {
					t.Errorf("apiserver_10k.%s.webhook_calls_per_pod = %v, want 1", mode, m["webhook_calls_per_pod"])
				}
				if _, ok := m["webhook_cpu_us_per_admission"].(float64); !ok {
					t.Errorf("apiserver_10k.%s.webhook_cpu_us_per_admission = %v", mode, m["webhook_cpu_us_per_admission"])
				}
			}
		}
		for _, k := range []string{"p99_ratio", "p99_round_median_ratio", "pods_per_s_ratio"} {
			positive("apiserver_10k."+k, a10[k])
		}
		if r, ok := a10["current_vs_null_patch"].(map[string]any); !ok {
			t.Errorf("apiserver_10k.current_vs_null_patch missing")
		} else {
			positive("apiserver_10k.current_vs_null_patch.pods_per_s", r["pods_per_s"])
		}
	}
	api, ok := got["apiserver"].(map[string]any)
	if !ok {
		t.Fatalf("apiserver missing")
	}
	for _, k := range []string{"without_p99_us", "null_p99_us", "with_p99_us", "without_pods_per_s", "null_pods_per_s", "with_pods_per_s",
		"null_patch_p99_us", "null_patch_pods_per_s"} {
		if v, ok := api[k].(float64); !ok || v <= 0 {
			t.Errorf("apiserver.%s = %v, want a positive number", k, api[k])
		}
	}
	for _, k := range []string{"without_errors", "null_errors", "null_patch_errors", "with_errors"} {
		if api[k] != 0.0 {
			t.Errorf("apiserver.%s = %v", k, api[k])
		}
	}
	calls, _ := api["webhook_calls_per_pod"].(map[string]any)
	perAdmission, _ := api["webhook_cpu_us_per_admission"].(map[string]any)
	for _, mode := range []string{"null", "null_patch", "with"} {
		if calls[mode] != 1.0 {
			t.Errorf("apiserver.webhook_calls_per_pod.%s = %v, want 1", mode, calls[mode])
		}
		if _, ok := perAdmission[mode].(float64); !ok {
			t.Errorf("apiserver.webhook_cpu_us_per_admission.%s = %v", mode, perAdmission[mode])
		}
	}
	if r, ok := api["with_vs_null_patch"].(map[string]any); !ok {
		t.Errorf("apiserver.with_vs_null_patch missing")
	} else {
		for _, k := range []string{"pods_per_s", "p50", "p99"} {
			positive("apiserver.with_vs_null_patch."+k, r[k])
		}
	}
	n := float64(o.namespaces * o.perNamespace)
	if f, ok := got["fill"].(map[string]any); !ok || f["pdbs"] != n || f["workloads"] != n || f["statefulsets"] == 0.0 ||
		f["deployments"] == 0.0 || f["services"] != n || f["pods"] != n || f["pods_uninjected"] == 0.0 || f["pod_bytes"] == 0.0 {
		t.Errorf("fill = %v", got["fill"])
	}
	if a, ok := got["allocs_per_admission"].(map[string]any); !ok || a["mutate_pod"] == 0.0 {
		t.Errorf("allocs_per_admission = %v", got["allocs_per_admission"])
	}
	if ts, ok := got["targets"].([]any); !ok || len(ts) < 8 {
		t.Errorf("targets = %v", got["targets"])
	}

	var table bytes.Buffer
	printTable(&table, rep)
	t.Log("\n" + table.String())
	png := filepath.Join(t.TempDir(), "latency.png")
	if err := writePlot(png, samples, rep); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot is not a PNG (%v)", err)
	}
	if fi, err := os.Stat(o.cpuProfile); err != nil || fi.Size() == 0 {
		t.Errorf("no CPU profile written (%v)", err)
	}
}
