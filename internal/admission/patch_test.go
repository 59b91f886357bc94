package admission

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
)

// diffOracle is the patch as the webhook computed it before it wrote patches itself: controller-runtime's
// PatchResponseFromRaw (jsonpatch.CreatePatch) over the owned views of the whole pod before and after. ownedPatch
// must find the same operations.
func diffOracle(t testing.TB, before, after *corev1.Pod) []patchOp {
	t.Helper()
	a, err := json.Marshal(ownedViewOf(before))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ownedViewOf(after))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return decodeOps(t, raw)
}

// checkAgainstOracle compares ownedPatch from snapshot to after with the oracle's diff from before to after, and
// checks that the operations are written in the fixed order: metadata, containers by index, grace period.
func checkAgainstOracle(t *testing.T, snapshot ownedBefore, before, after *corev1.Pod) []byte {
	t.Helper()
	patch, err := ownedPatch(snapshot, after)
	if err != nil {
		t.Fatalf("ownedPatch: %v", err)
	}
	if want := diffOracle(t, before, after); len(want) == 0 {
		if patch != nil {
			t.Errorf("patch %s, want none", patch)
		}
	} else if diff := cmp.Diff(want, decodeOps(t, patch)); diff != "" {
		t.Errorf("patch %s differs from the diff of the owned views (-diff +patch):\n%s", patch, diff)
	}
	var ops []patchOp
	if len(patch) > 0 {
		if err := json.Unmarshal(patch, &ops); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(ops); i++ {
		if opRank(ops[i-1].Path) > opRank(ops[i].Path) {
			t.Errorf("operation on %s written after %s", ops[i].Path, ops[i-1].Path)
		}
	}
	return patch
}

// opRank orders paths as ownedPatch writes them: metadata, containers by index, the grace period.
func opRank(path string) int {
	if strings.HasPrefix(path, "/metadata/") {
		return -1
	}
	if rest, ok := strings.CutPrefix(path, "/spec/containers/"); ok {
		idx, _, _ := strings.Cut(rest, "/")
		if i, err := strconv.Atoi(idx); err == nil {
			return i
		}
	}
	return math.MaxInt
}

// FuzzPatch: for any pod mutate.Pod changes, the written patch has the operations of the generic diff of the owned
// views, and applied to the whole original pod's JSON it gives exactly the whole mutated pod's JSON.
func FuzzPatch(f *testing.F) {
	f.Add("", "", "", "", "", int64(0), false, []byte{1}, uint8(1), true)
	f.Add("20", "/healthz", "http", "false", "", int64(30), true, []byte{1 | 4 | 64, 0, 2}, uint8(1), true)
	f.Add("5", "", "p0", "", "preStop:c0,", int64(5), true, []byte{4 | 64, 32}, uint8(6), true)
	f.Add("1000", "relative", "70000", "", "readinessProbe:x", int64(600), true, []byte{4, 16}, uint8(0), false)
	f.Add("15", "", "", "", "", int64(30), true, []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, uint8(1), true)
	f.Fuzz(func(t *testing.T, sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte, mode uint8, native bool) {
		pod := fixture.FuzzPod(sleep, path, port, skip, record, grace, hasGrace, shape)
		whole, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		before, snapshot := pod.DeepCopy(), snapshotOwned(pod)
		if mutate.Pod(pod, fuzzOptions(mode, native)).SkipReason != "" {
			return
		}
		patch := checkAgainstOracle(t, snapshot, before, pod)
		got := whole
		if patch != nil {
			p, err := jsonpatchapply.DecodePatch(patch)
			if err != nil {
				t.Fatalf("decoding %s: %v", patch, err)
			}
			if got, err = p.Apply(whole); err != nil {
				t.Fatalf("applying %s: %v", patch, err)
			}
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
			t.Errorf("patch %s gives a different pod (-want +got):\n%s", patch, diff)
		}
	})
}

// TestPatchOfChangesMutateDoesNotMake covers the branches mutate.Pod never reaches today — removals, replacements,
// a changed container count — against the same oracle, so the patch stays right if the mutation ever changes.
func TestPatchOfChangesMutateDoesNotMake(t *testing.T) {
	base := func() *corev1.Pod {
		pod := fixture.NewPod()
		pod.Annotations = map[string]string{"a/b~c": "1", "keep": "k"}
		pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
		c := fixture.Container("app")
		c.ReadinessProbe = fixture.HTTPProbe("/own", intstr.FromInt32(1))
		c.Lifecycle = &corev1.Lifecycle{PostStart: fixture.ExecHandler("/start")}
		pod.Spec.Containers = []corev1.Container{c, fixture.Container("side")}
		return pod
	}
	for name, change := range map[string]func(*corev1.Pod){
		"nothing":                     func(*corev1.Pod) {},
		"annotation added to others":  func(p *corev1.Pod) { p.Annotations["new/one"] = "x" },
		"annotation replaced":         func(p *corev1.Pod) { p.Annotations["a/b~c"] = "2" },
		"annotation removed":          func(p *corev1.Pod) { delete(p.Annotations, "keep") },
		"annotations removed":         func(p *corev1.Pod) { p.Annotations = nil },
		"annotations emptied":         func(p *corev1.Pod) { p.Annotations = map[string]string{} },
		"grace replaced":              func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45) },
		"grace set to the same value": func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30) },
		"grace removed":               func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil },
		"preStop added beside postStart": func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle.PreStop = &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}
		},
		"postStart replaced": func(p *corev1.Pod) { p.Spec.Containers[0].Lifecycle.PostStart = fixture.ExecHandler("/other") },
		"lifecycle removed":  func(p *corev1.Pod) { p.Spec.Containers[0].Lifecycle = nil },
		"lifecycle added": func(p *corev1.Pod) {
			p.Spec.Containers[1].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/x")}
		},
		"probe replaced": func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/other", intstr.FromInt32(2))
		},
		"probe replaced by an equal one": func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/own", intstr.FromInt32(1))
		},
		"probe removed":     func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = nil },
		"container added":   func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, fixture.Container("third")) },
		"container removed": func(p *corev1.Pod) { p.Spec.Containers = p.Spec.Containers[:1] },
	} {
		t.Run(name, func(t *testing.T) {
			pod := base()
			before, snapshot := pod.DeepCopy(), snapshotOwned(pod)
			change(pod)
			checkAgainstOracle(t, snapshot, before, pod)
		})
	}
}
