package mutate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePreStopMode(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    PreStopMode
		wantErr bool
	}{
		"auto":         {in: "auto", want: PreStopAuto},
		"sleep":        {in: "sleep", want: PreStopSleep},
		"exec":         {in: "exec", want: PreStopExec},
		"empty":        {in: "", wantErr: true},
		"upper case":   {in: "Sleep", wantErr: true},
		"unknown mode": {in: "native", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePreStopMode(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParsePreStopMode(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParsePreStopMode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	// The documented defaults (DESIGN.md §2): a 15 s sleep, at most 120 s, grace capped at 600 s, auto mode, and a
	// probe every 5 s with a 1 s timeout, 3 failures, 1 success.
	want := Options{
		PreStopSleepSeconds:              15,
		MaxPreStopSleepSeconds:           120,
		MaxTerminationGracePeriodSeconds: 600,
		PreStopMode:                      PreStopAuto,
		NativeSleepSupported:             true,
		Readiness:                        ProbeDefaults{PeriodSeconds: 5, TimeoutSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1},
	}
	if diff := cmp.Diff(want, DefaultOptions()); diff != "" {
		t.Errorf("DefaultOptions() mismatch (-want +got):\n%s", diff)
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("DefaultOptions().Validate() = %v, want nil", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		modify func(*Options)
		// wantErrs are substrings the error must contain; none means valid.
		wantErrs []string
	}{
		"defaults":                     {modify: func(*Options) {}},
		"sleep zero":                   {modify: func(o *Options) { o.PreStopSleepSeconds = 0 }},
		"sleep equal to max sleep":     {modify: func(o *Options) { o.PreStopSleepSeconds = 120 }},
		"max sleep just below the cap": {modify: func(o *Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 599, 600 }},
		"exec mode":                    {modify: func(o *Options) { o.PreStopMode = PreStopExec }},
		"max sleep equal to the grace cap": {
			modify:   func(o *Options) { o.MaxPreStopSleepSeconds = 600 },
			wantErrs: []string{"--max-termination-grace-period (600) must be greater than --max-prestop-sleep (600)"},
		},
		"max sleep above the grace cap": {
			modify:   func(o *Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 120, 60 },
			wantErrs: []string{"--max-termination-grace-period (60) must be greater than --max-prestop-sleep (120)"},
		},
		"sleep above max sleep": {
			modify:   func(o *Options) { o.PreStopSleepSeconds = 121 },
			wantErrs: []string{"--prestop-sleep (121) must not exceed --max-prestop-sleep (120)"},
		},
		"negative sleep": {
			modify:   func(o *Options) { o.PreStopSleepSeconds = -1 },
			wantErrs: []string{"--prestop-sleep must be >= 0, got -1"},
		},
		"negative max sleep": {
			modify: func(o *Options) { o.PreStopSleepSeconds, o.MaxPreStopSleepSeconds = 0, -1 },
			wantErrs: []string{
				"--max-prestop-sleep must be >= 0, got -1",
				"--prestop-sleep (0) must not exceed --max-prestop-sleep (-1)",
			},
		},
		"negative grace cap": {
			modify:   func(o *Options) { o.MaxTerminationGracePeriodSeconds = -1 },
			wantErrs: []string{"--max-termination-grace-period (-1) must be greater than --max-prestop-sleep (120)"},
		},
		"bad mode": {
			modify:   func(o *Options) { o.PreStopMode = "native" },
			wantErrs: []string{`prestop mode must be auto, sleep or exec, got "native"`},
		},
		"empty mode": {
			modify:   func(o *Options) { o.PreStopMode = "" },
			wantErrs: []string{`got ""`},
		},
		"period zero": {
			modify:   func(o *Options) { o.Readiness.PeriodSeconds = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"timeout zero": {
			modify:   func(o *Options) { o.Readiness.TimeoutSeconds = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"failure threshold zero": {
			modify:   func(o *Options) { o.Readiness.FailureThreshold = 0 },
			wantErrs: []string{"readiness period, timeout and failure threshold must be >= 1"},
		},
		"success threshold zero": {
			modify:   func(o *Options) { o.Readiness.SuccessThreshold = 0 },
			wantErrs: []string{"readiness success threshold must be >= 1"},
		},
		"everything wrong at once reports every problem": {
			modify: func(o *Options) {
				*o = Options{PreStopSleepSeconds: -5, MaxPreStopSleepSeconds: -10, MaxTerminationGracePeriodSeconds: -20, PreStopMode: "x"}
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
			tc.modify(&o)
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
