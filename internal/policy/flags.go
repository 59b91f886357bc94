package policy

import (
	"github.com/spf13/pflag"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
)

// Flag names; the Helm chart maps its values onto them, so they are a public interface.
const (
	FlagMode                      = "mode"
	FlagPreStopSleep              = "prestop-sleep"
	FlagMaxPreStopSleep           = "max-prestop-sleep"
	FlagMaxTerminationGracePeriod = "max-termination-grace-period"
	FlagPreStopMode               = "prestop-mode"
	FlagMinReplicas               = "min-replicas"
	FlagAllowExemptions           = "allow-exemptions"
)

// AddFlags binds every option to its flag, with the current values as defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.Var((*modeValue)(&o.Mode), FlagMode, "enforce (deny violations) or audit (warn only); a namespace's ha-webhook.io/mode label overrides it")

	m := &o.Mutate
	fs.Int64Var(&m.PreStopSleepSeconds, FlagPreStopSleep, m.PreStopSleepSeconds, "seconds of the injected preStop sleep (a pod may override it with ha-webhook.io/prestop-sleep-seconds)")
	fs.Int64Var(&m.MaxPreStopSleepSeconds, FlagMaxPreStopSleep, m.MaxPreStopSleepSeconds, "upper bound of a pod's preStop sleep override; must be below --max-termination-grace-period")
	fs.Int64Var(&m.MaxTerminationGracePeriodSeconds, FlagMaxTerminationGracePeriod, m.MaxTerminationGracePeriodSeconds, "cap, in seconds, of the raised terminationGracePeriodSeconds")
	fs.Var((*preStopModeValue)(&m.PreStopMode), FlagPreStopMode, "auto (native sleep when the API server supports it), sleep (native lifecycle.preStop.sleep) or exec (runs 'sleep N', needs a sleep binary in the image)")
	fs.Int32Var(&m.Readiness.PeriodSeconds, "readiness-period-seconds", m.Readiness.PeriodSeconds, "periodSeconds of an injected readiness probe")
	fs.Int32Var(&m.Readiness.TimeoutSeconds, "readiness-timeout-seconds", m.Readiness.TimeoutSeconds, "timeoutSeconds of an injected readiness probe")
	fs.Int32Var(&m.Readiness.FailureThreshold, "readiness-failure-threshold", m.Readiness.FailureThreshold, "failureThreshold of an injected readiness probe")
	fs.Int32Var(&m.Readiness.SuccessThreshold, "readiness-success-threshold", m.Readiness.SuccessThreshold, "successThreshold of an injected readiness probe")

	r := &o.Rules
	fs.Int32Var(&r.MinReplicas, FlagMinReplicas, r.MinReplicas, "fewest effective replicas a Deployment may run (HPA minReplicas counts when an HPA targets it)")
	fs.BoolVar(&r.AllowExemptions, FlagAllowExemptions, r.AllowExemptions, "honour the ha-webhook.io/exempt annotation (every exemption is still reported)")
}

type modeValue Mode

func (v *modeValue) String() string { return string(*v) }
func (v *modeValue) Type() string   { return "enforce|audit" }
func (v *modeValue) Set(s string) error {
	m, err := ParseMode(s)
	if err == nil {
		*v = modeValue(m)
	}
	return err
}

type preStopModeValue mutate.PreStopMode

func (v *preStopModeValue) String() string { return string(*v) }
func (v *preStopModeValue) Type() string   { return "auto|sleep|exec" }
func (v *preStopModeValue) Set(s string) error {
	m, err := mutate.ParsePreStopMode(s)
	if err == nil {
		*v = preStopModeValue(m)
	}
	return err
}
