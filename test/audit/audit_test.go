package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ha-webhook/ha-webhook/internal/audit"
	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
)

// createNamespace creates ns with the labels; it is deleted when the test ends.
func createNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
}

func optIn(mode string) map[string]string {
	l := map[string]string{names.LabelEnabled: "true"}
	if mode != "" {
		l[names.LabelMode] = mode
	}
	return l
}

// create creates each object in ns.
func create(t *testing.T, ns string, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		o.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// deployment is fixture.Deployment with a serving container (port 8080) so that its pods are mutated.
func deployment(name string, replicas int32) *appsv1.Deployment {
	return fixture.With(fixture.Deployment(name, fixture.Replicas(replicas)), func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
}

// podOf is the pod the Deployment's ReplicaSet would create (no controller-manager runs here).
func podOf(d *appsv1.Deployment, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", d.Name, i), Labels: d.Spec.Template.Labels},
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
}

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
}

// pdb is a PDB over app=name that lets a drain evict a pod that is not ready (no pdb-unhealthy-eviction warning).
func pdb(name, maxUnavailable string) *policyv1.PodDisruptionBudget {
	p := fixture.PDB(name, fixture.SelectApp(name), nil, fixture.IntOrStr(maxUnavailable))
	p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	return p
}

// setPDBStatus writes a PDB's status as the disruption controller would (none runs here).
func setPDBStatus(t *testing.T, ns, name string, allowed, healthy, desired, expected int32) {
	t.Helper()
	p := &policyv1.PodDisruptionBudget{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
		t.Fatal(err)
	}
	p.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: healthy,
		DesiredHealthy: desired, ExpectedPods: expected, ObservedGeneration: p.Generation}
	if err := env.Client.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// comparable is what two reports must agree on: their JSON form (the `report -o json` interface) and, per workload,
// the rules' structured verdict the gauges and PolicyReports count.
func comparable(r report.Report) (string, map[string]string) {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err.Error(), nil
	}
	states := map[string]string{}
	for _, w := range r.Workloads {
		states[w.Namespace+"/"+w.Kind+"/"+w.Name] = fmt.Sprintf("%s %d %s", audit.State(w), w.Generation, w.UID)
	}
	return string(raw), states
}

// TestAuditAgreesWithReport: on the same objects, the audit (from the server's stripped informer cache) and
// `ha-webhook report` (live lists of whole objects) build the same report — one implementation, and the cache
// transforms keep everything it reads. The objects cover every finding: violating, exempt and compliant workloads,
// a stalling PDB, a PDB warning, a cut Service, pods created before the namespace opted in (uninjected) and after.
func TestAuditAgreesWithReport(t *testing.T) {
	const ns = "agree"
	createNamespace(t, ns, nil)
	lonely := deployment("lonely", 1)
	// Created before the namespace opts in: not mutated, so the audit finds them uninjected.
	create(t, ns, podOf(lonely, 0), service("lonely"))

	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels = optIn("audit") // audit mode admits the violating ones, with warnings
	if err := env.Client.Update(context.Background(), nsObj); err != nil {
		t.Fatal(err)
	}
	web, db := deployment("web", 2), deployment("db", 2)
	exempt := fixture.With(deployment("legacy", 1), func(d *appsv1.Deployment) {
		d.Annotations = map[string]string{names.AnnotationExempt: "batch importer, single writer"}
	})
	sts := fixture.StatefulSet("cache", fixture.Replicas(3))
	// db's PDB keeps every pod up (pdb-blocks-drain) and, without unhealthyPodEvictionPolicy, draws a PDB warning.
	dbBudget := fixture.PDB("db", fixture.SelectApp("db"), nil, fixture.IntOrStr("0"))
	create(t, ns, lonely, web, db, exempt, sts, pdb("web", "1"), dbBudget,
		podOf(web, 0), podOf(web, 1), podOf(db, 0), podOf(db, 1), service("web"), service("db"))
	setPDBStatus(t, ns, "db", 0, 2, 2, 2)

	var audited, reported report.Report
	eventually(t, 30*time.Second, "the audit agrees with report", func() error {
		latest := srv.LatestAudit()
		if latest == nil {
			return fmt.Errorf("no audit yet")
		}
		live, err := report.Run(context.Background(), env.Client, report.DefaultOptions())
		if err != nil {
			return err
		}
		audited, reported = latest.Report, live
		a, as := comparable(audited)
		r, rs := comparable(reported)
		if d := cmp.Diff(r, a) + cmp.Diff(rs, as); d != "" {
			return fmt.Errorf("audit differs from report (-report +audit):\n%s", d)
		}
		return nil
	})
	// The comparison is only worth something if every finding is in it.
	counts := audit.Count(audited)[ns]
	if counts == nil {
		t.Fatalf("namespace %s is not in the audit", ns)
	}
	if len(audited.PDBWarnings) == 0 {
		t.Errorf("no PDB warning in the audit: db's PDB has no unhealthyPodEvictionPolicy")
	}
	want := audit.Counts{
		States:       map[string]int{audit.StateCompliant: 1, audit.StateViolating: 3, audit.StateExempt: 1},
		Rules:        map[string]int{"min-replicas": 1, "pdb-missing": 2, "pdb-blocks-drain": 1},
		StallingPDBs: 1,
		CutServices:  1,
		// Audit mode injects nothing: every serving pod lacks the injections.
		UninjectedPods: 5,
	}
	if d := cmp.Diff(want, *counts); d != "" {
		t.Errorf("audit of %s (-want +got):\n%s\n%s", ns, d, auditLines(ns))
	}
}

// TestDeletingAPDBMovesTheGaugesAndRecordsAnEvent: deleting a workload's PDB (a write the webhook never denies)
// turns it violating in the gauges and records a NonCompliant Event on it, so that `kubectl describe deployment` tells
// its owner; recreating the PDB turns it back, with a Compliant Event.
func TestDeletingAPDBMovesTheGaugesAndRecordsAnEvent(t *testing.T) {
	const ns = "pdb-delete"
	createNamespace(t, ns, optIn(""))
	web := deployment("web", 2)
	budget := pdb("web", "1")
	create(t, ns, budget, web, podOf(web, 0), podOf(web, 1))
	state := func(s string, v float64) series {
		return series{"ha_webhook_audit_workloads", map[string]string{"namespace": ns, "state": s}, v}
	}
	rule := func(r string, v float64) series {
		return series{"ha_webhook_audit_workload_violations", map[string]string{"namespace": ns, "rule": r}, v}
	}
	wantGauges(t, "compliant before the delete", state("compliant", 1), state("violating", 0), rule("pdb-missing", 0))
	t.Logf("/metrics before kubectl delete pdb web:\n%s", auditLines(ns))

	if err := env.Client.Delete(context.Background(), budget); err != nil {
		t.Fatal(err)
	}
	wantGauges(t, "violating after the delete", state("compliant", 0), state("violating", 1), rule("pdb-missing", 1))
	t.Logf("/metrics after kubectl delete pdb web:\n%s", auditLines(ns))
	note := waitForEvent(t, ns, "web", audit.ReasonNonCompliant)
	t.Logf("Event: %s", note)

	create(t, ns, pdb("web", "1"))
	wantGauges(t, "compliant again", state("compliant", 1), state("violating", 0), rule("pdb-missing", 0))
	waitForEvent(t, ns, "web", audit.ReasonCompliant)
}

// TestLoweringAnHPARecordsAnEvent: in an audit-mode namespace the webhook admits an HPA write that lowers
// minReplicas to 1 (with a warning to whoever made it); the workload's owner learns it from the Event.
func TestLoweringAnHPARecordsAnEvent(t *testing.T) {
	const ns = "hpa-lower"
	createNamespace(t, ns, optIn("audit"))
	web := deployment("web", 2)
	hpa := fixture.WebHPA(fixture.Replicas(2))
	create(t, ns, pdb("web", "1"), web, hpa)
	wantGauges(t, "compliant with minReplicas 2",
		series{"ha_webhook_audit_workloads", map[string]string{"namespace": ns, "state": "compliant"}, 1})
	hpa.Spec.MinReplicas = fixture.Replicas(1)
	if err := env.Client.Update(context.Background(), hpa); err != nil {
		t.Fatal(err)
	}
	wantGauges(t, "min-replicas after lowering the HPA",
		series{"ha_webhook_audit_workload_violations", map[string]string{"namespace": ns, "rule": "min-replicas"}, 1})
	if note := waitForEvent(t, ns, "web", audit.ReasonNonCompliant); !strings.Contains(note, "min-replicas") {
		t.Errorf("Event note does not name the rule: %s", note)
	}
}

// waitForEvent waits for an Event of reason on the Deployment name and returns its note.
func waitForEvent(t *testing.T, ns, name, reason string) string {
	t.Helper()
	var note string
	eventually(t, 20*time.Second, "Event "+reason+" on deployment/"+name, func() error {
		var list corev1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "Deployment" && e.InvolvedObject.Name == name && e.Reason == reason {
				if e.Type == "" || e.ReportingController != names.EventsController {
					return fmt.Errorf("event %s has type %q, reportingController %q", e.Name, e.Type, e.ReportingController)
				}
				note = e.Message
				return nil
			}
		}
		return fmt.Errorf("none among %d events", len(list.Items))
	})
	return note
}

// policyReport reads the namespace's PolicyReport, or nil when there is none.
func policyReport(t *testing.T, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(audit.PolicyReportGVK)
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: audit.PolicyReportName}, u)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	if err != nil {
		return nil
	}
	return u
}

func summary(u *unstructured.Unstructured) map[string]int64 {
	out := map[string]int64{}
	for _, k := range []string{"pass", "fail", "warn", "error", "skip"} {
		v, _, _ := unstructured.NestedInt64(u.Object, "summary", k)
		out[k] = v
	}
	return out
}

// TestPolicyReportFollowsTheAudit: the namespace's PolicyReport is written on the real CRD (the API server validates
// it against its schema), rewritten only when its content changes, updated when a PDB is deleted, and deleted when
// the namespace opts out.
func TestPolicyReportFollowsTheAudit(t *testing.T) {
	const ns = "reports"
	createNamespace(t, ns, optIn("audit"))
	web, api := deployment("web", 2), deployment("api", 1)
	budget := pdb("web", "1")
	create(t, ns, budget, web, api)

	want := map[string]int64{"pass": 5 + 3, "fail": 2, "warn": 0, "error": 0, "skip": 0}
	var first *unstructured.Unstructured
	eventually(t, 20*time.Second, "the PolicyReport", func() error {
		if first = policyReport(t, ns); first == nil {
			return fmt.Errorf("no PolicyReport in %s", ns)
		}
		if d := cmp.Diff(want, summary(first)); d != "" {
			return fmt.Errorf("summary (-want +got):\n%s", d)
		}
		return nil
	})
	out, _ := yaml.Marshal(first.Object)
	t.Logf("PolicyReport:\n%s", out)

	// A change that changes no result: the report is not rewritten.
	other := deployment("other", 2)
	create(t, ns, pdb("other", "1"), other)
	want["pass"] += 5
	eventually(t, 20*time.Second, "the report counts the new workload", func() error {
		if d := cmp.Diff(want, summary(policyReport(t, ns))); d != "" {
			return fmt.Errorf("summary (-want +got):\n%s", d)
		}
		return nil
	})
	rv := policyReport(t, ns).GetResourceVersion()
	nsObj := &corev1.Namespace{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["unrelated"] = "change"
	if err := env.Client.Update(context.Background(), nsObj); err != nil {
		t.Fatal(err)
	}
	before := srv.LatestAudit()
	eventually(t, 10*time.Second, "an audit after the unrelated change", func() error {
		if srv.LatestAudit() == before {
			return fmt.Errorf("no new audit")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // the writer acts right after the audit
	if got := policyReport(t, ns).GetResourceVersion(); got != rv {
		t.Errorf("PolicyReport rewritten without a change: resourceVersion %s → %s", rv, got)
	}

	if err := env.Client.Delete(context.Background(), budget); err != nil {
		t.Fatal(err)
	}
	want["pass"]--
	want["fail"]++
	eventually(t, 20*time.Second, "the report after the PDB delete", func() error {
		if d := cmp.Diff(want, summary(policyReport(t, ns))); d != "" {
			return fmt.Errorf("summary (-want +got):\n%s", d)
		}
		return nil
	})

	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	delete(nsObj.Labels, names.LabelEnabled)
	if err := env.Client.Update(context.Background(), nsObj); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the report deleted after opting out", func() error {
		if policyReport(t, ns) != nil {
			return fmt.Errorf("PolicyReport still in %s", ns)
		}
		return nil
	})
}
