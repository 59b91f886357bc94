package mutate

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// FuzzPatchMatchesDiff checks the handler's patch, built from the fields Pod owns, against a generic diff of the pod
// marshalled before and after Pod (what the handler answered before patch.go, and what controller-runtime's
// PatchResponseFromRaw computes): the same operations, on the same paths, with the same values.
func FuzzPatchMatchesDiff(f *testing.F) {
	f.Add("", "", "", "", "", int64(0), false, []byte{1}, uint8(1), true, uint16(0), false)
	f.Add("20", "/healthz", "http", "false", "", int64(30), true, []byte{1 | 4 | 64, 0, 2}, uint8(1), true, uint16(1), false)
	f.Add("0", "", "", "", "", int64(10), true, []byte{1, 1 | 8}, uint8(2), false, uint16(3), true)
	f.Add("", "", "", "", "readinessProbe:c0", int64(45), true, []byte{1, 1 | 16, 1 | 8}, uint8(1), true, uint16(4), false)
	f.Add("5", "", "p0", "", "preStop:c0,", int64(5), true, []byte{4 | 64, 32}, uint8(6), true, uint16(0), true)
	f.Add("", "", "", "", "", int64(600), true, []byte{1, 1, 1}, uint8(4), true, uint16(2), true)
	f.Fuzz(func(t *testing.T, sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte, mode uint8,
		native bool, postStart uint16, nilAnnotations bool) {
		opts := fuzzOptions(mode, native)
		pod := fuzzPod(sleep, path, port, skip, record, grace, hasGrace, shape)
		if nilAnnotations && len(pod.Annotations) == 0 {
			pod.Annotations = nil
		}
		// A lifecycle without preStop: the patch must add preStop into it, not replace it.
		for i := range pod.Spec.Containers {
			if postStart&(1<<i) != 0 && pod.Spec.Containers[i].Lifecycle == nil {
				pod.Spec.Containers[i].Lifecycle = &corev1.Lifecycle{PostStart: execHandler("/warm")}
			}
		}
		original := mustMarshal(t, pod)
		before := ownedFields(pod)
		Pod(pod, opts)
		want, err := jsonpatch.CreatePatch(original, mustMarshal(t, pod))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(normalizeOps(t, want), normalizeOps(t, before.patch(pod))); diff != "" {
			t.Errorf("patch differs from the diff of the marshalled pods (-diff +patch):\n%s", diff)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normalizeOps round-trips operations through JSON and sorts them by path, so typed and generic values compare.
func normalizeOps(t *testing.T, ops []jsonpatch.JsonPatchOperation) []patchOp {
	t.Helper()
	var out []patchOp
	if len(ops) > 0 {
		if err := json.Unmarshal(mustMarshal(t, ops), &out); err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
