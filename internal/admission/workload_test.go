package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
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

// violationCounter counts violations by "rule/mode" and exemptions.
type violationCounter struct {
	mu         sync.Mutex
	violations map[string]int
	exempted   int
}

func (r *violationCounter) Violation(rule string, mode policy.Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.violations == nil {
		r.violations = map[string]int{}
	}
	r.violations[rule+"/"+string(mode)]++
}

func (r *violationCounter) Exempted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exempted++
}

func fixedCluster(c validate.Cluster) ClusterLookup {
	return func(context.Context, string) (validate.Cluster, error) { return c, nil }
}

// request builds the admission request the API server would send, from its JSON form.
func request(t testing.TB, op admissionv1.Operation, group, kind, resource, subResource, name string, object, oldObject any) cradmission.Request {
	t.Helper()
	encode := func(o any) string {
		switch o := o.(type) {
		case nil:
			return "null"
		case string:
			return o
		default:
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	review := fmt.Sprintf(`{
		"uid": "5d9a5f3e-8c4b-4bde-a3b1-0c2f3e4d5a6b",
		"kind": {"group": %q, "version": "v1", "kind": %q},
		"resource": {"group": "apps", "version": "v1", "resource": %q},
		"subResource": %q,
		"name": %q,
		"namespace": "shop",
		"operation": %q,
		"userInfo": {"username": "alice@example.com"},
		"object": %s,
		"oldObject": %s
	}`, group, kind, resource, subResource, name, op, encode(object), encode(oldObject))
	var req cradmission.Request
	if err := json.Unmarshal([]byte(review), &req.AdmissionRequest); err != nil {
		t.Fatalf("building the request: %v\n%s", err, review)
	}
	return req
}

func deploymentRequest(t testing.TB, op admissionv1.Operation, d, old any) cradmission.Request {
	return request(t, op, "apps", "Deployment", "deployments", "", "web", d, old)
}

func scale(n int32) *autoscalingv1.Scale {
	s := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: n}}
	s.APIVersion, s.Kind, s.Name, s.Namespace = "autoscaling/v1", "Scale", "web", "shop"
	return s
}

func scaleRequest(t testing.TB, op admissionv1.Operation, to, from *autoscalingv1.Scale) cradmission.Request {
	var newObj, oldObj any
	if to != nil {
		newObj = to
	}
	if from != nil {
		oldObj = from
	}
	return request(t, op, "autoscaling", "Scale", "deployments", "scale", "web", newObj, oldObj)
}

func complete(t testing.TB, req cradmission.Request, resp cradmission.Response) cradmission.Response {
	t.Helper()
	if err := resp.Complete(req); err != nil {
		t.Fatalf("completing the response: %v", err)
	}
	return resp
}

func TestDeploymentHandler(t *testing.T) {
	compliant := fixture.Deployment("web", fixture.Replicas(3))
	lonely := fixture.Deployment("web", fixture.Replicas(1))
	exempt := fixture.With(fixture.Deployment("web", fixture.Replicas(1)), func(d *appsv1.Deployment) {
		d.Annotations = map[string]string{names.AnnotationExempt: "INC-7 singleton"}
	})
	withPDB := validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}}
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
		wantExempted int
	}{
		"compliant create": {
			req: deploymentRequest(t, admissionv1.Create, compliant, nil), mode: policy.ModeEnforce, cluster: withPDB,
			wantAllowed: true, wantCode: 200, wantAudit: map[string]string{"mode": "enforce"},
		},
		"enforce denies": {
			req: deploymentRequest(t, admissionv1.Create, lonely, nil), mode: policy.ModeEnforce,
			wantCode: http.StatusForbidden,
			wantMessage: []string{
				"Deployment shop/web would lose traffic during node drains and rollouts:",
				"spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2: a node drain or eviction cuts all traffic; fix: set spec.replicas to 2 or more (kubectl scale deployment web -n shop --replicas=2)",
				"spec.template.metadata.labels: Required value: pdb-missing: no PodDisruptionBudget selects these pods: a drain may evict them all at once; fix: kubectl create pdb web -n shop --selector=app=web --max-unavailable=1 (create PDBs before Deployments: Helm and Argo CD do, kubectl apply -f dir/ goes alphabetically)",
			},
			wantAudit:  map[string]string{"mode": "enforce", "violations": "min-replicas,pdb-missing"},
			wantCounts: map[string]int{"min-replicas/enforce": 1, "pdb-missing/enforce": 1},
		},
		"audit allows with one warning per violation": {
			req: deploymentRequest(t, admissionv1.Create, lonely, nil), mode: policy.ModeAudit,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook audit: min-replicas: ", "ha-webhook audit: pdb-missing: "},
			wantAudit:    map[string]string{"mode": "audit", "violations": "min-replicas,pdb-missing"},
			wantCounts:   map[string]int{"min-replicas/audit": 1, "pdb-missing/audit": 1},
		},
		"exempt": {
			req: deploymentRequest(t, admissionv1.Create, exempt, nil), mode: policy.ModeEnforce,
			wantAllowed: true, wantCode: 200,
			wantWarnings: []string{`ha-webhook: exempt from validation: ha-webhook.io/exempt="INC-7 singleton"`, "ha-webhook: min-replicas: ", "ha-webhook: pdb-missing: "},
			wantAudit:    map[string]string{"mode": "enforce", "exempt": "INC-7 singleton"},
			wantExempted: 1,
		},
		"update ratchets a pre-existing violation": {
			req: deploymentRequest(t, admissionv1.Update,
				fixture.With(fixture.Deployment("web", fixture.Replicas(1)), func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2" }),
				fixture.Deployment("web", fixture.Replicas(1))),
			mode: policy.ModeEnforce, wantAllowed: true, wantCode: 200,
			wantWarnings: []string{"ha-webhook pre-existing: min-replicas: ", "ha-webhook pre-existing: pdb-missing: "},
			wantAudit:    map[string]string{"mode": "enforce"},
		},
		"update lowering replicas is denied": {
			req:  deploymentRequest(t, admissionv1.Update, fixture.Deployment("web", fixture.Replicas(1)), compliant),
			mode: policy.ModeEnforce, cluster: withPDB,
			wantCode: http.StatusForbidden, wantContains: "min-replicas",
			wantAudit:  map[string]string{"mode": "enforce", "violations": "min-replicas"},
			wantCounts: map[string]int{"min-replicas/enforce": 1},
		},
		"update lowering replicas with a blocking PDB: both rules deny": {
			req:  deploymentRequest(t, admissionv1.Update, fixture.Deployment("web", fixture.Replicas(1)), compliant),
			mode: policy.ModeEnforce, cluster: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "0")}},
			wantCode: http.StatusForbidden, wantContains: "allows 0 evictions at 2 replicas",
			wantAudit:  map[string]string{"mode": "enforce", "violations": "min-replicas,pdb-blocks-drain"},
			wantCounts: map[string]int{"min-replicas/enforce": 1, "pdb-blocks-drain/enforce": 1},
		},
		"delete passes": {
			req: deploymentRequest(t, admissionv1.Delete, nil, compliant), mode: policy.ModeEnforce,
			wantAllowed: true, wantCode: 200,
		},
		"lookup error fails the request": {
			req: deploymentRequest(t, admissionv1.Create, lonely, nil), mode: policy.ModeEnforce,
			lookupErr: errors.New("PodDisruptionBudget cache not synced"),
			wantCode:  http.StatusServiceUnavailable, wantContains: "PodDisruptionBudget cache not synced",
		},
		"mode lookup error fails the request": {
			req: deploymentRequest(t, admissionv1.Create, lonely, nil), modeErr: errors.New("namespace cache not synced"),
			wantCode: http.StatusServiceUnavailable, wantContains: "namespace cache not synced",
		},
		// StatefulSets are workloads too now (see TestStatefulSetHandler); a DaemonSet is not one.
		"wrong kind": {
			req:      request(t, admissionv1.Create, "apps", "DaemonSet", "daemonsets", "", "web", lonely, nil),
			wantCode: http.StatusBadRequest, wantContains: "expected an apps Deployment",
		},
		"a Deployment sent as a StatefulSet": {
			req:      request(t, admissionv1.Create, "apps", "StatefulSet", "statefulsets", "", "web", lonely, nil),
			wantCode: http.StatusBadRequest, wantContains: "unable to decode apps/v1, Kind=Deployment into apps/v1, Kind=StatefulSet",
		},
		"wrong group": {
			req:      request(t, admissionv1.Create, "extensions", "Deployment", "deployments", "", "web", lonely, nil),
			wantCode: http.StatusBadRequest, wantContains: "expected an apps Deployment",
		},
		"status subresource": {
			req:      request(t, admissionv1.Update, "apps", "Deployment", "deployments", "status", "web", lonely, lonely),
			wantCode: http.StatusBadRequest,
		},
		"object not a Deployment": {
			req:      deploymentRequest(t, admissionv1.Create, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`, nil),
			wantCode: http.StatusBadRequest,
		},
		"update without old object": {
			req:      deploymentRequest(t, admissionv1.Update, lonely, nil),
			wantCode: http.StatusBadRequest,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &violationCounter{}
			var lookedUp []string
			h := NewWorkloadHandler(validate.DefaultOptions(),
				func(context.Context, string) (policy.Mode, error) { return tc.mode, tc.modeErr },
				func(ctx context.Context, ns string) (validate.Cluster, error) {
					lookedUp = append(lookedUp, ns)
					if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > LookupTimeout {
						t.Errorf("lookup without a deadline of at most %v", LookupTimeout)
					}
					return tc.cluster, tc.lookupErr
				}, rec)
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
			if len(lookedUp) > 0 && lookedUp[0] != "shop" {
				t.Errorf("looked up namespace %q, want shop", lookedUp[0])
			}
		})
	}
}

// TestDeploymentHandlerNamespace: the object's namespace is used, else the request's (objects created with
// `kubectl apply -n` arrive without one).
func TestDeploymentHandlerNamespace(t *testing.T) {
	d := fixture.Deployment("web", fixture.Replicas(1))
	d.Namespace = ""
	var got []string
	h := NewWorkloadHandler(validate.DefaultOptions(), func(_ context.Context, ns string) (policy.Mode, error) {
		got = append(got, "mode:"+ns)
		return policy.ModeEnforce, nil
	}, func(_ context.Context, ns string) (validate.Cluster, error) {
		got = append(got, "cluster:"+ns)
		return validate.Cluster{}, nil
	}, &violationCounter{})
	req := deploymentRequest(t, admissionv1.Create, d, nil)
	resp := h.Handle(context.Background(), req)
	if diff := cmp.Diff([]string{"mode:shop", "cluster:shop"}, got); diff != "" {
		t.Errorf("lookups mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(resp.Result.Message, "Deployment shop/web") || !strings.Contains(resp.Result.Message, "-n shop") {
		t.Errorf("message does not name namespace shop:\n%s", resp.Result.Message)
	}
}

func TestScaleHandler(t *testing.T) {
	withPDB := validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web", "1")}}
	withHPA := validate.Cluster{PDBs: withPDB.PDBs, HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(fixture.Replicas(3))}}
	tests := map[string]struct {
		req          cradmission.Request
		mode         policy.Mode
		cluster      validate.Cluster
		current      *appsv1.Deployment
		getErr       error
		wantAllowed  bool
		wantCode     int32
		wantContains []string
		wantWarnings int
	}{
		"scale to 1 on a compliant Deployment is denied": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: fixture.Deployment("web", fixture.Replicas(3)), wantCode: http.StatusForbidden,
			wantContains: []string{"Deployment shop/web", "spec.replicas: Invalid value: 1: min-replicas: 1 replica(s), below 2"},
		},
		"scale to 1 with a blocking PDB: the budget is judged at min-replicas": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce,
			cluster: validate.Cluster{PDBs: []*policyv1.PodDisruptionBudget{fixture.MinAvailable("web", "2")}},
			current: fixture.Deployment("web", fixture.Replicas(3)), wantCode: http.StatusForbidden,
			wantContains: []string{"min-replicas", "pdb-blocks-drain: PDB web (minAvailable 2) allows 0 evictions at 2 replicas"},
		},
		"scale to 1 in audit mode warns": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeAudit, cluster: withPDB,
			current: fixture.Deployment("web", fixture.Replicas(3)), wantAllowed: true, wantCode: 200, wantWarnings: 1,
		},
		"scale up passes": {
			req: scaleRequest(t, admissionv1.Update, scale(5), scale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: fixture.Deployment("web", fixture.Replicas(3)), wantAllowed: true, wantCode: 200,
		},
		"scale to 0 passes": {
			req: scaleRequest(t, admissionv1.Update, scale(0), scale(3)), mode: policy.ModeEnforce, cluster: withPDB,
			current: fixture.Deployment("web", fixture.Replicas(3)), wantAllowed: true, wantCode: 200,
		},
		"scale with an HPA uses the HPA minimum": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce, cluster: withHPA,
			current: fixture.Deployment("web", fixture.Replicas(3)), wantAllowed: true, wantCode: 200,
		},
		"scale of a Deployment already at 1 replica: pre-existing": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(1)), mode: policy.ModeEnforce,
			current: fixture.Deployment("web", fixture.Replicas(1)), wantAllowed: true, wantCode: 200, wantWarnings: 2,
		},
		"scale from 0 to 1 is denied": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(0)), mode: policy.ModeEnforce, cluster: withPDB,
			current: fixture.Deployment("web", fixture.Replicas(0)), wantCode: http.StatusForbidden, wantContains: []string{"min-replicas"},
		},
		"not an update": {
			req: scaleRequest(t, admissionv1.Create, scale(1), nil), mode: policy.ModeEnforce,
			wantAllowed: true, wantCode: 200,
		},
		"wrong kind": {
			req:      request(t, admissionv1.Update, "apps", "Deployment", "deployments", "", "web", fixture.Deployment("web", fixture.Replicas(1)), fixture.Deployment("web", fixture.Replicas(3))),
			wantCode: http.StatusBadRequest, wantContains: []string{"expected a deployments/scale request"},
		},
		"wrong subresource": {
			req:      request(t, admissionv1.Update, "autoscaling", "Scale", "deployments", "status", "web", scale(1), scale(3)),
			wantCode: http.StatusBadRequest,
		},
		"bad old object": {
			req:      request(t, admissionv1.Update, "autoscaling", "Scale", "deployments", "scale", "web", scale(1), `{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":"many"}}`),
			wantCode: http.StatusBadRequest,
		},
		"reading the Deployment fails": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce,
			getErr: errors.New("connection refused"), wantCode: http.StatusServiceUnavailable,
			wantContains: []string{"reading deployment shop/web: connection refused"},
		},
		"the getter returns nothing": {
			req: scaleRequest(t, admissionv1.Update, scale(1), scale(3)), mode: policy.ModeEnforce,
			wantCode: http.StatusServiceUnavailable, wantContains: []string{"reading deployment shop/web: not found"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var gets []string
			h := &ScaleHandler{Kind: validate.KindDeployment,
				Workloads: NewWorkloadHandler(validate.DefaultOptions(), fixedMode(tc.mode), fixedCluster(tc.cluster), &violationCounter{}),
				Get: func(_ context.Context, kind, ns, name string) (validate.Workload, error) {
					gets = append(gets, kind+" "+ns+"/"+name)
					switch {
					case tc.getErr != nil:
						return validate.Workload{}, tc.getErr
					case tc.current == nil:
						return validate.Workload{}, errors.New("not found")
					}
					return validate.DeploymentWorkload(tc.current.DeepCopy()), nil
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
			if len(gets) > 1 || len(gets) == 1 && gets[0] != "Deployment shop/web" {
				t.Errorf("read deployments %v, want shop/web at most once", gets)
			}
		})
	}
}

// TestDeploymentHandlerConfirmsDenialsLive: a cache that has not caught up with a PDB created a moment before the
// Deployment must not deny it; the live read is consulted for denials only, and only in enforce mode.
func TestDeploymentHandlerConfirmsDenialsLive(t *testing.T) {
	withPDB := pdbs(fixture.MaxUnavailable("web", "1"))
	tests := map[string]struct {
		mode        policy.Mode
		cached      validate.Cluster
		live        validate.Cluster
		liveErr     error
		wantAllowed bool
		wantLive    int
	}{
		"cache lags, live read has the PDB": {mode: policy.ModeEnforce, cached: validate.Cluster{}, live: withPDB, wantAllowed: true, wantLive: 1},
		"both lack it":                      {mode: policy.ModeEnforce, cached: validate.Cluster{}, live: validate.Cluster{}, wantAllowed: false, wantLive: 1},
		"live read fails: the cached denial stands": {mode: policy.ModeEnforce, cached: validate.Cluster{}, liveErr: errors.New("boom"),
			wantAllowed: false, wantLive: 1},
		"passing answers never read live": {mode: policy.ModeEnforce, cached: withPDB, live: validate.Cluster{}, wantAllowed: true, wantLive: 0},
		"audit mode never reads live":     {mode: policy.ModeAudit, cached: validate.Cluster{}, live: withPDB, wantAllowed: true, wantLive: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := NewWorkloadHandler(validate.DefaultOptions(), fixedMode(tc.mode), fixedCluster(tc.cached), &violationCounter{})
			liveReads := 0
			h.Confirm = func(context.Context, string) (validate.Cluster, error) {
				liveReads++
				return tc.live, tc.liveErr
			}
			req := deploymentRequest(t, admissionv1.Create, fixture.Deployment("web", fixture.Replicas(3)), nil)
			resp := complete(t, req, h.Handle(context.Background(), req))
			if resp.Allowed != tc.wantAllowed {
				t.Errorf("allowed = %v, want %v (%v)", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			if liveReads != tc.wantLive {
				t.Errorf("%d live reads, want %d", liveReads, tc.wantLive)
			}
		})
	}
}
