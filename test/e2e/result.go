package e2e

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Result is the outcome of one drill run.
type Result struct {
	Run  string
	Mode policy.Mode
	// Injected and Pods count the opted-in pods before the upgrade, and those carrying ha-webhook.io/injected.
	Injected, Pods int
	Groups         []GroupResult
	// Shapes break the groups' GETs down by kind of workload and budget.
	Shapes       []ShapeResult
	StatefulSets []StatefulSetResult
	Upgrade      UpgradeResult
	// Report is `ha-webhook report --all-namespaces` before the upgrade; RunReport the same for this run's
	// namespaces only.
	Report, RunReport report.Report
	// Traffic is the time traffic flowed, from before the upgrade until Settle after it.
	Traffic time.Duration
	// Timeline is the run second by second, for the picture.
	Timeline Timeline
	// CacheLagDenials counts workloads denied pdb-missing because the webhook's cache lagged their PDB (retried).
	CacheLagDenials int
}

// GroupResult is what one group's Services saw.
type GroupResult struct {
	Group string
	// Services counts the group's Services, one per workload; Deployments and StatefulSets the workloads.
	Services, Deployments, StatefulSets int
	Sent, Failed                        int64
	Reasons                             map[string]int64
	// LongestWithoutEndpoints is the longest stretch, over the group's Services, during which the proxy had no
	// ready endpoint to route to; WorstService names that Service.
	LongestWithoutEndpoints time.Duration
	WorstService            string
	// Stops counts the group's processes that stopped during the run while the proxy routed to them, and StopMargin
	// is the smallest time by which the proxy stopped routing to one before it stopped accepting connections
	// (negative: the proxy kept routing to a stopped process that long). Starts and StartMargin likewise for the
	// processes the proxy started routing to during the run: the smallest time by which it listened first
	// (negative: the proxy routed to one that long while it did not listen).
	Stops, Starts           int
	StopMargin, StartMargin time.Duration
}

// ShapeResult is what the Services of one group and one App.Shape saw.
type ShapeResult struct {
	Group, Shape string
	// Services lists them ("namespace/name").
	Services     []string
	Sent, Failed int64
	// Replicas counts their pods; FewestEndpoints is the fewest ready endpoints the proxy routed them to together.
	Replicas, FewestEndpoints int
}

// StatefulSetResult is how a StatefulSet's pods were replaced: Replaced pods stopped during the run, under Names
// (the StatefulSet recreates each evicted pod under its name).
type StatefulSetResult struct {
	Key      string
	Replicas int
	Replaced int
	Names    []string
}

// Group returns the result of one group.
func (r Result) Group(name string) GroupResult {
	for _, g := range r.Groups {
		if g.Group == name {
			return g
		}
	}
	return GroupResult{Group: name}
}

// count sums the traffic's counts per group and per shape, and measures the group's margins.
func (h *Harness) count(res *Result, fleet Fleet, traffic *Traffic, from, to time.Time) {
	for _, group := range []string{groupOptedIn, groupControl} {
		g := GroupResult{Group: group, Reasons: map[string]int64{}}
		for _, a := range fleet.Group(group) {
			g.Services++
			if a.Kind == validate.KindStatefulSet {
				g.StatefulSets++
			} else {
				g.Deployments++
			}
			s := traffic.Stats(a.Key())
			g.Sent += s.Sent
			g.Failed += s.Failed
			for r, n := range s.Reasons {
				g.Reasons[r] += n
			}
			if d := h.Proxy.LongestWithoutEndpoints(a.Key(), from, to); d > g.LongestWithoutEndpoints {
				g.LongestWithoutEndpoints, g.WorstService = d, a.Key()
			}
			k := slices.IndexFunc(res.Shapes, func(x ShapeResult) bool { return x.Group == group && x.Shape == a.Shape() })
			if k < 0 {
				res.Shapes = append(res.Shapes, ShapeResult{Group: group, Shape: a.Shape()})
				k = len(res.Shapes) - 1
			}
			x := &res.Shapes[k]
			x.Services = append(x.Services, a.Key())
			x.Sent += s.Sent
			x.Failed += s.Failed
			x.Replicas += int(a.Replicas)
			if a.Kind == validate.KindStatefulSet {
				res.StatefulSets = append(res.StatefulSets, h.replaced(a, from, to))
			}
		}
		h.margins(&g, fleet, from, to)
		res.Groups = append(res.Groups, g)
	}
	seconds := int(to.Sub(from)/time.Second) + 1
	for i := range res.Shapes {
		x := &res.Shapes[i]
		x.FewestEndpoints = slices.Min(h.Proxy.LowestEndpoints(x.Services, from, seconds))
	}
}

// replaced counts the StatefulSet's pods whose process stopped during [from, to], and their names.
func (h *Harness) replaced(a App, from, to time.Time) StatefulSetResult {
	r := StatefulSetResult{Key: a.Key(), Replicas: int(a.Replicas)}
	for _, p := range h.Runtime.Processes() {
		if p.Namespace != a.Namespace || !isOrdinalName(p.Name, a.Name) || p.StoppedAt.Before(from) || p.StoppedAt.After(to) {
			continue
		}
		r.Replaced++
		if !slices.Contains(r.Names, p.Name) {
			r.Names = append(r.Names, p.Name)
		}
	}
	slices.Sort(r.Names)
	return r
}

// isOrdinalName reports whether pod is one of the StatefulSet set's pods: set-0, set-1…
func isOrdinalName(pod, set string) bool {
	n, ok := strings.CutPrefix(pod, set+"-")
	_, err := strconv.Atoi(n)
	return ok && err == nil
}

// margins computes how close the group's pods came to losing a request when they stopped and started.
func (h *Harness) margins(g *GroupResult, f Fleet, from, to time.Time) {
	namespaces := map[string]bool{}
	for _, a := range f.Group(g.Group) {
		namespaces[a.Namespace] = true
	}
	within := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }
	for _, p := range h.Runtime.Processes() {
		routed, ok := h.Proxy.Routed(p.UID)
		if !namespaces[p.Namespace] || !ok {
			continue
		}
		if within(p.StoppedAt) && !routed.From.After(p.StoppedAt) {
			until := routed.Until
			if until.IsZero() {
				until = to
			}
			m := p.StoppedAt.Sub(until)
			if g.Stops == 0 || m < g.StopMargin {
				g.StopMargin = m
			}
			g.Stops++
		}
		if within(routed.From) {
			// Positive: it listened that long before the proxy routed to it. Negative: the proxy routed to it that
			// long while it did not listen (until it listened, the proxy stopped routing to it, or the run ended).
			m := routed.From.Sub(p.ListeningAt)
			if p.ListeningAt.IsZero() || p.ListeningAt.After(routed.From) {
				end := to
				if !routed.Until.IsZero() && routed.Until.Before(end) {
					end = routed.Until
				}
				if !p.ListeningAt.IsZero() && p.ListeningAt.Before(end) {
					end = p.ListeningAt
				}
				m = -end.Sub(routed.From)
			}
			if g.Starts == 0 || m < g.StartMargin {
				g.StartMargin = m
			}
			g.Starts++
		}
	}
}

// Print writes a run's results: the upgrade, then per group the GETs sent and failed, why they failed, and the
// longest stretch without a ready endpoint.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\n== Drill %q: opted-in namespaces in %s mode; %d of %d opted-in pods carry %s\n",
		r.Run, r.Mode, r.Injected, r.Pods, names.AnnotationInjected)
	fmt.Fprintf(w, "upgrade: %d nodes replaced in %s (surge: add a node, cordon, evict through the Eviction API, delete)",
		len(r.Upgrade.Nodes), r.Upgrade.Duration.Round(100*time.Millisecond))
	if r.Upgrade.Stalled() {
		fmt.Fprint(w, " — STALLED")
	}
	fmt.Fprintln(w)
	for _, n := range r.Upgrade.Nodes {
		fmt.Fprintf(w, "  %s → %s: %d pods evicted in %s, %d evictions refused (429) by a PDB\n",
			n.Old, n.New, n.Evicted, n.Drain.Round(100*time.Millisecond), n.Refused)
	}
	fmt.Fprintf(w, "traffic: %s of steady GETs through the proxy, from before the first eviction until all pods were replaced\n",
		r.Traffic.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "group\tServices\tDeployments\tStatefulSets\tGETs sent\tGETs failed\tlongest without a ready endpoint\t")
	for _, g := range r.Groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", g.Group, g.Services, g.Deployments, g.StatefulSets, g.Sent, g.Failed,
			g.LongestWithoutEndpoints.Round(100*time.Millisecond))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "by workload and budget:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  group\tworkload\tServices\tGETs sent\tGETs failed\tfewest ready endpoints")
	for _, x := range r.Shapes {
		services := strconv.Itoa(len(x.Services))
		if len(x.Services) <= 2 {
			var names []string
			for _, key := range x.Services {
				_, name, _ := strings.Cut(key, "/")
				names = append(names, name)
			}
			services += " (" + strings.Join(names, ", ") + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d of %d\n", x.Group, x.Shape, services, x.Sent, x.Failed, x.FewestEndpoints, x.Replicas)
	}
	_ = tw.Flush()
	for _, s := range r.StatefulSets {
		fmt.Fprintf(w, "StatefulSet %s: %d pods stopped and recreated under their names (%s)\n", s.Key, s.Replaced, strings.Join(s.Names, ", "))
	}
	for _, g := range r.Groups {
		if g.Stops > 0 {
			fmt.Fprintf(w, "%s: %s\n", g.Group, describeMargin(g.Stops, g.StopMargin, "pods stopped",
				"the proxy stopped routing to each at least %s before it stopped accepting connections",
				"the proxy kept routing to one for %s after it stopped accepting connections"))
		}
		if g.Starts > 0 {
			fmt.Fprintf(w, "%s: %s\n", g.Group, describeMargin(g.Starts, g.StartMargin, "pods started",
				"each listened at least %s before the proxy routed to it",
				"the proxy routed to one for %s while it did not listen yet"))
		}
	}
	for _, g := range r.Groups {
		if g.Failed > 0 {
			fmt.Fprintf(w, "%s failures: %s\n", g.Group, formatReasons(g.Reasons))
		}
		if g.LongestWithoutEndpoints > 0 {
			fmt.Fprintf(w, "%s: longest without a ready endpoint: %s (%s)\n", g.Group, g.WorstService,
				g.LongestWithoutEndpoints.Round(100*time.Millisecond))
		}
	}
}

// describeMargin renders the closest call of n events: good (format with the margin) or bad (with its opposite).
func describeMargin(n int, margin time.Duration, events, good, bad string) string {
	d := margin.Round(100 * time.Millisecond)
	if margin >= 0 {
		return fmt.Sprintf("%d %s: %s", n, events, fmt.Sprintf(good, d))
	}
	return fmt.Sprintf("%d %s: %s", n, events, fmt.Sprintf(bad, -d))
}
