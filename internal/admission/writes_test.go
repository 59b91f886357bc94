package admission

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// pdbRequest is a policy/v1 PodDisruptionBudget request for the PDB name.
func pdbRequest(t testing.TB, op admissionv1.Operation, name string, pdb, old any) cradmission.Request {
	req := request(t, op, "policy", "PodDisruptionBudget", "poddisruptionbudgets", "", name, pdb, old)
	req.Resource.Group = "policy"
	return req
}

// hpaRequest is an autoscaling/v2 HorizontalPodAutoscaler request for the HPA name.
func hpaRequest(t testing.TB, op admissionv1.Operation, name string, hpa, old any) cradmission.Request {
	req := request(t, op, "autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "", name, hpa, old)
	req.Kind.Version = "v2"
	req.Resource.Group, req.Resource.Version = "autoscaling", "v2"
	return req
}

func alwaysAllow(p *policyv1.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	return p
}

// writeCluster is web(3) and api(3), each with its PDB maxUnavailable 1.
func writeCluster() validate.Cluster {
	return validate.Cluster{
		PDBs: []*policyv1.PodDisruptionBudget{
			alwaysAllow(fixture.MaxUnavailable("web", "1")),
			alwaysAllow(fixture.PDB("api", fixture.SelectApp("api"), nil, fixture.IntOrStr("1"))),
		},
		Workloads: []validate.Workload{
			validate.DeploymentWorkload(fixture.Deployment("web", fixture.Replicas(3))),
			validate.DeploymentWorkload(fixture.Deployment("api", fixture.Replicas(3))),
		},
	}
}

// sharedCluster is web(2) and api(2) whose pods carry part-of=shop, under the PDB shop (maxUnavailable 1).
func sharedCluster() validate.Cluster {
	labelled := func(name string) validate.Workload {
		return validate.DeploymentWorkload(fixture.TemplateLabels(fixture.Deployment(name, fixture.Replicas(2)), "app", name, "part-of", "shop"))
	}
	return validate.Cluster{
		PDBs:      []*policyv1.PodDisruptionBudget{alwaysAllow(fixture.PDB("shop", fixture.SelectLabels("part-of", "shop"), nil, fixture.IntOrStr("1")))},
		Workloads: []validate.Workload{labelled("web"), labelled("api")},
	}
}

const patchPDBFix = `kubectl patch pdb web -n shop --type=merge -p '{"spec":{"minAvailable":null,"maxUnavailable":1}}' (a blocked drain makes GKE wait up to 1h per node, then evict anyway)`

func TestWriteHandler(t *testing.T) {
	webPDB := alwaysAllow(fixture.MaxUnavailable("web", "1"))
	blocking := alwaysAllow(fixture.MaxUnavailable("web", "0"))
	second := alwaysAllow(fixture.MaxUnavailable("web-v2", "1"))
	shopPDB := func(minAvail string) *policyv1.PodDisruptionBudget {
		return alwaysAllow(fixture.PDB("shop", fixture.SelectLabels("part-of", "shop"), fixture.IntOrStr(minAvail), nil))
	}
	everything := alwaysAllow(fixture.PDB("all", &metav1.LabelSelector{}, nil, fixture.IntOrStr("0")))
	withDB := writeCluster()
	withDB.Workloads = append(withDB.Workloads, validate.DeploymentWorkload(fixture.Deployment("db", fixture.Replicas(3))))
	tests := map[string]struct {
		req          cradmission.Request
		mode         policy.Mode
		cluster      validate.Cluster
		lookupErr    error
		modeErr      error
		wantAllowed  bool
		wantCode     int32
		wantMessage  []string // lines of the message, exactly, when set
		wantContains string
		wantWarnings []string // prefixes, one per warning
		wantAudit    map[string]string
		wantCounts   map[string]int
		wantLookups  int
	}{
		"PDB patched to maxUnavailable 0: denied, naming the workload": {
			req: pdbRequest(t, admissionv1.Update, "web", blocking, webPDB), mode: policy.ModeEnforce, cluster: writeCluster(),
			wantCode: http.StatusForbidden,
			wantMessage: []string{
				"PodDisruptionBudget shop/web would make node drains stall or cut traffic:",
				"Deployment shop/web: pdb-blocks-drain: PDB web (maxUnavailable 0) allows 0 evictions at 3 replicas: drains stall; fix: " + patchPDBFix,
			},
			wantAudit:   map[string]string{"mode": "enforce", "violations": "pdb-blocks-drain"},
			wantCounts:  map[string]int{"pdb-blocks-drain/enforce": 1},
			wantLookups: 1,
		},
		"PDB patched to maxUnavailable 0 in audit mode: allowed with a warning": {
			req: pdbRequest(t, admissionv1.Update, "web", blocking, webPDB), mode: policy.ModeAudit, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: deployment/web: PDB web (maxUnavailable 0) allows 0 evictions"},
			wantAudit:    map[string]string{"mode": "audit", "violations": "pdb-blocks-drain"},
			wantCounts:   map[string]int{"pdb-blocks-drain/audit": 1},
			wantLookups:  1,
		},
		"shared PDB made blocking: each workload named": {
			req: pdbRequest(t, admissionv1.Update, "shop", shopPDB("4"), sharedCluster().PDBs[0]), mode: policy.ModeEnforce, cluster: sharedCluster(),
			wantCode: http.StatusForbidden,
			wantMessage: []string{
				"PodDisruptionBudget shop/shop would make node drains stall or cut traffic:",
				"Deployment shop/api: pdb-blocks-drain: PDB shop (minAvailable 4) allows 0 evictions at 4 shared pods: drains stall; fix: " + strings.Replace(patchPDBFix, "pdb web", "pdb shop", 1),
				"Deployment shop/web: pdb-blocks-drain: PDB shop (minAvailable 4) allows 0 evictions at 4 shared pods: drains stall; fix: " + strings.Replace(patchPDBFix, "pdb web", "pdb shop", 1),
			},
			wantAudit:   map[string]string{"mode": "enforce", "violations": "pdb-blocks-drain"},
			wantCounts:  map[string]int{"pdb-blocks-drain/enforce": 2},
			wantLookups: 1,
		},
		"shared PDB at minAvailable 3 over 4 pods passes": {
			req: pdbRequest(t, admissionv1.Update, "shop", shopPDB("3"), sharedCluster().PDBs[0]), mode: policy.ModeEnforce, cluster: sharedCluster(),
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"}, wantLookups: 1,
		},
		"PDB CREATE whose only added rule is pdb-multiple: warned, not denied": {
			req: pdbRequest(t, admissionv1.Create, "web-v2", second, nil), mode: policy.ModeEnforce, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: deployment/web: 2 PodDisruptionBudgets select these pods"},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "pdb-multiple"},
			wantCounts:   map[string]int{"pdb-multiple/enforce": 1},
			wantLookups:  1,
		},
		"PDB UPDATE adding pdb-multiple: denied": {
			req:  pdbRequest(t, admissionv1.Update, "web-v2", second, alwaysAllow(fixture.PDB("web-v2", fixture.SelectApp("cart"), nil, fixture.IntOrStr("1")))),
			mode: policy.ModeEnforce, cluster: writeCluster(),
			wantCode: http.StatusForbidden, wantContains: "Deployment shop/web: pdb-multiple: 2 PodDisruptionBudgets select these pods",
			wantAudit:   map[string]string{"mode": "enforce", "violations": "pdb-multiple"},
			wantCounts:  map[string]int{"pdb-multiple/enforce": 1},
			wantLookups: 1,
		},
		// all selects web and api (a second PDB each) and db (its first, which blocks): not only pdb-multiple.
		"PDB CREATE adding pdb-multiple and another rule: denied": {
			req: pdbRequest(t, admissionv1.Create, "all", everything, nil), mode: policy.ModeEnforce, cluster: withDB,
			wantCode: http.StatusForbidden, wantContains: "Deployment shop/db: pdb-blocks-drain: PDB all (maxUnavailable 0)",
			wantAudit:   map[string]string{"mode": "enforce", "violations": "pdb-multiple,pdb-blocks-drain"},
			wantCounts:  map[string]int{"pdb-multiple/enforce": 2, "pdb-blocks-drain/enforce": 1},
			wantLookups: 1,
		},
		"PDB DELETE that leaves a workload unprotected: allowed with a warning": {
			req: pdbRequest(t, admissionv1.Delete, "web", nil, webPDB), mode: policy.ModeEnforce, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: deployment/web: no PodDisruptionBudget selects these pods"},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "pdb-missing"},
			wantCounts:   map[string]int{"pdb-missing/enforce": 1},
			wantLookups:  1,
		},
		"PDB DELETE in audit mode": {
			req: pdbRequest(t, admissionv1.Delete, "web", nil, webPDB), mode: policy.ModeAudit, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: deployment/web: "},
			wantAudit:    map[string]string{"mode": "audit", "violations": "pdb-missing"},
			wantCounts:   map[string]int{"pdb-missing/audit": 1},
			wantLookups:  1,
		},
		"PDB DELETE with the lookup failing: allowed, not 5xx": {
			req: pdbRequest(t, admissionv1.Delete, "web", nil, webPDB), mode: policy.ModeEnforce,
			lookupErr:   errors.New("PodDisruptionBudget cache not synced"),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: the deletion was not checked: PodDisruptionBudget cache not synced"},
			wantLookups:  1,
		},
		"PDB DELETE with the mode lookup failing: allowed": {
			req: pdbRequest(t, admissionv1.Delete, "web", nil, webPDB), modeErr: errors.New("namespace cache not synced"),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: the deletion was not checked: namespace cache not synced"},
		},
		"PDB DELETE with an undecodable old object: allowed": {
			req:  pdbRequest(t, admissionv1.Delete, "web", nil, `{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","spec":{"maxUnavailable":{"no":1}}}`),
			mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: the deleted object was not checked: the old object: "},
		},
		"PDB DELETE without an old object: allowed": {
			req:  pdbRequest(t, admissionv1.Delete, "web", nil, nil),
			mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: the deleted object was not checked: the old object: there is no content to decode"},
		},
		"PDB DELETE of a PDB that selects nothing: allowed silently": {
			req:  pdbRequest(t, admissionv1.Delete, "other", nil, fixture.PDB("other", fixture.SelectApp("other"), nil, fixture.IntOrStr("1"))),
			mode: policy.ModeEnforce, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"}, wantLookups: 1,
		},
		"PDB CREATE with bad JSON: 400": {
			req:      pdbRequest(t, admissionv1.Create, "web", `{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","spec":{"selector":"app=web"}}`, nil),
			mode:     policy.ModeEnforce,
			wantCode: http.StatusBadRequest,
		},
		"PDB CREATE with another kind: 400": {
			req:      pdbRequest(t, admissionv1.Create, "web", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`, nil),
			mode:     policy.ModeEnforce,
			wantCode: http.StatusBadRequest, wantContains: "unable to decode v1, Kind=Pod into policy/v1, Kind=PodDisruptionBudget",
		},
		"PDB UPDATE with an undecodable old object: 400": {
			req:      pdbRequest(t, admissionv1.Update, "web", webPDB, `{"spec":{"minAvailable":[]}}`),
			mode:     policy.ModeEnforce,
			wantCode: http.StatusBadRequest, wantContains: "the old object: ",
		},
		"PDB UPDATE with the lookup failing: 503": {
			req: pdbRequest(t, admissionv1.Update, "web", blocking, webPDB), mode: policy.ModeEnforce,
			lookupErr: errors.New("PodDisruptionBudget cache not synced"),
			wantCode:  http.StatusServiceUnavailable, wantContains: "PodDisruptionBudget cache not synced", wantLookups: 1,
		},
		"PDB status subresource: 400": {
			req: func() cradmission.Request {
				r := pdbRequest(t, admissionv1.Update, "web", webPDB, webPDB)
				r.SubResource = "status"
				return r
			}(),
			wantCode: http.StatusBadRequest,
		},
		"compliant PDB CREATE without AlwaysAllow: the pdb-unhealthy-eviction warning": {
			req: pdbRequest(t, admissionv1.Create, "web", fixture.MaxUnavailable("web", "1"), nil), mode: policy.ModeEnforce,
			cluster:     validate.Cluster{Workloads: writeCluster().Workloads},
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook: pdb-unhealthy-eviction: PDB web: one crash-looping pod spends the budget and stalls every drain"},
			wantAudit:    map[string]string{"mode": "enforce"},
			wantLookups:  1,
		},
		"compliant PDB CREATE with AlwaysAllow: no warning": {
			req: pdbRequest(t, admissionv1.Create, "web", webPDB, nil), mode: policy.ModeEnforce,
			cluster:     validate.Cluster{Workloads: writeCluster().Workloads},
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"}, wantLookups: 1,
		},
		"denied PDB UPDATE without AlwaysAllow: the denial carries the warning": {
			req: pdbRequest(t, admissionv1.Update, "web", fixture.MaxUnavailable("web", "0"), webPDB), mode: policy.ModeEnforce, cluster: writeCluster(),
			wantCode: http.StatusForbidden, wantContains: "Deployment shop/web: pdb-blocks-drain",
			wantWarnings: []string{"ha-webhook: pdb-unhealthy-eviction: "},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "pdb-blocks-drain"},
			wantCounts:   map[string]int{"pdb-blocks-drain/enforce": 1},
			wantLookups:  1,
		},
		"PDB DELETE: no pdb-unhealthy-eviction warning for the deleted PDB": {
			req:  pdbRequest(t, admissionv1.Delete, "web", nil, fixture.MaxUnavailable("web", "1")),
			mode: policy.ModeEnforce, cluster: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}},
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"}, wantLookups: 1,
		},
		"HPA CREATE with minReplicas 1: denied": {
			req: hpaRequest(t, admissionv1.Create, "web", fixture.WebHPA(fixture.Replicas(1)), nil), mode: policy.ModeEnforce, cluster: writeCluster(),
			wantCode: http.StatusForbidden,
			wantMessage: []string{
				"HorizontalPodAutoscaler shop/web would make node drains stall or cut traffic:",
				`Deployment shop/web: min-replicas: HPA web may scale to 1 replica(s), below 2: a drain then cuts all traffic; fix: kubectl patch hpa web -n shop --type=merge -p '{"spec":{"minReplicas":2}}'`,
			},
			wantAudit:   map[string]string{"mode": "enforce", "violations": "min-replicas"},
			wantCounts:  map[string]int{"min-replicas/enforce": 1},
			wantLookups: 1,
		},
		"HPA UPDATE lowering minReplicas: denied": {
			req:  hpaRequest(t, admissionv1.Update, "web", fixture.WebHPA(fixture.Replicas(1)), fixture.WebHPA(fixture.Replicas(3))),
			mode: policy.ModeEnforce, cluster: writeCluster(),
			wantCode: http.StatusForbidden, wantContains: "Deployment shop/web: min-replicas: HPA web may scale to 1 replica(s)",
			wantAudit:   map[string]string{"mode": "enforce", "violations": "min-replicas"},
			wantCounts:  map[string]int{"min-replicas/enforce": 1},
			wantLookups: 1,
		},
		"HPA UPDATE raising minReplicas: allowed": {
			req:  hpaRequest(t, admissionv1.Update, "web", fixture.WebHPA(fixture.Replicas(3)), fixture.WebHPA(fixture.Replicas(1))),
			mode: policy.ModeEnforce, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"}, wantLookups: 1,
		},
		"HPA CREATE in audit mode: allowed with a warning": {
			req: hpaRequest(t, admissionv1.Create, "web", fixture.WebHPA(nil), nil), mode: policy.ModeAudit, cluster: writeCluster(),
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: deployment/web: HPA web may scale to 1 replica(s)"},
			wantAudit:    map[string]string{"mode": "audit", "violations": "min-replicas"},
			wantCounts:   map[string]int{"min-replicas/audit": 1},
			wantLookups:  1,
		},
		// An HPA floor of 1 on web under the shared PDB (minAvailable 3 over 2+2 pods): 1+2 = 3 pods, 0 evictions.
		"HPA CREATE under a shared PDB names the other workload too": {
			req:  hpaRequest(t, admissionv1.Create, "web", fixture.WebHPA(fixture.Replicas(1)), nil),
			mode: policy.ModeEnforce,
			cluster: func() validate.Cluster {
				c := sharedCluster()
				c.PDBs = []*policyv1.PodDisruptionBudget{shopPDB("3")}
				return c
			}(),
			wantCode: http.StatusForbidden, wantContains: "Deployment shop/api: pdb-blocks-drain: PDB shop (minAvailable 3) allows 0 evictions at 3 shared pods",
			// Workloads in the order of their kind and name: api (pdb-blocks-drain) before web.
			wantAudit:   map[string]string{"mode": "enforce", "violations": "pdb-blocks-drain,min-replicas"},
			wantCounts:  map[string]int{"min-replicas/enforce": 1, "pdb-blocks-drain/enforce": 2},
			wantLookups: 1,
		},
		"HPA DELETE: allowed without a lookup": {
			req:  hpaRequest(t, admissionv1.Delete, "web", nil, fixture.WebHPA(fixture.Replicas(3))),
			mode: policy.ModeEnforce, cluster: writeCluster(), wantAllowed: true, wantCode: 200,
		},
		"HPA CREATE with bad JSON: 400": {
			req:      hpaRequest(t, admissionv1.Create, "web", `{"spec":{"minReplicas":"one"}}`, nil),
			mode:     policy.ModeEnforce,
			wantCode: http.StatusBadRequest,
		},
		"HPA of autoscaling/v1 content: 400": {
			req:      hpaRequest(t, admissionv1.Create, "web", `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","spec":{"maxReplicas":3}}`, nil),
			mode:     policy.ModeEnforce,
			wantCode: http.StatusBadRequest, wantContains: "into autoscaling/v2, Kind=HorizontalPodAutoscaler",
		},
		"a Deployment sent to the write handler: 400": {
			req:      deploymentRequest(t, admissionv1.Create, fixture.Deployment("web", fixture.Replicas(3)), nil),
			wantCode: http.StatusBadRequest, wantContains: "expected a policy PodDisruptionBudget or an autoscaling HorizontalPodAutoscaler",
		},
		"a PDB of another group: 400": {
			req:      request(t, admissionv1.Create, "policy.example", "PodDisruptionBudget", "poddisruptionbudgets", "", "web", webPDB, nil),
			wantCode: http.StatusBadRequest,
		},
		"mode lookup error on a CREATE: 503": {
			req: pdbRequest(t, admissionv1.Create, "web", webPDB, nil), modeErr: errors.New("namespace cache not synced"),
			wantCode: http.StatusServiceUnavailable, wantContains: "namespace cache not synced",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &violationCounter{}
			lookups := 0
			h := &WriteHandler{
				Options: validate.DefaultOptions(),
				Mode:    func(context.Context, string) (policy.Mode, error) { return tc.mode, tc.modeErr },
				Lookup: func(ctx context.Context, ns string) (validate.Cluster, error) {
					lookups++
					if ns != "shop" {
						t.Errorf("looked up namespace %q, want shop", ns)
					}
					if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > LookupTimeout {
						t.Errorf("lookup without a deadline of at most %v", LookupTimeout)
					}
					return tc.cluster, tc.lookupErr
				},
				Metrics: rec,
			}
			resp := complete(t, tc.req, h.Handle(context.Background(), tc.req))
			if resp.Allowed != tc.wantAllowed || resp.Result == nil || resp.Result.Code != tc.wantCode {
				t.Fatalf("allowed=%v result=%+v, want allowed=%v code=%d", resp.Allowed, resp.Result, tc.wantAllowed, tc.wantCode)
			}
			if tc.wantMessage != nil {
				if diff := cmp.Diff(tc.wantMessage, strings.Split(resp.Result.Message, "\n")); diff != "" {
					t.Errorf("message mismatch (-want +got):\n%s", diff)
				}
			}
			if !strings.Contains(resp.Result.Message, tc.wantContains) {
				t.Errorf("message %q, want it to contain %q", resp.Result.Message, tc.wantContains)
			}
			if len(resp.Warnings) != len(tc.wantWarnings) {
				t.Errorf("warnings %q, want %d", resp.Warnings, len(tc.wantWarnings))
			}
			for i := range min(len(resp.Warnings), len(tc.wantWarnings)) {
				if !strings.HasPrefix(resp.Warnings[i], tc.wantWarnings[i]) {
					t.Errorf("warning %d = %q, want prefix %q", i, resp.Warnings[i], tc.wantWarnings[i])
				}
			}
			for _, w := range resp.Warnings {
				if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
					t.Errorf("warning of %d characters: %q", n, w)
				}
			}
			if diff := cmp.Diff(tc.wantAudit, resp.AuditAnnotations); diff != "" {
				t.Errorf("audit annotations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCounts, rec.violations); diff != "" {
				t.Errorf("recorded violations mismatch (-want +got):\n%s", diff)
			}
			if rec.exempted != 0 {
				t.Errorf("recorded %d exemptions on a write", rec.exempted)
			}
			if lookups != tc.wantLookups {
				t.Errorf("%d lookups, want %d", lookups, tc.wantLookups)
			}
		})
	}
}

// TestWriteHandlerExempt: a write that would hurt an exempt workload is allowed.
func TestWriteHandlerExempt(t *testing.T) {
	c := writeCluster()
	c.Workloads[0].Annotations = map[string]string{names.AnnotationExempt: "INC-3 singleton"}
	h := &WriteHandler{Options: validate.DefaultOptions(), Mode: fixedMode(policy.ModeEnforce), Lookup: fixedCluster(c), Metrics: &violationCounter{}}
	req := pdbRequest(t, admissionv1.Update, "web", alwaysAllow(fixture.MaxUnavailable("web", "0")), c.PDBs[0])
	resp := complete(t, req, h.Handle(context.Background(), req))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Errorf("allowed=%v warnings=%q, want allowed without warnings (%v)", resp.Allowed, resp.Warnings, resp.Result)
	}
}

// TestWriteHandlerConfirmsDenialsLive: a denial is confirmed with a live read, in enforce mode only; a passing
// answer, an audit-mode answer and a warned-only write never wait for one.
func TestWriteHandlerConfirmsDenialsLive(t *testing.T) {
	// The cache still has web at 2 replicas, where a new PDB minAvailable 2 allows 0 evictions; it was just scaled
	// to 3, where it allows 1.
	at := func(n int32) validate.Cluster {
		return validate.Cluster{Workloads: []validate.Workload{validate.DeploymentWorkload(fixture.Deployment("web", fixture.Replicas(n)))}}
	}
	createMin2 := pdbRequest(t, admissionv1.Create, "web", alwaysAllow(fixture.MinAvailable("web", "2")), nil)
	tests := map[string]struct {
		req         cradmission.Request
		mode        policy.Mode
		cached      validate.Cluster
		live        validate.Cluster
		liveErr     error
		wantAllowed bool
		wantLive    int
		wantCounts  map[string]int
	}{
		"cache lags, the live read turns the denial into a pass": {
			req: createMin2, mode: policy.ModeEnforce, cached: at(2), live: at(3), wantAllowed: true, wantLive: 1,
		},
		"both deny": {
			req: createMin2, mode: policy.ModeEnforce, cached: at(2), live: at(2), wantLive: 1,
			wantCounts: map[string]int{"pdb-blocks-drain/enforce": 1},
		},
		"live read fails: the cached denial stands": {
			req: createMin2, mode: policy.ModeEnforce, cached: at(2), liveErr: errors.New("boom"), wantLive: 1,
			wantCounts: map[string]int{"pdb-blocks-drain/enforce": 1},
		},
		"passing answers never read live": {
			req: createMin2, mode: policy.ModeEnforce, cached: at(3), live: at(2), wantAllowed: true,
		},
		"audit mode never reads live": {
			req: createMin2, mode: policy.ModeAudit, cached: at(2), live: at(3), wantAllowed: true,
			wantCounts: map[string]int{"pdb-blocks-drain/audit": 1},
		},
		"a DELETE never reads live": {
			req: pdbRequest(t, admissionv1.Delete, "web", nil, fixture.MaxUnavailable("web", "1")), mode: policy.ModeEnforce,
			cached: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, Workloads: at(3).Workloads},
			live:   at(3), wantAllowed: true,
			wantCounts: map[string]int{"pdb-missing/enforce": 1},
		},
		"a CREATE adding only pdb-multiple never reads live": {
			req: pdbRequest(t, admissionv1.Create, "web-v2", alwaysAllow(fixture.MaxUnavailable("web-v2", "1")), nil), mode: policy.ModeEnforce,
			cached: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{alwaysAllow(fixture.MaxUnavailable("web", "1"))}, Workloads: at(3).Workloads},
			live:   at(3), wantAllowed: true,
			wantCounts: map[string]int{"pdb-multiple/enforce": 1},
		},
		"an HPA denial is confirmed too": {
			req: hpaRequest(t, admissionv1.Create, "web", fixture.WebHPA(fixture.Replicas(1)), nil), mode: policy.ModeEnforce,
			cached: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}, Workloads: at(3).Workloads},
			// The live namespace has no such Deployment any more: nothing to protect.
			live: validate.Cluster{}, wantAllowed: true, wantLive: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &violationCounter{}
			h := &WriteHandler{Options: validate.DefaultOptions(), Mode: fixedMode(tc.mode), Lookup: fixedCluster(tc.cached), Metrics: rec}
			liveReads := 0
			h.Confirm = func(ctx context.Context, ns string) (validate.Cluster, error) {
				liveReads++
				if _, ok := ctx.Deadline(); !ok || ns != "shop" {
					t.Errorf("live read of %q without a deadline", ns)
				}
				return tc.live, tc.liveErr
			}
			resp := complete(t, tc.req, h.Handle(context.Background(), tc.req))
			if resp.Allowed != tc.wantAllowed {
				t.Errorf("allowed = %v, want %v (%v)", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			if liveReads != tc.wantLive {
				t.Errorf("%d live reads, want %d", liveReads, tc.wantLive)
			}
			// Metrics count the answer given, after the live read.
			if diff := cmp.Diff(tc.wantCounts, rec.violations); diff != "" {
				t.Errorf("recorded violations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteHandlerWarningsBounded: long names never make a warning longer than kubectl prints whole.
func TestWriteHandlerWarningsBounded(t *testing.T) {
	long := strings.Repeat("x", 63)
	d := fixture.Deployment(long, fixture.Replicas(3))
	old := fixture.PDB(long, fixture.SelectApp(long), nil, fixture.IntOrStr("1"))
	c := validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{old}, Workloads: []validate.Workload{validate.DeploymentWorkload(d)}}
	for name, req := range map[string]cradmission.Request{
		"update":                pdbRequest(t, admissionv1.Update, long, fixture.PDB(long, fixture.SelectApp(long), nil, fixture.IntOrStr("0")), old),
		"delete":                pdbRequest(t, admissionv1.Delete, long, nil, old),
		"create a second":       pdbRequest(t, admissionv1.Create, long+"2", fixture.PDB(long+"2", fixture.SelectApp(long), nil, fixture.IntOrStr("1")), nil),
		"HPA":                   hpaRequest(t, admissionv1.Create, long, fixture.HPA(long, "apps/v1", "Deployment", long, nil), nil),
		"undecodable delete":    pdbRequest(t, admissionv1.Delete, long, nil, `{"metadata":{"name":"`+strings.Repeat("é", 500)+`"},"spec":{"minAvailable":{}}}`),
		"delete, lookup failed": pdbRequest(t, admissionv1.Delete, long, nil, old),
	} {
		t.Run(name, func(t *testing.T) {
			lookup := fixedCluster(c)
			if name == "delete, lookup failed" {
				lookup = func(context.Context, string) (validate.Cluster, error) {
					return validate.Cluster{}, errors.New(strings.Repeat("cache not synced ", 30))
				}
			}
			h := &WriteHandler{Options: validate.DefaultOptions(), Mode: fixedMode(policy.ModeAudit), Lookup: lookup, Metrics: &violationCounter{}}
			resp := complete(t, req, h.Handle(context.Background(), req))
			if !resp.Allowed {
				t.Fatalf("denied in audit mode: %v", resp.Result)
			}
			if len(resp.Warnings) == 0 {
				t.Errorf("no warning")
			}
			for _, w := range resp.Warnings {
				if n := utf8.RuneCountInString(w); n > text.MaxWarningLength || !utf8.ValidString(w) {
					t.Errorf("warning of %d characters: %q", n, w)
				}
			}
		})
	}
}
