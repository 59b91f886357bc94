package e2e

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

var (
	flagNodes    = flag.Int("drill.nodes", DefaultOptions().Nodes, "nodes in the pool, each replaced once")
	flagPreStop  = flag.Int("drill.prestop-sleep", DefaultOptions().PreStopSleepSeconds, "opted-in pods' ha-webhook.io/prestop-sleep-seconds")
	flagLag      = flag.Duration("drill.proxy-lag", DefaultOptions().ProxyLag, "how late the proxy applies endpoint changes (Kong: ~3s)")
	flagAppStart = flag.Duration("drill.app-start", DefaultOptions().AppStartDelay, "application start-up time, container start to listening")
	flagInterval = flag.Duration("drill.interval", DefaultOptions().RequestInterval, "pause between two GETs to one Service")
	flagPlot     = flag.String("drill.plot", "", "write the runs' timeline to this PNG file (docs/drill.png: -drill.plot=../../docs/drill.png)")
)

// TestDrill runs the upgrade drill twice on one control plane: with the opted-in namespaces enforcing (the webhook
// injects), then in audit mode (it only warns). See docs/drill.md.
func TestDrill(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	start := time.Now()
	o := DefaultOptions()
	o.Nodes, o.PreStopSleepSeconds, o.ProxyLag, o.AppStartDelay, o.RequestInterval = *flagNodes, *flagPreStop, *flagLag, *flagAppStart, *flagInterval
	o.Logf = func(format string, args ...any) {
		fmt.Printf("[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	fmt.Printf("Drill: %d nodes, preStop sleep %ds (annotation %s), proxy lag %s, application start-up %s, a GET every %s per Service\n",
		o.Nodes, o.PreStopSleepSeconds, names.AnnotationPreStopSleepSeconds, o.ProxyLag, o.AppStartDelay, o.RequestInterval)

	ctx := t.Context()
	h, err := StartHarness(ctx, o)
	if err != nil {
		t.Fatalf("starting the drill's control plane: %v", err)
	}
	passed := false
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
		if passed {
			_ = h.Cluster.RemoveLogs()
		} else {
			fmt.Printf("component logs kept in %s\n", h.Cluster.LogDir)
		}
	})
	o.Logf("control plane, kwok and ha-webhook up (logs in %s)", h.Cluster.LogDir)

	enforce, err := h.RunDrill(ctx, "enforce", policy.ModeEnforce)
	if err != nil {
		t.Fatalf("enforce run: %v", err)
	}
	fmt.Println("\n== ha-webhook report --all-namespaces, before the enforce run's upgrade")
	if err := report.WriteText(os.Stdout, enforce.Report); err != nil {
		t.Fatal(err)
	}
	enforce.Print(os.Stdout)

	audit, err := h.RunDrill(ctx, "audit", policy.ModeAudit)
	if err != nil {
		t.Fatalf("audit run: %v", err)
	}
	fmt.Printf("\n== ha-webhook report -n %s, before the audit run's upgrade\n", strings.Join(NewFleet("audit").Namespaces(), " -n "))
	if err := report.WriteText(os.Stdout, audit.RunReport); err != nil {
		t.Fatal(err)
	}
	audit.Print(os.Stdout)
	printComparison(enforce, audit)
	if *flagPlot != "" {
		if err := WritePlot(*flagPlot, o, enforce.Timeline, audit.Timeline); err != nil {
			t.Errorf("drawing the timeline: %v", err)
		} else {
			fmt.Printf("\ntimeline drawn in %s\n", *flagPlot)
		}
	}
	fmt.Printf("\nDrill done in %s.\n", time.Since(start).Round(time.Second))

	checkEnforce(t, o, enforce)
	checkAudit(t, o, audit)
	passed = !t.Failed()
}

// checkEnforce asserts what the webhook promises: not one failed GET and never zero ready endpoints for opted-in
// services, a control group that does fail, an upgrade that never stalls, and a report that saw it coming.
func checkEnforce(t *testing.T, o Options, r Result) {
	t.Helper()
	fleet := NewFleet(r.Run)
	optedIn, control := r.Group(groupOptedIn), r.Group(groupControl)
	if want := optedInPods(fleet); r.Pods != want || r.Injected != want {
		t.Errorf("enforce: %d of %d opted-in pods injected, want all %d", r.Injected, r.Pods, want)
	}
	if optedIn.Failed != 0 {
		t.Errorf("enforce: %d of %d GETs to opted-in services failed, want 0: %s", optedIn.Failed, optedIn.Sent, formatReasons(optedIn.Reasons))
	}
	// The structural reason for the zero: the proxy stopped routing to every stopping pod before it stopped accepting
	// connections (the preStop sleep outlasted the proxy's lag), and routed to every new pod only once it listened
	// (the readiness probe).
	if optedIn.Stops == 0 || optedIn.StopMargin <= 0 {
		t.Errorf("enforce: %d opted-in pods stopped; closest call %s between the proxy stopping to route and the pod stopping, want > 0",
			optedIn.Stops, optedIn.StopMargin)
	}
	if optedIn.Starts == 0 || optedIn.StartMargin <= 0 {
		t.Errorf("enforce: %d opted-in pods started; closest call %s between the pod listening and the proxy routing to it, want > 0",
			optedIn.Starts, optedIn.StartMargin)
	}
	if optedIn.LongestWithoutEndpoints != 0 {
		t.Errorf("enforce: opted-in service %s had no ready endpoint for %s, want never", optedIn.WorstService, optedIn.LongestWithoutEndpoints)
	}
	minSent := int64(len(fleet.Group(groupOptedIn))) * int64(r.Upgrade.Duration/o.RequestInterval) / 2
	if optedIn.Sent < minSent {
		t.Errorf("enforce: only %d GETs sent to opted-in services during a %s upgrade, want at least %d", optedIn.Sent, r.Upgrade.Duration, minSent)
	}
	if control.Failed == 0 {
		t.Errorf("enforce: no GET to the control group failed (%d sent): the drill cannot see failures", control.Sent)
	}
	for _, x := range r.Shapes {
		if x.Sent == 0 {
			t.Errorf("enforce: no GET sent to the %s group's %s (%v)", x.Group, x.Shape, x.Services)
		}
	}
	checkUpgrade(t, o, r)

	// The report, run before the upgrade with --all-namespaces, lists the control group's problems — and none of the
	// opted-in services'.
	rep := r.Report
	for _, a := range fleet.Group(groupControl) {
		if d, ok := find(rep.Workloads, func(d report.Workload) bool {
			return d.Kind == "Deployment" && d.Namespace == a.Namespace && d.Name == a.Name
		}); !ok {
			t.Errorf("report: Deployment %s missing", a.Key())
		} else if rules := ruleIDs(d.Violations); !strings.Contains(rules, validate.RuleMinReplicas) || !strings.Contains(rules, validate.RulePDBMissing) {
			t.Errorf("report: Deployment %s violations %q, want %s and %s", a.Key(), rules, validate.RuleMinReplicas, validate.RulePDBMissing)
		}
		if _, ok := find(rep.UninjectedPods, func(p report.Pod) bool { return p.Namespace == a.Namespace && p.Owner == "Deployment/"+a.Name }); !ok {
			t.Errorf("report: the pod of %s is not listed as running without injections", a.Key())
		}
		if _, ok := find(rep.CutServices, func(s report.Service) bool { return s.Namespace == a.Namespace && s.Name == a.Name }); !ok {
			t.Errorf("report: Service %s is not listed as cut by a drain", a.Key())
		}
	}
	for _, a := range fleet.Group(groupOptedIn) {
		if d, ok := find(rep.Workloads, func(d report.Workload) bool {
			return d.Kind == a.Kind && d.Namespace == a.Namespace && d.Name == a.Name
		}); !ok || len(d.Violations) > 0 {
			t.Errorf("report: opted-in %s %s: found %v, violations %q; want found, none", a.Kind, a.Key(), ok, ruleIDs(d.Violations))
		}
		inNS := func(ns string) bool { return ns == a.Namespace }
		if _, ok := find(rep.UninjectedPods, func(p report.Pod) bool { return inNS(p.Namespace) }); ok {
			t.Errorf("report: an opted-in pod of %s is listed as uninjected", a.Namespace)
		}
		if _, ok := find(rep.CutServices, func(s report.Service) bool { return inNS(s.Namespace) }); ok {
			t.Errorf("report: an opted-in Service of %s is listed as cut", a.Namespace)
		}
		if _, ok := find(rep.StallingPDBs, func(p report.PDB) bool { return inNS(p.Namespace) }); ok {
			t.Errorf("report: a PDB of %s is listed as stalling", a.Namespace)
		}
	}
	if n := len(fleet.Group(groupControl)); rep.Summary.CutServices < n {
		t.Errorf("report summary %q: want at least %d cut services", rep.Summary.Text, n)
	}
}

// checkAudit asserts that without the injections the same fleet loses GETs in the same upgrade: the zero of the
// enforce run is the mutation's doing, not a blind harness.
func checkAudit(t *testing.T, o Options, r Result) {
	t.Helper()
	fleet := NewFleet(r.Run)
	if r.Injected != 0 {
		t.Errorf("audit: %d opted-in pods carry injections, want none", r.Injected)
	}
	if optedIn := r.Group(groupOptedIn); optedIn.Failed == 0 {
		t.Errorf("audit: no GET to opted-in services failed without the injections (%d sent)", optedIn.Sent)
	}
	if want := optedInPods(fleet); len(r.RunReport.UninjectedPods) < want {
		t.Errorf("audit: report lists %d uninjected pods, want at least the %d opted-in ones", len(r.RunReport.UninjectedPods), want)
	}
	checkUpgrade(t, o, r)
}

// checkUpgrade asserts that every node was replaced, and every pod of each StatefulSet with it: each evicted pod
// recreated under its own name.
func checkUpgrade(t *testing.T, o Options, r Result) {
	t.Helper()
	if r.Upgrade.Stalled() || len(r.Upgrade.Nodes) != o.Nodes {
		t.Errorf("%s: upgrade stalled or incomplete: %d of %d nodes replaced, stalled %v", r.Run, len(r.Upgrade.Nodes), o.Nodes, r.Upgrade.Stalled())
	}
	if len(r.StatefulSets) == 0 {
		t.Errorf("%s: no StatefulSet in the fleet", r.Run)
	}
	for _, s := range r.StatefulSets {
		if s.Replaced < s.Replicas || len(s.Names) != s.Replicas {
			t.Errorf("%s: StatefulSet %s: %d pods replaced under names %v, want each of its %d replicas replaced under its name",
				r.Run, s.Key, s.Replaced, s.Names, s.Replicas)
		}
	}
}

func optedInPods(f Fleet) int {
	n := 0
	for _, a := range f.Group(groupOptedIn) {
		n += int(a.Replicas)
	}
	return n
}

func ruleIDs(vs []validate.Violation) string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.Rule
	}
	return strings.Join(ids, ",")
}

func find[T any](list []T, match func(T) bool) (T, bool) {
	for _, x := range list {
		if match(x) {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// printComparison puts the opted-in group of both runs side by side: what the mutation prevented.
func printComparison(enforce, audit Result) {
	e, a := enforce.Group(groupOptedIn), audit.Group(groupOptedIn)
	fmt.Printf("\n== What the mutation prevented (opted-in group, same fleet, same upgrade)\n")
	fmt.Printf("enforce (injected): %d of %d GETs failed\n", e.Failed, e.Sent)
	fmt.Printf("audit (not injected): %d of %d GETs failed: %s\n", a.Failed, a.Sent, formatReasons(a.Reasons))
}
