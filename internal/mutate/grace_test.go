package mutate

import (
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestGraceProperties checks the termination budget over many grace periods, sleeps and flag settings: the sleep
// stays strictly below the grace period (the API server rejects anything else), the grace period is never lowered,
// never raised past the cap unless the sleep needs it, and otherwise is exactly the old value plus the sleep.
func TestGraceProperties(t *testing.T) {
	optionSets := map[string]Options{"defaults": testOptions()}
	tight := testOptions()
	tight.PreStopSleepSeconds, tight.MaxPreStopSleepSeconds, tight.MaxTerminationGracePeriodSeconds = 5, 9, 10
	optionSets["tight cap"] = tight
	exec := testOptions()
	exec.PreStopMode = PreStopExec
	optionSets["exec"] = exec

	graces := []*int64{nil}
	for _, g := range []int64{math.MinInt64, -1, 0, 1, 2, 5, 9, 10, 11, 14, 15, 16, 29, 30, 31, 100, 119, 120, 121,
		479, 480, 481, 585, 590, 599, 600, 601, 1000, math.MaxInt64 - 1, math.MaxInt64} {
		graces = append(graces, &g)
	}
	checked := 0
	for optName, opts := range optionSets {
		if err := opts.Validate(); err != nil {
			t.Fatalf("%s: %v", optName, err)
		}
		for s := int64(0); s <= opts.MaxPreStopSleepSeconds+2; s++ {
			for _, g := range graces {
				pod := fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, strconv.FormatInt(s, 10))
				pod.Spec.TerminationGracePeriodSeconds = g
				before := pod.DeepCopy()
				Pod(pod, opts)
				checked++

				sleep := min(s, opts.MaxPreStopSleepSeconds)
				injected := sleep > 0
				desc := func() string {
					gs := "nil"
					if g != nil {
						gs = strconv.FormatInt(*g, 10)
					}
					return optName + ", sleep " + strconv.FormatInt(s, 10) + ", grace " + gs
				}
				if got := pod.Spec.Containers[0].Lifecycle != nil; got != injected {
					t.Fatalf("%s: preStop injected = %v, want %v", desc(), got, injected)
				}
				if !injected {
					if diff := cmp.Diff(before.Spec.TerminationGracePeriodSeconds, pod.Spec.TerminationGracePeriodSeconds); diff != "" {
						t.Fatalf("%s: grace changed without a sleep (-before +after):\n%s", desc(), diff)
					}
					continue
				}
				got := DefaultGracePeriodSeconds // what the API server sets when it stays unset
				if pod.Spec.TerminationGracePeriodSeconds != nil {
					got = *pod.Spec.TerminationGracePeriodSeconds
				} else if g != nil {
					t.Fatalf("%s: grace period %d removed", desc(), *g)
				}
				if got <= sleep {
					t.Fatalf("%s: grace %d not greater than the sleep %d", desc(), got, sleep)
				}
				old := DefaultGracePeriodSeconds
				if g != nil {
					old = *g
					if got < old {
						t.Fatalf("%s: grace lowered from %d to %d", desc(), old, got)
					}
				}
				switch {
				case old >= opts.MaxTerminationGracePeriodSeconds:
					if got != old {
						t.Fatalf("%s: grace %d at or above the cap changed to %d", desc(), old, got)
					}
				case old+sleep <= opts.MaxTerminationGracePeriodSeconds && old > 0:
					if got != old+sleep {
						t.Fatalf("%s: grace = %d, want old %d + sleep %d", desc(), got, old, sleep)
					}
				default:
					if got > opts.MaxTerminationGracePeriodSeconds {
						t.Fatalf("%s: grace %d above the cap %d", desc(), got, opts.MaxTerminationGracePeriodSeconds)
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("checked only %d combinations", checked)
	}
}

func TestRaisedGracePeriod(t *testing.T) {
	p := func(v int64) *int64 { return &v }
	tests := map[string]struct {
		current     *int64
		sleep, cap  int64
		budgetAdded bool
		want        int64
		wantChanged bool
	}{
		"unset uses the API server default": {current: nil, sleep: 15, cap: 600, want: 45, wantChanged: true},
		"raised by the sleep":               {current: p(60), sleep: 15, cap: 600, want: 75, wantChanged: true},
		"capped":                            {current: p(590), sleep: 15, cap: 600, want: 600, wantChanged: true},
		"at the cap unchanged":              {current: p(600), sleep: 15, cap: 600, want: 600},
		"above the cap never lowered":       {current: p(900), sleep: 15, cap: 600, want: 900},
		"zero":                              {current: p(0), sleep: 15, cap: 600, want: 16, wantChanged: true},
		"negative":                          {current: p(-3), sleep: 15, cap: 600, want: 16, wantChanged: true},
		"cap below the sleep still exceeds the sleep":    {current: p(5), sleep: 15, cap: 10, want: 16, wantChanged: true},
		"max int64 does not overflow":                    {current: p(math.MaxInt64), sleep: 15, cap: 600, want: math.MaxInt64},
		"unset with a cap below the default stays unset": {current: nil, sleep: 5, cap: 20, want: 30},
		"unset with a cap just above the default":        {current: nil, sleep: 5, cap: 32, want: 32, wantChanged: true},
		"budget already added: unchanged":                {current: p(45), sleep: 15, cap: 600, budgetAdded: true, want: 45},
		"budget already added, still above sleep":        {current: p(10), sleep: 15, cap: 600, budgetAdded: true, want: 16, wantChanged: true},
		"budget already added but grace unset":           {current: nil, sleep: 15, cap: 600, budgetAdded: true, want: 45, wantChanged: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, changed := raisedGracePeriod(tc.current, tc.sleep, tc.cap, tc.budgetAdded)
			if got != tc.want || changed != tc.wantChanged {
				t.Errorf("raisedGracePeriod = (%d, %v), want (%d, %v)", got, changed, tc.want, tc.wantChanged)
			}
		})
	}
}

// TestInjectionValues: what Result reports is exactly what went into the pod, so audit warnings and `check`
// previews describe the real mutation.
func TestInjectionValues(t *testing.T) {
	pod := fixture.WithGrace(fixture.NewPod(fixture.Container("app", fixture.TCPPort("http", 8080))), 20)
	res := Pod(pod, testOptions())
	want := []Injection{
		{Container: "app", Field: FieldReadinessProbe, Value: pod.Spec.Containers[0].ReadinessProbe},
		{Container: "app", Field: FieldPreStop, Value: pod.Spec.Containers[0].Lifecycle.PreStop},
		{Field: FieldGracePeriod, Value: int64(35)},
	}
	if diff := cmp.Diff(want, res.Injections); diff != "" {
		t.Errorf("Injections mismatch (-want +got):\n%s", diff)
	}
	if res.Injections[0].Value != any(pod.Spec.Containers[0].ReadinessProbe) {
		t.Errorf("readiness injection does not point at the pod's probe")
	}
}

// TestPodNilAnnotationsAndEmptyPod covers pods with nothing set at all.
func TestPodEmpty(t *testing.T) {
	tests := map[string]*corev1.Pod{
		"zero pod":            {},
		"no containers":       {Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways}},
		"nil annotations map": fixture.NewPod(fixture.Container("worker")),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			pod := in.DeepCopy()
			res := Pod(pod, testOptions())
			if diff := cmp.Diff(Result{}, res); diff != "" {
				t.Errorf("Result mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, pod); diff != "" {
				t.Errorf("pod changed (-want +got):\n%s", diff)
			}
		})
	}
}
