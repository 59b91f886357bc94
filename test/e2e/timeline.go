package e2e

import (
	"time"
)

// Timeline is what one drill run recorded second by second, for the picture (plot.go): second 0 is when traffic
// started.
type Timeline struct {
	Run string
	// Mode describes the opted-in namespaces' mode: "enforce", "audit".
	Mode    string
	Seconds int
	Groups  []GroupSeries
	Nodes   []NodeSpan
}

// GroupSeries is one group's traffic and endpoints, one value per second.
type GroupSeries struct {
	Group string
	// Services and Replicas count the group's Services and the pods behind them.
	Services, Replicas int
	Sent, Failed       []int64
	// Endpoints is the fewest ready endpoints the proxy routed the group's Services to during each second.
	Endpoints []int
}

// NodeSpan is one node's replacement: from the new node asked for to the old one deleted, in seconds since the
// timeline's second 0.
type NodeSpan struct {
	Old, New   string
	Start, End float64
	Evicted    int
	Refused    int
}

// TotalFailed sums the group's failed GETs.
func (g GroupSeries) TotalFailed() int64 { return sum(g.Failed) }

// TotalSent sums the group's GETs.
func (g GroupSeries) TotalSent() int64 { return sum(g.Sent) }

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// Group returns the series of one group.
func (t Timeline) Group(name string) GroupSeries {
	for _, g := range t.Groups {
		if g.Group == name {
			return g
		}
	}
	return GroupSeries{Group: name}
}

// timeline assembles a run's series from the traffic's counts, the proxy's endpoint history and the upgrade.
func (h *Harness) timeline(r Result, f Fleet, traffic *Traffic, from, to time.Time) Timeline {
	t := Timeline{Run: r.Run, Mode: string(r.Mode), Seconds: int(to.Sub(from)/time.Second) + 1}
	for _, group := range []string{groupOptedIn, groupControl} {
		g := GroupSeries{Group: group, Sent: make([]int64, t.Seconds), Failed: make([]int64, t.Seconds)}
		var services []string
		for _, a := range f.Group(group) {
			services = append(services, a.Key())
			g.Services++
			g.Replicas += int(a.Replicas)
			s := traffic.Stats(a.Key())
			for i := range min(len(s.SentPerSecond), t.Seconds) {
				g.Sent[i] += s.SentPerSecond[i]
				g.Failed[i] += s.FailedPerSecond[i]
			}
		}
		g.Endpoints = h.Proxy.LowestEndpoints(services, from, t.Seconds)
		t.Groups = append(t.Groups, g)
	}
	for _, n := range r.Upgrade.Nodes {
		t.Nodes = append(t.Nodes, NodeSpan{Old: n.Old, New: n.New, Start: n.Start.Sub(from).Seconds(), End: n.End.Sub(from).Seconds(),
			Evicted: n.Evicted, Refused: n.Refused})
	}
	return t
}
