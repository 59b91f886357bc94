package mutate

import (
	"errors"
	"fmt"
)

// PreStopMode selects how the preStop sleep is injected.
type PreStopMode string

const (
	// PreStopAuto injects the native sleep action when the API server supports it, otherwise nothing (with a warning).
	PreStopAuto PreStopMode = "auto"
	// PreStopSleep injects lifecycle.preStop.sleep: no binary needed in the image, so it works on distroless.
	PreStopSleep PreStopMode = "sleep"
	// PreStopExec injects an exec of `sleep N`: breaks on images without a sleep binary, so it is opt-in only.
	PreStopExec PreStopMode = "exec"
)

// ParsePreStopMode accepts auto, sleep or exec.
func ParsePreStopMode(s string) (PreStopMode, error) {
	switch PreStopMode(s) {
	case PreStopAuto, PreStopSleep, PreStopExec:
		return PreStopMode(s), nil
	}
	return "", fmt.Errorf("prestop mode must be auto, sleep or exec, got %q", s)
}

// ProbeDefaults are the timings of an injected readiness probe.
type ProbeDefaults struct {
	PeriodSeconds    int32
	TimeoutSeconds   int32
	FailureThreshold int32
	SuccessThreshold int32
}

// Options configure the pod mutation. Build them with DefaultOptions and check them with Validate.
type Options struct {
	// PreStopSleepSeconds is the sleep injected when a pod does not override it.
	PreStopSleepSeconds int64
	// MaxPreStopSleepSeconds bounds the per-pod override; always below MaxTerminationGracePeriodSeconds.
	MaxPreStopSleepSeconds int64
	// MaxTerminationGracePeriodSeconds caps the raised grace period.
	MaxTerminationGracePeriodSeconds int64
	PreStopMode                      PreStopMode
	// NativeSleepSupported tells PreStopAuto whether the API server accepts lifecycle.preStop.sleep.
	NativeSleepSupported bool
	Readiness            ProbeDefaults
}

// DefaultGracePeriodSeconds is what the API server sets when a pod names no terminationGracePeriodSeconds.
const DefaultGracePeriodSeconds int64 = 30

// DefaultOptions are the documented defaults of `ha-webhook serve`.
func DefaultOptions() Options {
	return Options{
		PreStopSleepSeconds:              15,
		MaxPreStopSleepSeconds:           120,
		MaxTerminationGracePeriodSeconds: 600,
		PreStopMode:                      PreStopAuto,
		NativeSleepSupported:             true,
		Readiness: ProbeDefaults{
			PeriodSeconds:    5,
			TimeoutSeconds:   1,
			FailureThreshold: 3,
			SuccessThreshold: 1,
		},
	}
}

// Validate rejects contradictory options, naming them by their field names (a caller that binds them to flags says
// which flags: policy.Options.Validate). In particular the API server refuses a preStop sleep that is not strictly
// less than the grace period, so the largest allowed sleep must stay below the grace cap.
func (o Options) Validate() error {
	var errs []error
	if o.PreStopSleepSeconds < 0 {
		errs = append(errs, fmt.Errorf("PreStopSleepSeconds must be >= 0, got %d", o.PreStopSleepSeconds))
	}
	if o.MaxPreStopSleepSeconds < 0 {
		errs = append(errs, fmt.Errorf("MaxPreStopSleepSeconds must be >= 0, got %d", o.MaxPreStopSleepSeconds))
	}
	if o.PreStopSleepSeconds > o.MaxPreStopSleepSeconds {
		errs = append(errs, fmt.Errorf("PreStopSleepSeconds (%d) must not exceed MaxPreStopSleepSeconds (%d)", o.PreStopSleepSeconds, o.MaxPreStopSleepSeconds))
	}
	if o.MaxTerminationGracePeriodSeconds <= o.MaxPreStopSleepSeconds {
		errs = append(errs, fmt.Errorf("MaxTerminationGracePeriodSeconds (%d) must be greater than MaxPreStopSleepSeconds (%d): the API server rejects a preStop sleep that is not less than the grace period", o.MaxTerminationGracePeriodSeconds, o.MaxPreStopSleepSeconds))
	}
	if _, err := ParsePreStopMode(string(o.PreStopMode)); err != nil {
		errs = append(errs, err)
	}
	r := o.Readiness
	if r.PeriodSeconds < 1 || r.TimeoutSeconds < 1 || r.FailureThreshold < 1 {
		errs = append(errs, errors.New("readiness period, timeout and failure threshold must be >= 1"))
	}
	if r.SuccessThreshold < 1 {
		errs = append(errs, errors.New("readiness success threshold must be >= 1"))
	}
	return errors.Join(errs...)
}
