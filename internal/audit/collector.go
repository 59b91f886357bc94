package audit

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Workload states, the values of the state label.
const (
	StateCompliant = "compliant"
	StateViolating = "violating"
	StateExempt    = "exempt"
)

// State is a workload's state as the gauges count it: exempt (ha-webhook.io/exempt; its violations are only
// advisories), violating (the validating webhook denies its next update in enforce mode), or compliant.
func State(w report.Workload) string {
	switch {
	case w.Result.Exemption != "":
		return StateExempt
	case len(w.Result.Violations) > 0:
		return StateViolating
	}
	return StateCompliant
}

// Collector exports the latest audit as gauges. Labels are bounded: namespace (opted-in ones only) and rule or state,
// never a workload's or pod's name. Every opted-in namespace has every series, zeros included, so that an alert on
// "> 0" and a panel's sum see a namespace that is fine. Before the first audit there are no series.
type Collector struct {
	latest func() *Result

	workloads, violations, stalling, cut, uninjected, completed, duration *prometheus.Desc
}

// NewCollector exports what latest returns at each scrape.
func NewCollector(latest func() *Result) *Collector {
	ns := []string{"namespace"}
	return &Collector{
		latest: latest,
		workloads: prometheus.NewDesc("ha_webhook_audit_workloads",
			"Deployments and StatefulSets in opted-in namespaces, by state: compliant, violating (their next update is denied in enforce mode), exempt.",
			[]string{"namespace", "state"}, nil),
		violations: prometheus.NewDesc("ha_webhook_audit_workload_violations",
			"Workloads that violate each rule now.", []string{"namespace", "rule"}, nil),
		stalling: prometheus.NewDesc("ha_webhook_audit_stalling_pdbs",
			"PodDisruptionBudgets whose status allows no disruption while they expect pods: a drain of their nodes waits.", ns, nil),
		cut: prometheus.NewDesc("ha_webhook_audit_cut_services",
			"Services whose backing pods a drain may evict all at once: the next node upgrade cuts their traffic.", ns, nil),
		uninjected: prometheus.NewDesc("ha_webhook_audit_uninjected_pods",
			"Serving pods that lack what the mutating webhook injects (created while it was down, before the namespace opted in, or in audit mode).", ns, nil),
		completed: prometheus.NewDesc("ha_webhook_audit_last_completed_timestamp_seconds",
			"Unix time at which the last audit completed.", nil, nil),
		duration: prometheus.NewDesc("ha_webhook_audit_duration_seconds",
			"How long the last audit took.", nil, nil),
	}
}

// Describe sends the descriptors.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.workloads, c.violations, c.stalling, c.cut, c.uninjected, c.completed, c.duration} {
		ch <- d
	}
}

// Collect sends the gauges of the latest audit.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	res := c.latest()
	if res == nil {
		return
	}
	for ns, counts := range Count(res.Report) {
		for _, state := range []string{StateCompliant, StateViolating, StateExempt} {
			ch <- prometheus.MustNewConstMetric(c.workloads, prometheus.GaugeValue, float64(counts.States[state]), ns, state)
		}
		for _, rule := range validate.WorkloadRules() {
			ch <- prometheus.MustNewConstMetric(c.violations, prometheus.GaugeValue, float64(counts.Rules[rule]), ns, rule)
		}
		ch <- prometheus.MustNewConstMetric(c.stalling, prometheus.GaugeValue, float64(counts.StallingPDBs), ns)
		ch <- prometheus.MustNewConstMetric(c.cut, prometheus.GaugeValue, float64(counts.CutServices), ns)
		ch <- prometheus.MustNewConstMetric(c.uninjected, prometheus.GaugeValue, float64(counts.UninjectedPods), ns)
	}
	ch <- prometheus.MustNewConstMetric(c.completed, prometheus.GaugeValue, float64(res.Completed.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.duration, prometheus.GaugeValue, res.Duration.Seconds())
}

// Counts are one namespace's gauges.
type Counts struct {
	States                                    map[string]int
	Rules                                     map[string]int
	StallingPDBs, CutServices, UninjectedPods int
}

// Count tallies a report per namespace; every reported namespace is present.
func Count(r report.Report) map[string]*Counts {
	out := map[string]*Counts{}
	for _, ns := range r.Namespaces {
		out[ns.Name] = &Counts{States: map[string]int{}, Rules: map[string]int{}}
	}
	at := func(ns string) *Counts {
		if c, ok := out[ns]; ok {
			return c
		}
		c := &Counts{States: map[string]int{}, Rules: map[string]int{}}
		out[ns] = c
		return c
	}
	for _, w := range r.Workloads {
		c := at(w.Namespace)
		c.States[State(w)]++
		for _, rule := range violatedRules(w) {
			c.Rules[rule]++
		}
	}
	for _, p := range r.StallingPDBs {
		at(p.Namespace).StallingPDBs++
	}
	for _, s := range r.CutServices {
		at(s.Namespace).CutServices++
	}
	for _, p := range r.UninjectedPods {
		at(p.Namespace).UninjectedPods++
	}
	return out
}

// violatedRules are the rules w violates, each once.
func violatedRules(w report.Workload) []string {
	var out []string
	for _, v := range w.Result.Violations {
		if !slices.Contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	return out
}
