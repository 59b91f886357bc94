// Package admission adapts the pure rules to admission requests: each handler decodes the request's object once into
// its typed struct, calls the pure function (mutate.Pod, validate.Deployment or validate.Update), and builds the
// response — the JSON patch over the fields the mutation owns, warnings, audit annotations and metrics. The
// handlers implement controller-runtime's admission.Handler; internal/server serves them over HTTP. What they read
// besides the request (the namespace's mode, PDBs and HPAs) comes through the lookups in lookup.go.
package admission

import (
	"context"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// ModeLookup returns the mode in force for a namespace. An error means the answer is unknown (e.g. caches not
// synced): the request must then fail, per the webhook's failurePolicy, rather than pass silently.
type ModeLookup func(ctx context.Context, namespace string) (policy.Mode, error)

// ClusterLookup returns the PDBs and HPAs of a namespace.
type ClusterLookup func(ctx context.Context, namespace string) (validate.Cluster, error)

// MutationRecorder counts mutations; the server passes its Prometheus metrics.
type MutationRecorder interface {
	Mutated(field string, mode policy.Mode)
}

// ViolationRecorder counts violations and exemptions; the server passes its Prometheus metrics.
type ViolationRecorder interface {
	Violation(rule string, mode policy.Mode)
	Exempted()
}

// LookupTimeout bounds how long a request waits for a lookup (the informer cache, or a live read), well inside the
// webhook's 5 s timeout.
const LookupTimeout = 2 * time.Second
