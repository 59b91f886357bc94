package mutate

import (
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// owned records, before Pod runs, the state of every field Pod may write, so that the handler can answer with the
// JSON patch of exactly Pod's changes. It replaces marshalling the pod twice and diffing the two documents, which
// decodes both into generic maps and cost two thirds of the handler's time (ten times more on a 64 KB pod).
// Fields Pod does not own are never read, so they can never appear in the patch: unknown fields and values written
// differently in the raw request stay untouched, as with the diff.
type owned struct {
	// annotations: the pod had at least one annotation (an empty map is not serialized, so the patch must add the
	// whole map).
	annotations bool
	injected    *string
	grace       *int64
	containers  []ownedContainer
}

type ownedContainer struct{ readinessProbe, lifecycle, preStop bool }

func ownedFields(pod *corev1.Pod) owned {
	o := owned{annotations: len(pod.Annotations) > 0, containers: make([]ownedContainer, len(pod.Spec.Containers))}
	if v, ok := pod.Annotations[names.AnnotationInjected]; ok {
		o.injected = &v
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		o.grace = new(int64)
		*o.grace = *g
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		o.containers[i] = ownedContainer{readinessProbe: c.ReadinessProbe != nil, lifecycle: c.Lifecycle != nil,
			preStop: c.Lifecycle != nil && c.Lifecycle.PreStop != nil}
	}
	return o
}

// patch is the JSON patch from the recorded state to pod: adds, plus a replace of the grace period and of
// ha-webhook's own annotation when they held another value. Pod never removes a field, adds a container or changes
// a field it did not add, so nothing else can differ.
func (o owned) patch(pod *corev1.Pod) []jsonpatch.JsonPatchOperation {
	var ops []jsonpatch.JsonPatchOperation
	add := func(op, path string, value any) {
		ops = append(ops, jsonpatch.JsonPatchOperation{Operation: op, Path: path, Value: value})
	}
	if v, ok := pod.Annotations[names.AnnotationInjected]; ok && (o.injected == nil || *o.injected != v) {
		path := "/metadata/annotations/" + escapePointer(names.AnnotationInjected)
		switch {
		case !o.annotations:
			add("add", "/metadata/annotations", pod.Annotations)
		case o.injected != nil:
			add("replace", path, v)
		default:
			add("add", path, v)
		}
	}
	for i := range min(len(o.containers), len(pod.Spec.Containers)) {
		c, was := &pod.Spec.Containers[i], o.containers[i]
		prefix := "/spec/containers/" + strconv.Itoa(i)
		if !was.readinessProbe && c.ReadinessProbe != nil {
			add("add", prefix+"/readinessProbe", c.ReadinessProbe)
		}
		switch {
		case !was.lifecycle && c.Lifecycle != nil:
			add("add", prefix+"/lifecycle", c.Lifecycle)
		case !was.preStop && c.Lifecycle != nil && c.Lifecycle.PreStop != nil:
			add("add", prefix+"/lifecycle/preStop", c.Lifecycle.PreStop)
		}
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		switch {
		case o.grace == nil:
			add("add", "/spec/terminationGracePeriodSeconds", *g)
		case *o.grace != *g:
			add("replace", "/spec/terminationGracePeriodSeconds", *g)
		}
	}
	return ops
}

// escapePointer escapes a JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
