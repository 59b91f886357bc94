package mutate

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// Pod mutates pod in place according to opts and reports what it did. It is idempotent: a pod it already mutated
// gets no further change. It only adds fields, and raises (never lowers) terminationGracePeriodSeconds.
func Pod(pod *corev1.Pod, opts Options) Result {
	if reason := skipReason(pod); reason != "" {
		return Result{SkipReason: reason}
	}
	var res Result
	ov := readOverrides(pod.Annotations, opts)
	res.Warnings = append(res.Warnings, ov.warnings...)

	action, warning := preStopAction(opts)
	var maxSleep int64
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		port, serves := firstTCPPort(c)
		if !serves {
			continue
		}
		if c.ReadinessProbe == nil {
			probe, warn := readinessProbe(c, port, ov, opts.Readiness)
			if warn != "" {
				res.Warnings = append(res.Warnings, warn)
			}
			c.ReadinessProbe = probe
			res.Injections = append(res.Injections, Injection{Container: c.Name, Field: FieldReadinessProbe, Value: probe})
		}
		if ov.sleepSeconds == 0 || hasPreStop(c) {
			continue
		}
		if action == PreStopAuto { // auto without native sleep support: inject nothing
			if warning != "" {
				res.Warnings = append(res.Warnings, warning)
				warning = ""
			}
			continue
		}
		handler := preStopHandler(action, ov.sleepSeconds)
		if c.Lifecycle == nil {
			c.Lifecycle = &corev1.Lifecycle{}
		}
		c.Lifecycle.PreStop = handler
		res.Injections = append(res.Injections, Injection{Container: c.Name, Field: FieldPreStop, Value: handler})
		maxSleep = max(maxSleep, ov.sleepSeconds)
	}

	if maxSleep > 0 {
		budgetAdded := slices.Contains(strings.Split(pod.Annotations[names.AnnotationInjected], ","), FieldGracePeriod)
		if grace, changed := raisedGracePeriod(pod.Spec.TerminationGracePeriodSeconds, maxSleep, opts.MaxTerminationGracePeriodSeconds, budgetAdded); changed {
			pod.Spec.TerminationGracePeriodSeconds = &grace
			res.Injections = append(res.Injections, Injection{Field: FieldGracePeriod, Value: grace})
		}
	}
	if len(res.Injections) > 0 {
		recordInjections(pod, res.Injections)
	}
	return res
}

// skipReason says why the pod is left alone entirely, or "" when it is mutated.
func skipReason(pod *corev1.Pod) string {
	if _, ok := pod.Annotations[names.AnnotationMirrorPod]; ok {
		return "mirror pod"
	}
	// The API server defaults an empty restartPolicy to Always before admission; an unset one here is a manifest.
	if rp := pod.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		return "restartPolicy " + string(rp)
	}
	if pod.Annotations[names.AnnotationSkipMutation] == "true" {
		return names.AnnotationSkipMutation
	}
	return ""
}

// firstTCPPort returns the container's first TCP port; a container serves traffic when it has one.
func firstTCPPort(c *corev1.Container) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// hasPreStop reports whether the container already has a preStop handler of any type: a handler may hold only one
// action, and the user's own is never replaced.
func hasPreStop(c *corev1.Container) bool {
	return c.Lifecycle != nil && c.Lifecycle.PreStop != nil
}

// recordInjections merges what was injected into the ha-webhook.io/injected annotation, keeping earlier entries
// (a reinvoked webhook may add to them).
func recordInjections(pod *corev1.Pod, injections []Injection) {
	var entries []string
	if prev := pod.Annotations[names.AnnotationInjected]; prev != "" {
		entries = strings.Split(prev, ",")
	}
	for _, in := range injections {
		entry := in.Field
		if in.Container != "" {
			entry += ":" + in.Container
		}
		if !slices.Contains(entries, entry) {
			entries = append(entries, entry)
		}
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[names.AnnotationInjected] = strings.Join(entries, ",")
}
