package mutate

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// preStopAction resolves auto to the action actually injected. It returns PreStopAuto, with a warning, when auto
// finds no native sleep support: then nothing is injected.
func preStopAction(opts Options) (PreStopMode, string) {
	switch opts.PreStopMode {
	case PreStopExec:
		return PreStopExec, ""
	case PreStopSleep:
		return PreStopSleep, ""
	}
	if opts.NativeSleepSupported {
		return PreStopSleep, ""
	}
	return PreStopAuto, "preStop sleep not injected: the API server does not support lifecycle.preStop.sleep " +
		"(Kubernetes < 1.30 or the PodLifecycleSleepAction gate off); upgrade it, or run with --prestop-mode=exec " +
		"if every image has a sleep binary"
}

func preStopHandler(action PreStopMode, seconds int64) *corev1.LifecycleHandler {
	if action == PreStopExec {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", strconv.FormatInt(seconds, 10)}}}
	}
	return &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: seconds}}
}

// raisedGracePeriod adds the injected sleep to the grace period the pod had (the API server's default 30 when
// unset), so the application keeps the shutdown time it had before; capped, and never lowered. The result is always
// greater than the sleep, because the API server rejects a sleep that is not less than the grace period.
func raisedGracePeriod(current *int64, sleep, maxGrace int64) (int64, bool) {
	base := DefaultGracePeriodSeconds
	if current != nil {
		base = *current
	}
	want := min(base+sleep, maxGrace)
	want = max(want, sleep+1)
	if current != nil && want <= *current {
		return *current, false
	}
	return want, true
}
