// Package metrics holds ha-webhook's own Prometheus metrics, served next to controller-runtime's webhook metrics.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ha-webhook/ha-webhook/internal/policy"
)

// Metrics are created once per server and registered on the registry it serves.
type Metrics struct {
	mutations  *prometheus.CounterVec
	violations *prometheus.CounterVec
	exemptions prometheus.Counter
	shed       prometheus.Counter
}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		mutations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ha_webhook_mutations_total",
			Help: "Fields injected into pods (in audit mode: that would have been injected), by field and mode.",
		}, []string{"field", "mode"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ha_webhook_violations_total",
			Help: "Deployment rule violations found at admission, by rule and mode (enforce denies, audit warns).",
		}, []string{"rule", "mode"}),
		exemptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ha_webhook_exemptions_total",
			Help: "Deployments admitted because of the ha-webhook.io/exempt annotation.",
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ha_webhook_admissions_shed_total",
			Help: "Admission requests answered at once with an error because --max-in-flight requests were already being handled; the API server's failurePolicy decided them.",
		}),
	}
	var err error
	if m.mutations, err = register(reg, m.mutations); err != nil {
		return nil, err
	}
	if m.violations, err = register(reg, m.violations); err != nil {
		return nil, err
	}
	if m.exemptions, err = register(reg, m.exemptions); err != nil {
		return nil, err
	}
	if m.shed, err = register(reg, m.shed); err != nil {
		return nil, err
	}
	return m, nil
}

// register adopts an identical collector already registered, so that several servers in one process (tests) share
// one set of series instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func (m *Metrics) Mutated(field string, mode policy.Mode) {
	m.mutations.WithLabelValues(field, string(mode)).Inc()
}

func (m *Metrics) Violation(rule string, mode policy.Mode) {
	m.violations.WithLabelValues(rule, string(mode)).Inc()
}

func (m *Metrics) Exempted() { m.exemptions.Inc() }

// Shed counts a request answered at once because the replica was handling --max-in-flight already.
func (m *Metrics) Shed() { m.shed.Inc() }

// Replace registers c, first unregistering a collector with the same descriptors: a collector that reads a server's
// state must be the running server's, also when tests start several servers in one process.
func Replace(reg prometheus.Registerer, c prometheus.Collector) error {
	reg.Unregister(c)
	return reg.Register(c)
}
