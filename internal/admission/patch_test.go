package admission

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
)

// FuzzViewPatchEqualsWholeDiff: the patch computed over the owned views, applied to the whole original pod's JSON,
// gives exactly the whole mutated pod's JSON — the same result as diffing whole pods, which is what the views save.
func FuzzViewPatchEqualsWholeDiff(f *testing.F) {
	f.Add("", "", "", "", "", int64(0), false, []byte{1}, uint8(1), true)
	f.Add("20", "/healthz", "http", "false", "", int64(30), true, []byte{1 | 4 | 64, 0, 2}, uint8(1), true)
	f.Add("5", "", "p0", "", "preStop:c0,", int64(5), true, []byte{4 | 64, 32}, uint8(6), true)
	f.Add("1000", "relative", "70000", "", "readinessProbe:x", int64(600), true, []byte{4, 16}, uint8(0), false)
	f.Fuzz(func(t *testing.T, sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte, mode uint8, native bool) {
		pod := fixture.FuzzPod(sleep, path, port, skip, record, grace, hasGrace, shape)
		whole, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		original := ownedCopy(pod)
		if mutate.Pod(pod, fuzzOptions(mode, native)).SkipReason != "" {
			return
		}
		resp := patchResponse(original, pod)
		if !resp.Allowed {
			t.Fatalf("patch failed: %v", resp.Result)
		}
		ops, err := json.Marshal(resp.Patches)
		if err != nil {
			t.Fatal(err)
		}
		patch, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			t.Fatalf("decoding %s: %v", ops, err)
		}
		got, err := patch.Apply(whole)
		if err != nil {
			t.Fatalf("applying %s: %v", ops, err)
		}
		want, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		var gotPod, wantPod corev1.Pod
		if err := json.Unmarshal(got, &gotPod); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &wantPod); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantPod, gotPod); diff != "" {
			t.Errorf("view patch %s gives a different pod (-want +got):\n%s", ops, diff)
		}
	})
}
