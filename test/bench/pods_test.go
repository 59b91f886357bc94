package main

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestFilledPods: the fill's pods are what the measurements assume — selected by their app's PDB and Service, owned
// by a ReplicaSet as the controller sets it, injected ones carrying ha-webhook's injection (so that mutating them
// again changes nothing), uninjected ones something to inject.
func TestFilledPods(t *testing.T) {
	const ns, app = "bench-fill-0001", "svc-03"
	for _, injected := range []bool{true, false} {
		p := filledPod(ns, app, 3, 1, injected)
		for what, sel := range map[string]*metav1.LabelSelector{"PDB": pdbFor(ns, app).Spec.Selector,
			"Deployment": filledDeployment(ns, app).Spec.Selector} {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil || !s.Matches(labels.Set(p.Labels)) {
				t.Errorf("injected=%v: the %s's selector does not select the pod (%v)", injected, what, err)
			}
		}
		if !labels.SelectorFromSet(filledService(ns, app, "Deployment").Spec.Selector).Matches(labels.Set(p.Labels)) {
			t.Errorf("injected=%v: the Service does not select the pod", injected)
		}
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind != "ReplicaSet" || ref.UID == "" || p.Spec.NodeName == "" {
			t.Errorf("injected=%v: controller %+v, node %q", injected, ref, p.Spec.NodeName)
		}
		if len(p.Spec.Containers) != 1 { // app index 3: the app container alone
			t.Errorf("injected=%v: %d containers, want 1", injected, len(p.Spec.Containers))
		}
		_, recorded := p.Annotations[names.AnnotationInjected]
		again := mutate.Pod(p.DeepCopy(), mutate.DefaultOptions())
		if recorded != injected || (len(again.Injections) == 0) != injected {
			t.Errorf("injected=%v: annotation %v, mutating again injects %v", injected, recorded, again.Injections)
		}
		st := runningStatus(p, 12345)
		if st.Phase != "Running" || st.PodIP == "" || len(st.ContainerStatuses) != len(p.Spec.Containers) {
			t.Errorf("injected=%v: status %+v", injected, st)
		}
	}
	if p := filledPod(ns, "svc-00", 0, 0, true); len(p.Spec.Containers) != 2 {
		t.Errorf("app index 0: %d containers, want 2", len(p.Spec.Containers))
	}
}
