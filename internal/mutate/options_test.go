package mutate

import (
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
