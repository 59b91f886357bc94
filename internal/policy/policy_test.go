package policy

import (
	"strings"
	"testing"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
)

// TestMutateOptionsValidate: every contradiction of the mutation options is reported, named by its flag.
func TestMutateOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		modify func(*mutate.Options)
		// wantErrs are substrings the error must contain; none means valid.
		wantErrs []string
	}{
		"defaults":                     {modify: func(*mutate.Options) {}},
		"sleep zero":                   {modify: func(o *mutate.Options) { o.PreStopSleepSeconds = 0 }},
		"sleep equal to max sleep":     {modify: func(o *mutate.Options) { o.PreStopSleepSeconds = 120 }},
		"max sleep just below the cap": {modify: func(o *mutate.Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 599, 600 }},
		"exec mode":                    {modify: func(o *mutate.Options) { o.PreStopMode = mutate.PreStopExec }},
		"max sleep equal to the grace cap": {
			modify:   func(o *mutate.Options) { o.MaxPreStopSleepSeconds = 600 },
			wantErrs: []string{"--max-termination-grace-period (600) must be greater than --max-prestop-sleep (600)"},
		},
		"max sleep above the grace cap": {
			modify:   func(o *mutate.Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 120, 60 },
			wantErrs: []string{"--max-termination-grace-period (60) must be greater than --max-prestop-sleep (120)"},
		},
		"sleep above max sleep": {
			modify:   func(o *mutate.Options) { o.PreStopSleepSeconds = 121 },
			wantErrs: []string{"--prestop-sleep (121) must not exceed --max-prestop-sleep (120)"},
		},
		"negative sleep": {
			modify:   func(o *mutate.Options) { o.PreStopSleepSeconds = -1 },
			wantErrs: []string{"--prestop-sleep must be >= 0, got -1"},
		},
		"negative max sleep": {
			modify: func(o *mutate.Options) { o.PreStopSleepSeconds, o.MaxPreStopSleepSeconds = 0, -1 },
			wantErrs: []string{
				"--max-prestop-sleep must be >= 0, got -1",
				"--prestop-sleep (0) must not exceed --max-prestop-sleep (-1)",
			},
		},
		"negative grace cap": {
			modify:   func(o *mutate.Options) { o.MaxTerminationGracePeriodSeconds = -1 },
			wantErrs: []string{"--max-termination-grace-period (-1) must be greater than --max-prestop-sleep (120)"},
		},
		"bad mode": {
			modify:   func(o *mutate.Options) { o.PreStopMode = "native" },
			wantErrs: []string{`prestop mode must be auto, sleep or exec, got "native"`},
		},
		"empty mode": {
			modify:   func(o *mutate.Options) { o.PreStopMode = "" },
			wantErrs: []string{`got ""`},
		},
		"period zero": {
			modify:   func(o *mutate.Options) { o.Readiness.PeriodSeconds = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"timeout zero": {
			modify:   func(o *mutate.Options) { o.Readiness.TimeoutSeconds = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"failure threshold zero": {
			modify:   func(o *mutate.Options) { o.Readiness.FailureThreshold = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"success threshold zero": {
			modify:   func(o *mutate.Options) { o.Readiness.SuccessThreshold = 0 },
			wantErrs: []string{"readiness success threshold must be >= 1"},
		},
		"everything wrong at once reports every problem": {
			modify: func(o *mutate.Options) {
				*o = mutate.Options{PreStopSleepSeconds: -5, MaxPreStopSleepSeconds: -10, MaxTerminationGracePeriodSeconds: -20, PreStopMode: "x"}
			},
			wantErrs: []string{
				"--prestop-sleep must be >= 0",
				"--max-prestop-sleep must be >= 0",
				"must not exceed",
				"must be greater than",
				"prestop mode",
				"readiness period",
				"success threshold",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := DefaultOptions()
			tc.modify(&o.Mutate)
			err := o.Validate()
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tc.wantErrs)
			}
			if got, want := len(strings.Split(err.Error(), "\n")), len(tc.wantErrs); got != want {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", got, want, err)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestRulesOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("DefaultOptions().Validate() = %v, want nil", err)
	}
	o.Rules.MinReplicas = 0
	if err := o.Validate(); err == nil || err.Error() != "--min-replicas must be >= 1, got 0" {
		t.Errorf("Validate() = %v, want the --min-replicas error", err)
	}
	o = DefaultOptions()
	o.Mode = "warn"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `--mode: mode must be "enforce" or "audit", got "warn"`) {
		t.Errorf("Validate() = %v, want the --mode error", err)
	}
}
