// The race detector adds allocations of its own: the allocation gates are built without it, so that they never skip
// (CI runs them without -race; make unit, with -race, leaves them out).

//go:build !race

package admission

import (
	"context"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
)

// nopRecorder records nothing, for the allocation gates.
type nopRecorder struct{}

func (nopRecorder) Mutated(string, policy.Mode)   {}
func (nopRecorder) Violation(string, policy.Mode) {}
func (nopRecorder) Exempted()                     {}

// TestHandlerAllocations is a regression gate for the admission adapter, which runs for every pod creation in
// opted-in namespaces: decoding the part of the pod the rules read (podobject.go), mutate.Pod, and the patch written
// from the typed pod (patch.go). Before those two it was 192 (controller-runtime's PatchResponseFromRaw between
// owned views of a fully decoded pod); diffing whole pods with the serializer's decoder made 1,500 for a 3 KB pod.
// The budget is the figure measured when the gate was written plus a small margin; raise it only with a reason.
func TestHandlerAllocations(t *testing.T) {
	const budget = 75 // measured 64 (Go 1.26, k8s.io/api v0.37.2)
	h := NewPodHandler(func() mutate.Options { return testOptions() }, fixedMode(policy.ModeEnforce), nopRecorder{})
	req := podRequest(t, admissionv1.Create, "Pod", "", readFile(t, filepath.Join("testdata", "pod", "basic.pod.json")))
	var resp cradmission.Response
	allocs := testing.AllocsPerRun(200, func() { resp = h.Handle(context.Background(), req) })
	t.Logf("Handler.Handle: %.0f allocations per request", allocs)
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("the measured request was not patched: %+v", resp)
	}
	if allocs > budget {
		t.Errorf("Handler.Handle made %.0f allocations per request, budget %d", allocs, budget)
	}
}
