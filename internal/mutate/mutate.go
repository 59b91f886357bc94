// Package mutate injects into a Pod what a serving container needs to be replaced without dropping requests: a
// readiness probe, a preStop sleep and a termination grace period raised by that sleep. The functions here are pure:
// no client, no context; internal/admission adapts them to admission requests.
package mutate

// Field names used in Injection.Field and in the ha-webhook.io/injected record.
const (
	FieldReadinessProbe = "readinessProbe"
	FieldPreStop        = "preStop"
	FieldGracePeriod    = "terminationGracePeriodSeconds"
)

// Injection is one thing the mutation added (or, in audit mode, would add).
type Injection struct {
	// Container is empty for pod-level fields.
	Container string `json:"container,omitempty"`
	Field     string `json:"field"`
	Value     any    `json:"value"`
}

// Result says what Pod did.
type Result struct {
	// SkipReason is set when the whole pod was left alone.
	SkipReason string
	Injections []Injection
	// Warnings are about the pod's own settings (bad overrides, preStop not injectable), never about injections.
	Warnings []string
}
