package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestCollector: the gauges of one audit, zeros included, and no series at all before the first audit.
func TestCollector(t *testing.T) {
	c := newCluster().
		deployment("web", 2).pdb("web", "1").
		deployment("api", 1).
		deployment("legacy", 1, names.AnnotationExempt, "single writer")
	c.namespaces = append(c.namespaces, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "empty",
		Labels: map[string]string{names.LabelEnabled: "true"}}})
	// web's PDB allows no disruption right now (a pod is not ready), and a lone serving pod lacks the injections.
	c.pdbs[0].Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2}
	pod := fixture.WebPod()
	pod.Name, pod.Labels = "lone", map[string]string{"app": "lone"}
	c.pods = append(c.pods, *pod)
	c.services = append(c.services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lone", Namespace: "shop"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "lone"}}})

	var latest *Result
	col := NewCollector(func() *Result { return latest })
	if n := testutil.CollectAndCount(col); n != 0 {
		t.Errorf("%d series before the first audit, want none", n)
	}
	latest = &Result{Report: c.report(), Completed: time.Unix(1700000000, 500000000), Duration: 1500 * time.Millisecond}
	want := `
# HELP ha_webhook_audit_cut_services Services whose backing pods a drain may evict all at once: the next node upgrade cuts their traffic.
# TYPE ha_webhook_audit_cut_services gauge
ha_webhook_audit_cut_services{namespace="empty"} 0
ha_webhook_audit_cut_services{namespace="shop"} 1
# HELP ha_webhook_audit_duration_seconds How long the last audit took.
# TYPE ha_webhook_audit_duration_seconds gauge
ha_webhook_audit_duration_seconds 1.5
# HELP ha_webhook_audit_last_completed_timestamp_seconds Unix time at which the last audit completed.
# TYPE ha_webhook_audit_last_completed_timestamp_seconds gauge
ha_webhook_audit_last_completed_timestamp_seconds 1.7000000005e+09
# HELP ha_webhook_audit_stalling_pdbs PodDisruptionBudgets whose status allows no disruption while they expect pods: a drain of their nodes waits.
# TYPE ha_webhook_audit_stalling_pdbs gauge
ha_webhook_audit_stalling_pdbs{namespace="empty"} 0
ha_webhook_audit_stalling_pdbs{namespace="shop"} 1
# HELP ha_webhook_audit_uninjected_pods Serving pods that lack what the mutating webhook injects (created while it was down, before the namespace opted in, or in audit mode).
# TYPE ha_webhook_audit_uninjected_pods gauge
ha_webhook_audit_uninjected_pods{namespace="empty"} 0
ha_webhook_audit_uninjected_pods{namespace="shop"} 1
# HELP ha_webhook_audit_workload_violations Workloads that violate each rule now.
# TYPE ha_webhook_audit_workload_violations gauge
ha_webhook_audit_workload_violations{namespace="empty",rule="min-replicas"} 0
ha_webhook_audit_workload_violations{namespace="empty",rule="pdb-blocks-drain"} 0
ha_webhook_audit_workload_violations{namespace="empty",rule="pdb-missing"} 0
ha_webhook_audit_workload_violations{namespace="empty",rule="pdb-multiple"} 0
ha_webhook_audit_workload_violations{namespace="empty",rule="pdb-unprotective"} 0
ha_webhook_audit_workload_violations{namespace="shop",rule="min-replicas"} 1
ha_webhook_audit_workload_violations{namespace="shop",rule="pdb-blocks-drain"} 0
ha_webhook_audit_workload_violations{namespace="shop",rule="pdb-missing"} 1
ha_webhook_audit_workload_violations{namespace="shop",rule="pdb-multiple"} 0
ha_webhook_audit_workload_violations{namespace="shop",rule="pdb-unprotective"} 0
# HELP ha_webhook_audit_workloads Deployments and StatefulSets in opted-in namespaces, by state: compliant, violating (their next update is denied in enforce mode), exempt.
# TYPE ha_webhook_audit_workloads gauge
ha_webhook_audit_workloads{namespace="empty",state="compliant"} 0
ha_webhook_audit_workloads{namespace="empty",state="exempt"} 0
ha_webhook_audit_workloads{namespace="empty",state="violating"} 0
ha_webhook_audit_workloads{namespace="shop",state="compliant"} 1
ha_webhook_audit_workloads{namespace="shop",state="exempt"} 1
ha_webhook_audit_workloads{namespace="shop",state="violating"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestStateOfAWorkload: exempt wins over the violations it would have, which are then advisories.
func TestStateOfAWorkload(t *testing.T) {
	tests := map[string]struct {
		c    *cluster
		want string
	}{
		"compliant": {c: newCluster().deployment("web", 2).pdb("web", "1"), want: StateCompliant},
		"violating": {c: newCluster().deployment("web", 1), want: StateViolating},
		"exempt":    {c: newCluster().deployment("web", 1, names.AnnotationExempt, "why"), want: StateExempt},
		"an empty reason is no exemption": {
			c: newCluster().deployment("web", 1, names.AnnotationExempt, ""), want: StateViolating,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := tc.c.report()
			if len(r.Workloads) != 1 {
				t.Fatalf("%d workloads", len(r.Workloads))
			}
			if got := State(r.Workloads[0]); got != tc.want {
				t.Errorf("State = %s, want %s", got, tc.want)
			}
		})
	}
}
