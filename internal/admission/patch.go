package admission

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The JSON patch of a Pod mutation is written straight from the typed pod, over the fields mutate.Pod may change
// (annotations, the grace period, each container's readiness probe and lifecycle), instead of marshalling both
// sides, parsing them back into maps, diffing the maps and marshalling the operations: that generic diff was half of
// a pod admission's allocations. The operations are those jsonpatch.CreatePatch finds between the two sides'
// owned views (patch_test.go holds that diff as the oracle and fuzzes the two against each other), in a fixed order:
// metadata, then each container by index, then the grace period.

// ownedBefore is what the patch needs of a pod before mutate.Pod ran. mutate.Pod only ever assigns: a new probe,
// a new preStop handler on a new or existing lifecycle, a new grace period, a new annotation value. So a copy of
// the annotations and of each lifecycle struct, and the probe pointers, tell every change without a deep copy.
type ownedBefore struct {
	annotations map[string]string
	grace       *int64
	containers  []containerBefore
}

type containerBefore struct {
	probe     *corev1.Probe
	lifecycle *corev1.Lifecycle // a copy of the struct: mutate.Pod may set PreStop on the pod's own
}

func snapshotOwned(pod *corev1.Pod) ownedBefore {
	b := ownedBefore{containers: make([]containerBefore, len(pod.Spec.Containers))}
	if len(pod.Annotations) > 0 {
		b.annotations = make(map[string]string, len(pod.Annotations))
		for k, v := range pod.Annotations {
			b.annotations[k] = v
		}
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		v := *g
		b.grace = &v
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		b.containers[i].probe = c.ReadinessProbe
		if c.Lifecycle != nil {
			l := *c.Lifecycle
			b.containers[i].lifecycle = &l
		}
	}
	return b
}

// patchResponse answers with the JSON patch from before to the mutated pod, or allows without a patch when nothing
// changed. The patch is set as bytes, so controller-runtime passes it through without encoding it again.
func patchResponse(before ownedBefore, pod *corev1.Pod) cradmission.Response {
	patch, err := ownedPatch(before, pod)
	if err != nil {
		return cradmission.Errored(http.StatusInternalServerError, err)
	}
	resp := cradmission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed: true,
		Result:  &metav1.Status{Code: http.StatusOK},
	}}
	if patch != nil {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return resp
}

// ownedPatch encodes the operations from before to pod; nil when there are none.
func ownedPatch(before ownedBefore, pod *corev1.Pod) ([]byte, error) {
	w := patchWriter{}
	w.annotations(before.annotations, pod.Annotations)
	if len(before.containers) != len(pod.Spec.Containers) {
		// Never from mutate.Pod; the generic diff keeps the patch right if it ever were.
		w.diff("/spec/containers", containerViews(before), ownedViewOf(pod).Spec.Containers)
	} else {
		for i := range pod.Spec.Containers {
			w.container("/spec/containers/"+strconv.Itoa(i), before.containers[i], &pod.Spec.Containers[i])
		}
	}
	w.gracePeriod(before.grace, pod.Spec.TerminationGracePeriodSeconds)
	return w.bytes()
}

func (w *patchWriter) gracePeriod(before, after *int64) {
	const path = "/spec/terminationGracePeriodSeconds"
	switch {
	case before == nil && after == nil:
	case before == nil:
		w.op("add", path, *after)
	case after == nil:
		w.op("remove", path, nil)
	case *before != *after:
		w.op("replace", path, *after)
	}
}

func (w *patchWriter) annotations(before, after map[string]string) {
	const path = "/metadata/annotations"
	switch {
	case len(before) == 0 && len(after) == 0:
	case len(before) == 0:
		w.op("add", path, after)
	case len(after) == 0:
		w.op("remove", path, nil)
	default:
		var changed, removed []string
		for k, v := range after {
			if old, ok := before[k]; !ok || old != v {
				changed = append(changed, k)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				removed = append(removed, k)
			}
		}
		slices.Sort(changed)
		slices.Sort(removed)
		for _, k := range changed {
			if _, ok := before[k]; ok {
				w.op("replace", path+"/"+escapePointer(k), after[k])
			} else {
				w.op("add", path+"/"+escapePointer(k), after[k])
			}
		}
		for _, k := range removed {
			w.op("remove", path+"/"+escapePointer(k), nil)
		}
	}
}

func (w *patchWriter) container(path string, before containerBefore, c *corev1.Container) {
	bl, al := before.lifecycle, c.Lifecycle
	switch {
	case bl == nil || al == nil:
		w.pointer(path+"/lifecycle", bl == nil, al == nil, false, bl, al)
	case bl.PostStart == al.PostStart && bl.StopSignal == al.StopSignal && bl.PreStop != al.PreStop && bl.PreStop == nil:
		w.op("add", path+"/lifecycle/preStop", al.PreStop)
	case *bl != *al:
		w.diff(path+"/lifecycle", bl, al)
	}
	w.pointer(path+"/readinessProbe", before.probe == nil, c.ReadinessProbe == nil, before.probe == c.ReadinessProbe,
		before.probe, c.ReadinessProbe)
}

// pointer writes the operation between two optional values: add, remove, or (both set and not known equal) the
// diff between them.
func (w *patchWriter) pointer(path string, beforeNil, afterNil, equal bool, before, after any) {
	switch {
	case beforeNil && afterNil, equal:
	case beforeNil:
		w.op("add", path, after)
	case afterNil:
		w.op("remove", path, nil)
	default:
		w.diff(path, before, after)
	}
}

// patchWriter appends operations to one JSON array; the first error sticks.
type patchWriter struct {
	buf bytes.Buffer
	n   int
	err error
}

func (w *patchWriter) op(op, path string, value any) {
	if w.err != nil {
		return
	}
	if w.n == 0 {
		w.buf.WriteByte('[')
	} else {
		w.buf.WriteByte(',')
	}
	w.n++
	w.buf.WriteString(`{"op":"`)
	w.buf.WriteString(op)
	w.buf.WriteString(`","path":`)
	w.write(path)
	if op != "remove" {
		w.buf.WriteString(`,"value":`)
		w.write(value)
	}
	w.buf.WriteByte('}')
}

func (w *patchWriter) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.err = err
		return
	}
	w.buf.Write(b)
}

// diff writes the generic diff between two set values under path; mutate.Pod never replaces a value it did not
// set, so this only keeps the patch right for changes it does not make today.
func (w *patchWriter) diff(path string, before, after any) {
	if w.err != nil {
		return
	}
	var a, b []byte
	if a, w.err = json.Marshal(before); w.err != nil {
		return
	}
	if b, w.err = json.Marshal(after); w.err != nil {
		return
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		w.err = err
		return
	}
	slices.SortFunc(ops, func(x, y jsonpatch.Operation) int { return strings.Compare(x.Path, y.Path) })
	for _, o := range ops {
		w.op(o.Operation, path+o.Path, o.Value)
	}
}

func (w *patchWriter) bytes() ([]byte, error) {
	if w.err != nil || w.n == 0 {
		return nil, w.err
	}
	w.buf.WriteByte(']')
	return w.buf.Bytes(), nil
}

// escapePointer escapes a JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ownedView is the part of a Pod that mutate.Pod may change, laid out at the same JSON paths as in the Pod. It is
// what the patch's operations are defined against (see patch_test.go), and the generic fallback's input.
type ownedView struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds *int64               `json:"terminationGracePeriodSeconds,omitempty"`
		Containers                    []ownedContainerView `json:"containers"`
	} `json:"spec"`
}

type ownedContainerView struct {
	ReadinessProbe *corev1.Probe     `json:"readinessProbe,omitempty"`
	Lifecycle      *corev1.Lifecycle `json:"lifecycle,omitempty"`
}

func ownedViewOf(pod *corev1.Pod) ownedView {
	var v ownedView
	v.Metadata.Annotations = pod.Annotations
	v.Spec.TerminationGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
	v.Spec.Containers = make([]ownedContainerView, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		v.Spec.Containers[i] = ownedContainerView{ReadinessProbe: c.ReadinessProbe, Lifecycle: c.Lifecycle}
	}
	return v
}

func containerViews(b ownedBefore) []ownedContainerView {
	out := make([]ownedContainerView, len(b.containers))
	for i, c := range b.containers {
		out[i] = ownedContainerView{ReadinessProbe: c.probe, Lifecycle: c.lifecycle}
	}
	return out
}
