package admission

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
)

// samePodPath decodes raw as a whole Pod and as the podObject the handler decodes, runs mutate.Pod on both, and
// compares everything the pod path answers with: the result (skip reason, injections, warnings), the namespace and
// the patch.
func samePodPath(t *testing.T, raw []byte, opts mutate.Options) {
	t.Helper()
	var whole corev1.Pod
	if err := decode(raw, &whole, podKind); err != nil {
		t.Fatalf("decoding the whole pod: %v", err)
	}
	var obj podObject
	if err := decode(raw, &obj, podKind); err != nil {
		t.Fatalf("decoding the podObject of a pod that decodes whole: %v", err)
	}
	part := obj.pod()
	if part.Namespace != whole.Namespace {
		t.Errorf("namespace %q, whole pod's %q", part.Namespace, whole.Namespace)
	}
	wholeBefore, partBefore := snapshotOwned(&whole), snapshotOwned(part)
	wantRes, gotRes := mutate.Pod(&whole, opts), mutate.Pod(part, opts)
	if diff := cmp.Diff(wantRes, gotRes); diff != "" {
		t.Errorf("mutate.Pod on the podObject differs from the whole pod (-whole +podObject):\n%s", diff)
	}
	want, err := ownedPatch(wholeBefore, &whole)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ownedPatch(partBefore, part)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("patch on the podObject:\n%s\nwhole pod's:\n%s", got, want)
	}
}

// TestPodObjectKeepsWhatMutateReads: on every hand-written pod of the golden tests, under each preStop mode, the
// part of the pod the handler decodes gives the same mutation and patch as the whole pod.
func TestPodObjectKeepsWhatMutateReads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "pod", "*.pod.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pods under testdata/pod: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for mode := range uint8(8) {
			t.Run(filepath.Base(f)+"/"+string(rune('0'+mode)), func(t *testing.T) {
				samePodPath(t, raw, fuzzOptions(mode, mode%2 == 0))
			})
		}
	}
}

func FuzzPodObject(f *testing.F) {
	f.Add("", "", "", "", "", int64(0), false, []byte{1}, uint8(1), true)
	f.Add("20", "/healthz", "http", "false", "", int64(30), true, []byte{1 | 4 | 64, 0, 2, 8, 16 | 1}, uint8(1), true)
	f.Add("5", "", "p0", "", "preStop:c0,", int64(5), true, []byte{4 | 64, 32, 128}, uint8(6), true)
	f.Fuzz(func(t *testing.T, sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte, mode uint8, native bool) {
		raw, err := json.Marshal(fixture.FuzzPod(sleep, path, port, skip, record, grace, hasGrace, shape))
		if err != nil {
			t.Fatal(err)
		}
		samePodPath(t, raw, fuzzOptions(mode, native))
	})
}
