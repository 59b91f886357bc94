package validate

import "fmt"

// Options configure the workload rules.
type Options struct {
	// MinReplicas is the fewest effective replicas a Deployment may run (0 always passes: nothing to protect).
	MinReplicas int32
	// AllowExemptions honours the ha-webhook.io/exempt annotation.
	AllowExemptions bool
}

// DefaultOptions are the documented defaults.
func DefaultOptions() Options {
	return Options{MinReplicas: 2, AllowExemptions: true}
}

// Validate rejects options that make no sense, naming them by their field names.
func (o Options) Validate() error {
	if o.MinReplicas < 1 {
		return fmt.Errorf("MinReplicas must be >= 1, got %d", o.MinReplicas)
	}
	return nil
}
