package mutate

import (
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

func fuzzOptions(mode uint8, native bool) Options {
	opts := testOptions()
	opts.PreStopMode = []PreStopMode{PreStopAuto, PreStopSleep, PreStopExec}[int(mode)%3]
	opts.NativeSleepSupported = native
	if mode&4 != 0 { // a tight cap, to reach the clamping paths
		opts.PreStopSleepSeconds, opts.MaxPreStopSleepSeconds, opts.MaxTerminationGracePeriodSeconds = 5, 9, 10
	}
	return opts
}

func FuzzPod(f *testing.F) {
	f.Add("", "", "", "", "", int64(0), false, []byte{1}, uint8(1), true)
	f.Add("20", "/healthz", "http", "false", "", int64(30), true, []byte{1 | 4 | 64, 0, 2}, uint8(1), true)
	f.Add("0", "", "", "", "", int64(10), true, []byte{1, 1 | 8}, uint8(2), false)
	f.Add("1000", "relative", "70000", "", "readinessProbe:x", int64(600), true, []byte{4, 16}, uint8(0), false)
	f.Add("99999999999999999999", "/a b", "0", "True", "", int64(-1), true, []byte{1 | 128, 2, 3}, uint8(4), true)
	f.Add("-5", "/\xff", "Bad_Name", "", "terminationGracePeriodSeconds", int64(9223372036854775807), true, []byte{0, 0, 0}, uint8(5), true)
	f.Add(" 7 ", "/ok", "8000", "true", "", int64(3), true, []byte{1}, uint8(1), true)
	f.Add("5", "", "p0", "", "preStop:c0,", int64(5), true, []byte{4 | 64, 32}, uint8(6), true)
	f.Fuzz(func(t *testing.T, sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte, mode uint8, native bool) {
		opts := fuzzOptions(mode, native)
		pod := fixture.FuzzPod(sleep, path, port, skip, record, grace, hasGrace, shape)
		before := pod.DeepCopy()
		res := Pod(pod, opts)

		if res.SkipReason != "" {
			if diff := cmp.Diff(before, pod); diff != "" {
				t.Fatalf("skipped pod changed:\n%s", diff)
			}
			return
		}
		for _, w := range res.Warnings {
			if n := utf8.RuneCountInString(w); n > text.MaxWarningLength || !utf8.ValidString(w) {
				t.Errorf("warning of %d characters or invalid UTF-8: %q", n, w)
			}
		}
		if diff := cmp.Diff(before.Spec.InitContainers, pod.Spec.InitContainers); diff != "" {
			t.Errorf("init containers changed:\n%s", diff)
		}
		// Never lowered, never removed.
		if before.Spec.TerminationGracePeriodSeconds != nil {
			if pod.Spec.TerminationGracePeriodSeconds == nil || *pod.Spec.TerminationGracePeriodSeconds < *before.Spec.TerminationGracePeriodSeconds {
				t.Errorf("grace period lowered from %d to %v", *before.Spec.TerminationGracePeriodSeconds, pod.Spec.TerminationGracePeriodSeconds)
			}
		}
		// Every injected sleep is strictly below the grace period.
		effectiveGrace := DefaultGracePeriodSeconds
		if pod.Spec.TerminationGracePeriodSeconds != nil {
			effectiveGrace = *pod.Spec.TerminationGracePeriodSeconds
		}
		for _, in := range res.Injections {
			if in.Field != FieldPreStop {
				continue
			}
			h := in.Value.(*corev1.LifecycleHandler)
			var s int64
			switch {
			case h.Sleep != nil:
				s = h.Sleep.Seconds
			case h.Exec != nil:
				n, err := strconv.ParseInt(h.Exec.Command[1], 10, 64)
				if err != nil {
					t.Fatalf("exec preStop %q", h.Exec.Command)
				}
				s = n
			}
			if s <= 0 || s > opts.MaxPreStopSleepSeconds {
				t.Errorf("injected sleep %d outside (0, %d]", s, opts.MaxPreStopSleepSeconds)
			}
			if s >= effectiveGrace {
				t.Errorf("injected sleep %d not below the grace period %d", s, effectiveGrace)
			}
		}
		// Only serving containers get anything, and what they had is kept.
		for i, c := range pod.Spec.Containers {
			old := before.Spec.Containers[i]
			if _, serves := firstTCPPort(&old); !serves {
				if diff := cmp.Diff(old, c); diff != "" {
					t.Errorf("non-serving container %s changed:\n%s", c.Name, diff)
				}
			}
			if old.ReadinessProbe != nil && !cmp.Equal(old.ReadinessProbe, c.ReadinessProbe) {
				t.Errorf("container %s: readiness probe replaced", c.Name)
			}
			if old.Lifecycle != nil && old.Lifecycle.PreStop != nil && !cmp.Equal(old.Lifecycle.PreStop, c.Lifecycle.PreStop) {
				t.Errorf("container %s: preStop replaced", c.Name)
			}
		}
		// Idempotent.
		again := pod.DeepCopy()
		if res2 := Pod(again, opts); len(res2.Injections) > 0 {
			t.Errorf("second pass injected %v", injectionStrings(res2.Injections))
		}
		if diff := cmp.Diff(pod, again); diff != "" {
			t.Errorf("second pass changed the pod:\n%s", diff)
		}
	})
}
