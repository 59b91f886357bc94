package admission

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

func statefulSetRequest(t testing.TB, op admissionv1.Operation, s, old any) cradmission.Request {
	return request(t, op, "apps", "StatefulSet", "statefulsets", "", "db", s, old)
}

// statefulSetScale is the Scale of the StatefulSet db at n replicas.
func statefulSetScale(n int32) *autoscalingv1.Scale {
	s := scale(n)
	s.Name = "db"
	return s
}

func statefulSetScaleRequest(t testing.TB, op admissionv1.Operation, to, from *autoscalingv1.Scale) cradmission.Request {
	var newObj, oldObj any
	if to != nil {
		newObj = to
	}
	if from != nil {
		oldObj = from
	}
	return request(t, op, "autoscaling", "Scale", "statefulsets", "scale", "db", newObj, oldObj)
}

func dbPDB() *policyv1.PodDisruptionBudget {
	return fixture.PDB("db", fixture.SelectApp("db"), nil, fixture.IntOrStr("1"))
}

func TestStatefulSetHandler(t *testing.T) {
	db := func(n int32) *appsv1.StatefulSet { return fixture.StatefulSet("db", fixture.Replicas(n)) }
	withPDB := pdbs(dbPDB())
	newImage := func(s *appsv1.StatefulSet) *appsv1.StatefulSet {
		s.Spec.Template.Spec.Containers[0].Image = "registry.example/db:2"
		return s
	}
	tests := map[string]struct {
		req          cradmission.Request
		mode         policy.Mode
		cluster      validate.Cluster
		wantAllowed  bool
		wantCode     int32
		wantMessage  []string
		wantContains string
		wantWarnings []string
		wantAudit    map[string]string
		wantCounts   map[string]int
		wantExempted int
	}{
		"compliant create": {
			req: statefulSetRequest(t, admissionv1.Create, db(3), nil), mode: policy.ModeEnforce, cluster: withPDB,
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"},
		},
		"one replica without PDB is denied": {
			req: statefulSetRequest(t, admissionv1.Create, db(1), nil), mode: policy.ModeEnforce,
			wantCode: http.StatusForbidden,
			wantMessage: []string{
				"StatefulSet shop/db would lose traffic during node drains and rollouts:",
				"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2: a node drain or eviction cuts all traffic; fix: set spec.replicas to 2 or more (kubectl scale statefulset db -n shop --replicas=2)",
				"spec.template.metadata.labels: Required value: pdb-missing: no PodDisruptionBudget selects these pods: a drain may evict them all at once; fix: kubectl create pdb db -n shop --selector=app=db --max-unavailable=1 (create PDBs before StatefulSets: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
			},
			// The StatefulSet default maxUnavailable 1 takes its 1 replica down in a rollout.
			wantWarnings: []string{"ha-webhook: rollout-all-unavailable: maxUnavailable 1 takes all 1 replica(s) down during a rollout"},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "min-replicas,pdb-missing"},
			wantCounts:   map[string]int{"min-replicas/enforce": 1, "pdb-missing/enforce": 1},
		},
		"audit mode warns": {
			req: statefulSetRequest(t, admissionv1.Create, db(1), nil), mode: policy.ModeAudit,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: min-replicas: ", "ha-webhook audit: pdb-missing: ", "ha-webhook: rollout-all-unavailable: "},
			wantAudit:    map[string]string{"mode": "audit", "violations": "min-replicas,pdb-missing"},
			wantCounts:   map[string]int{"min-replicas/audit": 1, "pdb-missing/audit": 1},
		},
		"OnDelete: no rollout warning": {
			req: statefulSetRequest(t, admissionv1.Create, fixture.OnDelete(db(1)), nil), mode: policy.ModeAudit, cluster: withPDB,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: min-replicas: "},
			wantAudit:    map[string]string{"mode": "audit", "violations": "min-replicas"},
			wantCounts:   map[string]int{"min-replicas/audit": 1},
		},
		"HPA of the StatefulSet at 1 replica is denied": {
			req: statefulSetRequest(t, admissionv1.Create, db(3), nil), mode: policy.ModeEnforce,
			cluster:  validate.Cluster{PDBs: withPDB.PDBs, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", nil)}},
			wantCode: http.StatusForbidden, wantContains: "min-replicas: HPA db may scale to 1 replica(s), below 2",
			wantWarnings: []string{"ha-webhook: rollout-all-unavailable: "},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "min-replicas"},
			wantCounts:   map[string]int{"min-replicas/enforce": 1},
		},
		"HPA of a Deployment named db does not count": {
			req: statefulSetRequest(t, admissionv1.Create, db(3), nil), mode: policy.ModeEnforce,
			cluster:     validate.Cluster{PDBs: withPDB.PDBs, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("db", "apps/v1", "Deployment", "db", nil)}},
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"},
		},
		"a PDB shared with a Deployment is judged over both": {
			req: statefulSetRequest(t, admissionv1.Create, fixture.StatefulSetTemplateLabels(db(2), "app", "db", "part-of", "shop"), nil), mode: policy.ModeEnforce,
			cluster: validate.Cluster{
				// minAvailable 3 over db(2) alone blocks; with web's 2 pods it allows 1 of 4.
				PDBs:      []*policyv1.PodDisruptionBudget{fixture.PDB("shop", fixture.SelectLabels("part-of", "shop"), fixture.IntOrStr("3"), nil)},
				Workloads: []validate.Workload{validate.DeploymentWorkload(fixture.TemplateLabels(fixture.Deployment("web", fixture.Replicas(2)), "app", "web", "part-of", "shop"))},
			},
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"},
		},
		"exempt": {
			req: statefulSetRequest(t, admissionv1.Create, fixture.WithStatefulSet(db(1), func(s *appsv1.StatefulSet) {
				s.Annotations = map[string]string{names.AnnotationExempt: "single writer"}
			}), nil),
			mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{`ha-webhook: exempt from validation: ha-webhook.io/exempt="single writer"`, "ha-webhook: min-replicas: ", "ha-webhook: pdb-missing: ", "ha-webhook: rollout-all-unavailable: "},
			wantAudit:    map[string]string{"mode": "enforce", "exempt": "single writer"},
			wantExempted: 1,
		},
		"update ratchets a pre-existing violation": {
			req:  statefulSetRequest(t, admissionv1.Update, newImage(db(1)), db(1)),
			mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook pre-existing: min-replicas: ", "ha-webhook pre-existing: pdb-missing: ", "ha-webhook: rollout-all-unavailable: "},
			wantAudit:    map[string]string{"mode": "enforce"},
		},
		"update lowering replicas is denied": {
			req:  statefulSetRequest(t, admissionv1.Update, db(1), db(3)),
			mode: policy.ModeEnforce, cluster: withPDB,
			wantCode: http.StatusForbidden, wantContains: "kubectl scale statefulset db -n shop --replicas=2",
			wantWarnings: []string{"ha-webhook: rollout-all-unavailable: "},
			wantAudit:    map[string]string{"mode": "enforce", "violations": "min-replicas"},
			wantCounts:   map[string]int{"min-replicas/enforce": 1},
		},
		"update relabelling away from the PDB is denied": {
			req: statefulSetRequest(t, admissionv1.Update, fixture.StatefulSetTemplateLabels(db(3), "app", "db", "version", "v2"),
				fixture.StatefulSetTemplateLabels(db(3), "app", "db", "version", "v1")),
			mode:     policy.ModeEnforce,
			cluster:  pdbs(fixture.PDB("db", fixture.SelectLabels("app", "db", "version", "v1"), nil, fixture.IntOrStr("1"))),
			wantCode: http.StatusForbidden, wantContains: "pdb-missing",
			wantAudit:  map[string]string{"mode": "enforce", "violations": "pdb-missing"},
			wantCounts: map[string]int{"pdb-missing/enforce": 1},
		},
		"update with a Deployment as the old object: 400": {
			req:      statefulSetRequest(t, admissionv1.Update, db(3), fixture.Deployment("db", fixture.Replicas(3))),
			wantCode: http.StatusBadRequest, wantContains: "unable to decode apps/v1, Kind=Deployment into apps/v1, Kind=StatefulSet",
		},
		"a StatefulSet sent as a Deployment: 400": {
			req:      request(t, admissionv1.Create, "apps", "Deployment", "deployments", "", "db", db(3), nil),
			wantCode: http.StatusBadRequest, wantContains: "unable to decode apps/v1, Kind=StatefulSet into apps/v1, Kind=Deployment",
		},
		"status subresource: 400": {
			req:      request(t, admissionv1.Update, "apps", "StatefulSet", "statefulsets", "status", "db", db(3), db(3)),
			wantCode: http.StatusBadRequest,
		},
		"delete passes": {
			req: statefulSetRequest(t, admissionv1.Delete, nil, db(1)), mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &violationCounter{}
			h := NewWorkloadHandler(validate.DefaultOptions(), fixedMode(tc.mode), fixedCluster(tc.cluster), rec)
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
			if rec.exempted != tc.wantExempted {
				t.Errorf("recorded %d exemptions, want %d", rec.exempted, tc.wantExempted)
			}
		})
	}
}

func TestStatefulSetScaleHandler(t *testing.T) {
	withPDB := pdbs(dbPDB())
	db3 := validate.StatefulSetWorkload(fixture.StatefulSet("db", fixture.Replicas(3)))
	web3 := validate.DeploymentWorkload(fixture.Deployment("web", fixture.Replicas(3)))
	tests := map[string]struct {
		req          cradmission.Request
		mode         policy.Mode
		cluster      validate.Cluster
		current      map[string]validate.Workload // by "Kind ns/name"
		getErr       error
		wantAllowed  bool
		wantCode     int32
		wantContains []string
		wantWarnings int
		wantGets     []string
	}{
		"statefulsets/scale to 1 is denied": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(1), statefulSetScale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantCode: http.StatusForbidden,
			wantContains: []string{"StatefulSet shop/db would lose traffic", "spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2",
				"kubectl scale statefulset db -n shop --replicas=2"},
			wantWarnings: 1, // rollout-all-unavailable at 1 replica
			wantGets:     []string{"StatefulSet shop/db"},
		},
		"statefulsets/scale to 1 in audit mode warns": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(1), statefulSetScale(3)), mode: policy.ModeAudit, cluster: withPDB,
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantAllowed: true, wantCode: 200, wantWarnings: 2,
			wantGets: []string{"StatefulSet shop/db"},
		},
		"statefulsets/scale up passes": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(5), statefulSetScale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantAllowed: true, wantCode: 200,
			wantGets: []string{"StatefulSet shop/db"},
		},
		"statefulsets/scale to 0 passes": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(0), statefulSetScale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantAllowed: true, wantCode: 200,
			wantGets: []string{"StatefulSet shop/db"},
		},
		"statefulsets/scale with the StatefulSet's HPA uses its minimum": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(1), statefulSetScale(3)), mode: policy.ModeEnforce,
			cluster: validate.Cluster{PDBs: withPDB.PDBs, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.StatefulSetHPA("db", "db", fixture.Replicas(3))}},
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantAllowed: true, wantCode: 200,
			wantGets: []string{"StatefulSet shop/db"},
		},
		"statefulsets/scale with a Deployment's HPA of the same name is denied": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(1), statefulSetScale(3)), mode: policy.ModeEnforce,
			cluster: validate.Cluster{PDBs: withPDB.PDBs, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA("db", "apps/v1", "Deployment", "db", fixture.Replicas(3))}},
			current: map[string]validate.Workload{"StatefulSet shop/db": db3}, wantCode: http.StatusForbidden, wantWarnings: 1,
			wantContains: []string{"min-replicas"}, wantGets: []string{"StatefulSet shop/db"},
		},
		// Each scale path has its own handler: deployments/scale is never sent to the StatefulSet one.
		"deployments/scale on the statefulsets/scale path: 400": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce, cluster: pdbs(fixture.MaxUnavailable("web", "1")),
			current: map[string]validate.Workload{"Deployment shop/web": web3}, wantCode: http.StatusBadRequest,
			wantContains: []string{"expected a deployments/scale request or a statefulsets/scale request"},
		},
		"replicasets/scale is not checked here: 400": {
			req:          request(t, admissionv1.Update, "autoscaling", "Scale", "replicasets", "scale", "db", statefulSetScale(1), statefulSetScale(3)),
			wantCode:     http.StatusBadRequest,
			wantContains: []string{"expected a deployments/scale request or a statefulsets/scale request, got autoscaling/v1, Kind=Scale replicasets scale"},
		},
		"reading the StatefulSet fails": {
			req: statefulSetScaleRequest(t, admissionv1.Update, statefulSetScale(1), statefulSetScale(3)), mode: policy.ModeEnforce,
			getErr: errors.New("connection refused"), wantCode: http.StatusServiceUnavailable,
			wantContains: []string{"reading statefulset shop/db: connection refused"},
			wantGets:     []string{"StatefulSet shop/db"},
		},
		"not an update": {
			req: statefulSetScaleRequest(t, admissionv1.Create, statefulSetScale(1), nil), mode: policy.ModeEnforce,
			wantAllowed: true, wantCode: 200,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var gets []string
			h := &ScaleHandler{Kind: validate.KindStatefulSet,
				Workloads: NewWorkloadHandler(validate.DefaultOptions(), fixedMode(tc.mode), fixedCluster(tc.cluster), &violationCounter{}),
				Get: func(_ context.Context, kind, ns, name string) (validate.Workload, error) {
					key := kind + " " + ns + "/" + name
					gets = append(gets, key)
					if tc.getErr != nil {
						return validate.Workload{}, tc.getErr
					}
					w, ok := tc.current[key]
					if !ok {
						return validate.Workload{}, errors.New("not found")
					}
					return w, nil
				},
			}
			resp := complete(t, tc.req, h.Handle(context.Background(), tc.req))
			if resp.Allowed != tc.wantAllowed || resp.Result == nil || resp.Result.Code != tc.wantCode {
				t.Fatalf("allowed=%v result=%+v, want allowed=%v code=%d", resp.Allowed, resp.Result, tc.wantAllowed, tc.wantCode)
			}
			for _, want := range tc.wantContains {
				if !strings.Contains(resp.Result.Message, want) {
					t.Errorf("message %q, want it to contain %q", resp.Result.Message, want)
				}
			}
			if len(resp.Warnings) != tc.wantWarnings {
				t.Errorf("warnings %q, want %d", resp.Warnings, tc.wantWarnings)
			}
			if diff := cmp.Diff(tc.wantGets, gets); diff != "" {
				t.Errorf("workload reads mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
