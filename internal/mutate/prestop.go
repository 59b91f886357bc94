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
	return PreStopAuto, UnsupportedSleepWarning
}

// UnsupportedSleepWarning is the one warning of a pod that auto mode leaves without a preStop sleep.
const UnsupportedSleepWarning = "preStop sleep not injected: API server lacks lifecycle.preStop.sleep (< 1.30); " +
	"upgrade it or use --prestop-mode=exec"

func preStopHandler(action PreStopMode, seconds int64) *corev1.LifecycleHandler {
	if action == PreStopExec {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", strconv.FormatInt(seconds, 10)}}}
	}
	return &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: seconds}}
}

// raisedGracePeriod adds the injected sleep to the grace period the pod had (the API server's default 30 when
// unset), so the application keeps the shutdown time it had before; capped, and never lowered. The result is always
// greater than the sleep, because the API server rejects a sleep that is not less than the grace period.
//
// budgetAdded says an earlier pass of the webhook (a reinvocation after another webhook added a container) already
// added the sleep to the grace period: the sleeps of all containers run at once, so the budget is added only once.
func raisedGracePeriod(current *int64, sleep, maxGrace int64, budgetAdded bool) (int64, bool) {
	base := DefaultGracePeriodSeconds
	if current != nil {
		base = *current
	}
	want := base
	if !budgetAdded || current == nil {
		if base < maxGrace-sleep {
			want = base + sleep
		} else {
			want = max(base, maxGrace)
		}
	}
	want = max(want, sleep+1)
	if want <= base {
		// Nothing to raise. An unset grace period stays unset: the API server's default is base, already enough.
		return base, false
	}
	return want, true
}
