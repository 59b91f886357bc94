package check

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/printer"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// statefulSet is a StatefulSet like deployment's Deployment.
func statefulSet(name, namespace, extraSpec string) string {
	return strings.Replace(strings.Replace(deployment(name, namespace, extraSpec), "kind: Deployment", "kind: StatefulSet", 1),
		"\nspec:", "\nspec:\n  serviceName: "+name, 1)
}

// partOf adds the label app.kubernetes.io/part-of: group to a workload's pods, which sharedPDB selects.
func partOf(workload, group string) string {
	return strings.Replace(workload, "metadata: {labels: {app: ", "metadata: {labels: {app.kubernetes.io/part-of: "+group+", app: ", 1)
}

// sharedPDB selects the pods of every workload part of group.
func sharedPDB(group, namespace, budget string) string {
	return "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: " + group + ", namespace: " + namespace + "}\n" +
		"spec: {" + budget + ", selector: {matchLabels: {app.kubernetes.io/part-of: " + group + "}}, unhealthyPodEvictionPolicy: AlwaysAllow}"
}

func hpa(kind, name, namespace string, minReplicas int) string {
	return "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: " + name + ", namespace: " + namespace + "}\n" +
		"spec: {scaleTargetRef: {apiVersion: apps/v1, kind: " + kind + ", name: " + name + "}, minReplicas: " +
		strconv.Itoa(minReplicas) + ", maxReplicas: 5}"
}

// TestRunStatefulSets: StatefulSets are validated exactly like Deployments.
func TestRunStatefulSets(t *testing.T) {
	runTable(t, map[string]runCase{
		"compliant StatefulSet": {
			docs: []string{pdb("db", "shop", "maxUnavailable: 1"), statefulSet("db", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "db"), {Object: "StatefulSet shop/db", Allowed: true, Mutations: fullMutation}},
		},
		"one replica and no PDB": {
			docs: []string{statefulSet("db", "shop", "\n  replicas: 1")},
			want: []outcome{{
				Object: "StatefulSet shop/db", Rules: []string{"min-replicas", "pdb-missing"}, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: rollout-all-unavailable"},
			}},
		},
		"audit mode allows and warns": {
			docs: []string{statefulSet("db", "shop", "\n  replicas: 3")},
			opts: func(o *Options) { o.Mode = policy.ModeAudit },
			want: []outcome{{
				Object: "StatefulSet shop/db", Allowed: true, Rules: []string{"pdb-missing"}, Mutations: fullMutation,
				Warnings: []string{"ha-webhook audit: pdb-missing"},
			}},
		},
		"PDB after the StatefulSet: allowed, with an apply-order warning": {
			docs: []string{statefulSet("db", "shop", "\n  replicas: 3"), pdb("db", "shop", "maxUnavailable: 1")},
			want: []outcome{{
				Object: "StatefulSet shop/db", Allowed: true, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: apply the PodDisruptionBudget before this StatefulSet: in this input's order it is denied (pdb-missing)"},
			}, pdbResult("shop", "db")},
		},
		"HPA of the StatefulSet counts": {
			docs: []string{hpa("StatefulSet", "db", "shop", 1), pdb("db", "shop", "maxUnavailable: 1"), statefulSet("db", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "db"), {
				Object: "StatefulSet shop/db", Rules: []string{"min-replicas"}, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: rollout-all-unavailable"},
			}},
		},
		"HPA of a Deployment of the same name does not count": {
			docs: []string{hpa("Deployment", "db", "shop", 1), pdb("db", "shop", "maxUnavailable: 1"), statefulSet("db", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "db"), {Object: "StatefulSet shop/db", Allowed: true, Mutations: fullMutation}},
		},
		"OnDelete StatefulSet with one replica: no rollout warning": {
			docs: []string{pdb("db", "shop", "maxUnavailable: 1"), statefulSet("db", "shop", "\n  replicas: 1\n  updateStrategy: {type: OnDelete}")},
			want: []outcome{pdbResult("shop", "db"), {Object: "StatefulSet shop/db", Rules: []string{"min-replicas"}, Mutations: fullMutation}},
		},
	})
}

// TestRunSharedPDBs: a PDB's budget counts the pods of every Deployment and StatefulSet of the input it selects, in
// its namespace, as the disruption controller does.
func TestRunSharedPDBs(t *testing.T) {
	runTable(t, map[string]runCase{
		"maxUnavailable 1 over two Deployments: both allowed": {
			docs: []string{sharedPDB("shop", "shop", "maxUnavailable: 1"),
				partOf(deployment("web", "shop", "\n  replicas: 2"), "shop"), partOf(deployment("api", "shop", "\n  replicas: 2"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation},
				{Object: "Deployment shop/api", Allowed: true, Mutations: fullMutation}},
		},
		"maxUnavailable 2 over two Deployments of 2: unprotective for each": {
			docs: []string{sharedPDB("shop", "shop", "maxUnavailable: 2"),
				partOf(deployment("web", "shop", "\n  replicas: 2"), "shop"), partOf(deployment("api", "shop", "\n  replicas: 2"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/web", Rules: []string{"pdb-unprotective"}, Mutations: fullMutation},
				{Object: "Deployment shop/api", Rules: []string{"pdb-unprotective"}, Mutations: fullMutation}},
		},
		"a Deployment and a StatefulSet share one budget": {
			docs: []string{sharedPDB("shop", "shop", "maxUnavailable: 2"),
				partOf(deployment("web", "shop", "\n  replicas: 3"), "shop"), partOf(statefulSet("db", "shop", "\n  replicas: 3"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation},
				{Object: "StatefulSet shop/db", Allowed: true, Mutations: fullMutation}},
		},
		// minAvailable 3 of the 6 pods spec.replicas asks for would let web's 2 go at once; of the 4 the HPA floor
		// leaves, it lets 1 go.
		"the other workload's HPA floor counts in the budget": {
			docs: []string{hpa("Deployment", "api", "shop", 2), sharedPDB("shop", "shop", "minAvailable: 3"),
				partOf(deployment("api", "shop", "\n  replicas: 4"), "shop"), partOf(deployment("web", "shop", "\n  replicas: 2"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/api", Allowed: true, Mutations: fullMutation,
					Warnings: []string{"ha-webhook: apply the Deployment web before this Deployment: in this input's order it is denied (pdb-blocks-drain)"}},
				{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}},
		},
		"a workload of another namespace is not counted": {
			docs: []string{sharedPDB("shop", "shop", "maxUnavailable: 2"),
				partOf(deployment("web", "shop", "\n  replicas: 2"), "shop"), partOf(deployment("api", "other", "\n  replicas: 2"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/web", Rules: []string{"pdb-unprotective"}, Mutations: fullMutation},
				{Object: "Deployment other/api", Rules: []string{"pdb-missing"}, Mutations: fullMutation}},
		},
		// minAvailable 3 of 4 pods lets one go; of the 2 pods of the first workload alone, none: the webhook denies
		// the first one kubectl creates.
		"a budget only the later workload makes right: apply-order warning naming it": {
			docs: []string{sharedPDB("shop", "shop", "minAvailable: 3"),
				partOf(deployment("web", "shop", "\n  replicas: 2"), "shop"), partOf(statefulSet("db", "shop", "\n  replicas: 2"), "shop")},
			want: []outcome{pdbResult("shop", "shop"),
				{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation,
					Warnings: []string{"ha-webhook: apply the StatefulSet db before this Deployment: in this input's order it is denied (pdb-blocks-drain)"}},
				{Object: "StatefulSet shop/db", Allowed: true, Mutations: fullMutation}},
		},
		"HPA floor of 1 under minAvailable 1: min-replicas and pdb-blocks-drain": {
			docs: []string{hpa("Deployment", "web", "shop", 1), pdb("web", "shop", "minAvailable: 1"), deployment("web", "shop", "")},
			want: []outcome{pdbResult("shop", "web"),
				{Object: "Deployment shop/web", Rules: []string{"min-replicas", "pdb-blocks-drain"}, Mutations: fullMutation}},
		},
	})
}

// TestRunPDBs: one result per PodDisruptionBudget, with its own findings as warnings, never denied.
func TestRunPDBs(t *testing.T) {
	bare := func(policy string) string {
		return "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}" + policy + "}"
	}
	warned := outcome{Object: "PodDisruptionBudget shop/web", Allowed: true, Warnings: []string{"ha-webhook: pdb-unhealthy-eviction"}}
	runTable(t, map[string]runCase{
		"without unhealthyPodEvictionPolicy": {
			docs: []string{bare(""), deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{warned, {Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}},
		},
		"IfHealthyBudget": {
			docs: []string{bare(", unhealthyPodEvictionPolicy: IfHealthyBudget")},
			want: []outcome{warned},
		},
		"AlwaysAllow": {
			docs: []string{bare(", unhealthyPodEvictionPolicy: AlwaysAllow")},
			want: []outcome{pdbResult("shop", "web")},
		},
		"audit mode: the same warning": {
			docs: []string{bare("")},
			opts: func(o *Options) { o.Mode = policy.ModeAudit },
			want: []outcome{warned},
		},
		"a PDB that blocks drains is allowed: its workload is denied": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 0"), deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"pdb-blocks-drain"}, Mutations: fullMutation}},
		},
	})
}

// TestPDBFixes: a PDB's warning comes with its fix, naming --namespace when the PDB names none, as kubectl apply -n
// would.
func TestPDBFixes(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want []string
	}{
		"no namespace": {
			doc:  "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: 1}",
			want: []string{`kubectl patch pdb web -n team-a --type=merge -p '{"spec":{"unhealthyPodEvictionPolicy":"AlwaysAllow"}}'`},
		},
		"AlwaysAllow: none": {doc: pdb("web", "shop", "maxUnavailable: 1")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Namespace = "team-a"
			res := Run(decode(t, tc.doc), opts).Results[0]
			if diff := cmp.Diff(tc.want, res.Fixes); diff != "" {
				t.Errorf("fixes (-want +got):\n%s", diff)
			}
			if len(res.Fixes) != len(res.Warnings) {
				t.Errorf("%d fixes for %d warnings", len(res.Fixes), len(res.Warnings))
			}
		})
	}
}

func TestStatus(t *testing.T) {
	violation := []validate.Violation{{Rule: validate.RulePDBMissing}}
	tests := map[string]struct {
		res  Result
		want string
	}{
		"denied":                {res: Result{Validated: true, Verdict: printer.Verdict{Violations: violation}}, want: "DENIED"},
		"allowed in audit mode": {res: Result{Allowed: true, Validated: true, Mode: policy.ModeAudit, Verdict: printer.Verdict{Violations: violation}}, want: "allowed in audit mode (enforce mode denies it)"},
		"allowed":               {res: Result{Allowed: true, Validated: true}, want: "allowed"},
		"not validated":         {res: Result{Allowed: true}, want: "allowed (only Deployments and StatefulSets are validated)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, status(tc.res)); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJoinAnd(t *testing.T) {
	tests := map[string]struct {
		in   []string
		want string
	}{
		"none":  {want: ""},
		"one":   {in: []string{"a"}, want: "a"},
		"two":   {in: []string{"a", "b"}, want: "a and b"},
		"three": {in: []string{"a", "b", "c"}, want: "a, b and c"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, joinAnd(tc.in)); diff != "" {
				t.Errorf("joinAnd (-want +got):\n%s", diff)
			}
		})
	}
}
