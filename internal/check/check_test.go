package check

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ha-webhook/ha-webhook/internal/manifest"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
)

func decode(t *testing.T, docs ...string) []manifest.Object {
	t.Helper()
	objs, err := manifest.Decode("test.yaml", []byte(strings.Join(docs, "\n---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func deployment(name, namespace, extraSpec string) string {
	ns := ""
	if namespace != "" {
		ns = "\n  namespace: " + namespace
	}
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + ns + `
spec:` + extraSpec + `
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers:
      - name: app
        image: example/app
        ports: [{name: http, containerPort: 8080}]`
}

func pdb(name, namespace, budget string) string {
	ns := ""
	if namespace != "" {
		ns = ", namespace: " + namespace
	}
	return "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: " + name + ns + "}\nspec: {" + budget + ", selector: {matchLabels: {app: " + name + "}}, unhealthyPodEvictionPolicy: AlwaysAllow}"
}

// pdbResult is the result of a PodDisruptionBudget that pdb builds: allowed, without warnings.
func pdbResult(namespace, name string) outcome {
	return outcome{Object: "PodDisruptionBudget " + namespace + "/" + name, Allowed: true}
}

func workload(apiVersion, kind, name, templatePath string) string {
	tpl := "{metadata: {labels: {app: " + name + "}}, spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}}"
	spec := strings.Replace(templatePath, "TEMPLATE", tpl, 1)
	return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: " + name + ", namespace: ns}\nspec: " + spec
}

// outcome is what the tests compare of a Result: stable parts only (rule IDs, not the rules' wording, which
// internal/validate owns).
type outcome struct {
	Object     string
	Allowed    bool
	Rules      []string
	Warnings   []string
	Mutations  []string
	NotMutated string
}

func outcomes(r Report) []outcome {
	var out []outcome
	for _, res := range r.Results {
		o := outcome{Object: res.Kind + " " + res.Namespace + "/" + res.Name, Allowed: res.Allowed, NotMutated: res.NotMutated}
		for _, v := range res.Violations {
			o.Rules = append(o.Rules, v.Rule)
		}
		for _, w := range res.Warnings {
			o.Warnings = append(o.Warnings, warningKey(w))
		}
		for _, m := range res.Mutations {
			o.Mutations = append(o.Mutations, m.Container+"/"+m.Field)
		}
		out = append(out, o)
	}
	return out
}

// warningKey reduces a warning worded by internal/validate or internal/mutate to its prefix and subject (a rule ID,
// an annotation), so these tests do not pin wording those packages own. The apply-order warning is check's own and
// stays whole.
func warningKey(w string) string {
	if strings.HasPrefix(w, "ha-webhook: apply the ") {
		return w
	}
	prefix := ""
	for _, p := range []string{"ha-webhook audit: ", "ha-webhook pre-existing: ", "ha-webhook: "} {
		if rest, ok := strings.CutPrefix(w, p); ok {
			prefix, w = p, rest
			break
		}
	}
	if i := strings.IndexAny(w, ":=("); i >= 0 {
		w = w[:i]
	}
	return prefix + strings.TrimSpace(w)
}

var fullMutation = []string{"app/readinessProbe", "app/preStop", "/terminationGracePeriodSeconds"}

// runCase is one row of the Run tables: the documents of one input, the options, and the outcome of each result.
type runCase struct {
	docs []string
	opts func(*Options)
	want []outcome
}

func TestRun(t *testing.T) {
	runTable(t, map[string]runCase{
		"compliant Deployment": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}},
		},
		"missing PDB": {
			docs: []string{deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{{Object: "Deployment shop/web", Rules: []string{"pdb-missing"}, Mutations: fullMutation}},
		},
		"PDB of another namespace does not count": {
			docs: []string{pdb("web", "other", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("other", "web"), {Object: "Deployment shop/web", Rules: []string{"pdb-missing"}, Mutations: fullMutation}},
		},
		"objects without a namespace get --namespace": {
			docs: []string{pdb("web", "", "maxUnavailable: 1"), deployment("web", "", "\n  replicas: 2")},
			opts: func(o *Options) { o.Namespace = "team-a" },
			want: []outcome{pdbResult("team-a", "web"), {Object: "Deployment team-a/web", Allowed: true, Mutations: fullMutation}},
		},
		"PDB without a namespace does not protect a Deployment of another namespace": {
			docs: []string{pdb("web", "", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 2")},
			want: []outcome{pdbResult("default", "web"), {Object: "Deployment shop/web", Rules: []string{"pdb-missing"}, Mutations: fullMutation}},
		},
		// The PDB budget is judged at max(replicas, --min-replicas): at 2 replicas minAvailable 1 lets one pod go.
		// minAvailable 1 at the 1 replica it runs allows no eviction: the drain stalls today, whatever min-replicas.
		"single replica": {
			docs: []string{pdb("web", "shop", "minAvailable: 1"), deployment("web", "shop", "\n  replicas: 1")},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"min-replicas", "pdb-blocks-drain"}, Mutations: fullMutation}},
		},
		"single replica with a PDB that blocks drains at min-replicas too": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 0"), deployment("web", "shop", "\n  replicas: 1")},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"min-replicas", "pdb-blocks-drain"}, Mutations: fullMutation}},
		},
		"single replica with --min-replicas 1: the budget is judged at 1 replica": {
			docs: []string{pdb("web", "shop", "minAvailable: 1"), deployment("web", "shop", "\n  replicas: 1")},
			opts: func(o *Options) { o.Rules.MinReplicas = 1 },
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"pdb-blocks-drain"}, Mutations: fullMutation}},
		},
		"single replica with --min-replicas 1 and maxUnavailable 1: unprotective": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 1")},
			opts: func(o *Options) { o.Rules.MinReplicas = 1 },
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"pdb-unprotective"}, Mutations: fullMutation}},
		},
		"two PDBs": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 1"), strings.Replace(pdb("web", "shop", "maxUnavailable: 1"), "name: web", "name: web-old", 1), deployment("web", "shop", "\n  replicas: 3")},
			want: []outcome{pdbResult("shop", "web"), pdbResult("shop", "web-old"), {Object: "Deployment shop/web", Rules: []string{"pdb-multiple"}, Mutations: fullMutation}},
		},
		"HPA minReplicas counts when replicas are unset": {
			docs: []string{
				"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 2, maxReplicas: 5}",
				pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", ""),
			},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}},
		},
		"autoscaling/v1 HPA is read too": {
			docs: []string{
				"apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 5}",
				pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 4"),
			},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"min-replicas"}, Mutations: fullMutation}},
		},
		"HPA of another Deployment does not count": {
			docs: []string{
				"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api, namespace: shop}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}, minReplicas: 3, maxReplicas: 5}",
				pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", ""),
			},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"min-replicas"}, Mutations: fullMutation}},
		},
		"audit mode allows and warns": {
			docs: []string{deployment("web", "shop", "\n  replicas: 1")},
			opts: func(o *Options) { o.Mode = policy.ModeAudit },
			want: []outcome{{
				Object: "Deployment shop/web", Allowed: true, Rules: []string{"min-replicas", "pdb-missing"},
				Warnings:  []string{"ha-webhook audit: min-replicas", "ha-webhook audit: pdb-missing"},
				Mutations: fullMutation,
			}},
		},
		"a Namespace object's mode label overrides --mode": {
			docs: []string{
				"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {ha-webhook.io/mode: audit}}",
				deployment("web", "shop", "\n  replicas: 3"), deployment("api", "other", "\n  replicas: 3"),
			},
			want: []outcome{
				{Object: "Deployment shop/web", Allowed: true, Rules: []string{"pdb-missing"}, Warnings: []string{"ha-webhook audit: pdb-missing"}, Mutations: fullMutation},
				{Object: "Deployment other/api", Rules: []string{"pdb-missing"}, Mutations: fullMutation},
			},
		},
		"PDB after the Deployment: allowed, with an apply-order warning": {
			docs: []string{deployment("web", "shop", "\n  replicas: 3"), pdb("web", "shop", "maxUnavailable: 1")},
			want: []outcome{{
				Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: apply the PodDisruptionBudget before this Deployment: in this input's order it is denied (pdb-missing)"},
			}, pdbResult("shop", "web")},
		},
		"HPA after the Deployment: apply-order warning": {
			docs: []string{
				pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", ""),
				"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 2, maxReplicas: 5}",
			},
			want: []outcome{pdbResult("shop", "web"), {
				Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: apply the HorizontalPodAutoscaler before this Deployment: in this input's order it is denied (min-replicas)"},
			}},
		},
		"HPA after the Deployment: the apply-order warning lists every rule the input order breaks": {
			docs: []string{
				pdb("web", "shop", "minAvailable: 2"), deployment("web", "shop", ""),
				"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 3, maxReplicas: 5}",
			},
			want: []outcome{pdbResult("shop", "web"), {
				Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: apply the HorizontalPodAutoscaler before this Deployment: in this input's order it is denied (min-replicas,pdb-blocks-drain)"},
			}},
		},
		"no apply-order warning in audit mode": {
			docs: []string{deployment("web", "shop", "\n  replicas: 3"), pdb("web", "shop", "maxUnavailable: 1")},
			opts: func(o *Options) { o.Mode = policy.ModeAudit },
			want: []outcome{{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}, pdbResult("shop", "web")},
		},
		"exempt Deployment": {
			docs: []string{strings.Replace(deployment("web", "shop", "\n  replicas: 1"), "name: web", "name: web\n  annotations: {ha-webhook.io/exempt: singleton leader}", 1)},
			want: []outcome{{
				Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation,
				Warnings: []string{"ha-webhook: exempt from validation", "ha-webhook: min-replicas", "ha-webhook: pdb-missing"},
			}},
		},
		"exemptions disabled": {
			docs: []string{strings.Replace(deployment("web", "shop", "\n  replicas: 3"), "name: web", "name: web\n  annotations: {ha-webhook.io/exempt: x}", 1)},
			opts: func(o *Options) { o.Rules.AllowExemptions = false },
			want: []outcome{{
				Object: "Deployment shop/web", Rules: []string{"pdb-missing"}, Mutations: fullMutation,
				Warnings: []string{"ha-webhook.io/exempt ignored"},
			}},
		},
		"--min-replicas": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 2")},
			opts: func(o *Options) { o.Rules.MinReplicas = 3 },
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Rules: []string{"min-replicas"}, Mutations: fullMutation}},
		},
		"scaled to zero": {
			docs: []string{deployment("web", "shop", "\n  replicas: 0")},
			want: []outcome{{Object: "Deployment shop/web", Allowed: true, Mutations: fullMutation}},
		},
		"Recreate strategy warns": {
			docs: []string{pdb("web", "shop", "maxUnavailable: 1"), deployment("web", "shop", "\n  replicas: 2\n  strategy: {type: Recreate}")},
			want: []outcome{pdbResult("shop", "web"), {Object: "Deployment shop/web", Allowed: true, Warnings: []string{"ha-webhook: strategy-recreate"}, Mutations: fullMutation}},
		},
		"the pods of every kind are previewed, other kinds are ignored": {
			docs: []string{
				"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec: {ports: [{port: 80}]}",
				workload("apps/v1", "DaemonSet", "ds", "{selector: {matchLabels: {app: ds}}, template: TEMPLATE}"),
				workload("apps/v1", "ReplicaSet", "rs", "{selector: {matchLabels: {app: rs}}, template: TEMPLATE}"),
				workload("batch/v1", "CronJob", "cj", "{schedule: '@daily', jobTemplate: {spec: {template: TEMPLATE}}}"),
				"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 80, protocol: UDP}]}]}",
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: ns}",
			},
			want: []outcome{
				{Object: "DaemonSet ns/ds", Allowed: true, Mutations: []string{"c/readinessProbe", "c/preStop", "/terminationGracePeriodSeconds"}},
				{Object: "ReplicaSet ns/rs", Allowed: true, Mutations: []string{"c/readinessProbe", "c/preStop", "/terminationGracePeriodSeconds"}},
				// A CronJob's template has no restartPolicy Always: the API server requires Never or OnFailure, and
				// a manifest may leave it unset. Unset, the pod looks like any other.
				{Object: "CronJob ns/cj", Allowed: true, Mutations: []string{"c/readinessProbe", "c/preStop", "/terminationGracePeriodSeconds"}},
				{Object: "Pod ns/p", Allowed: true}, // UDP only: serves no TCP traffic
			},
		},
		"Job pods are left alone": {
			docs: []string{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: ns}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: x, ports: [{containerPort: 9090}]}]"},
			want: []outcome{{Object: "Job ns/migrate", Allowed: true, NotMutated: "restartPolicy Never"}},
		},
		"native sidecar is left alone": {
			docs: []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  initContainers: [{name: proxy, image: envoy, restartPolicy: Always, ports: [{containerPort: 15001}]}]\n  containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]"},
			want: []outcome{{Object: "Pod ns/p", Allowed: true, Mutations: fullMutation}},
		},
		"skip-mutation annotation": {
			docs: []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, annotations: {ha-webhook.io/skip-mutation: 'true'}}\nspec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}"},
			want: []outcome{{Object: "Pod ns/p", Allowed: true, NotMutated: "ha-webhook.io/skip-mutation"}},
		},
		"mutation warnings about the pod's own settings": {
			docs: []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, annotations: {ha-webhook.io/prestop-sleep-seconds: soon}}\nspec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}"},
			want: []outcome{{Object: "Pod ns/p", Allowed: true, Mutations: fullMutation, Warnings: []string{"ha-webhook.io/prestop-sleep-seconds"}}},
		},
		"--prestop-sleep 0 injects no preStop": {
			docs: []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}"},
			opts: func(o *Options) { o.Mutate.PreStopSleepSeconds = 0 },
			want: []outcome{{Object: "Pod ns/p", Allowed: true, Mutations: []string{"app/readinessProbe"}}},
		},
		"nothing to check": {
			docs: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}"},
		},
	})
}

// runTable runs each case and compares its outcomes; Run must never modify its input.
func runTable(t *testing.T, tests map[string]runCase) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if err := opts.Validate(); err != nil {
				t.Fatalf("test options invalid: %v", err)
			}
			objs := decode(t, tc.docs...)
			before := make([]runtime.Object, len(objs))
			for i, o := range objs {
				before[i] = o.Object.DeepCopyObject()
			}
			report := Run(objs, opts)
			if diff := cmp.Diff(tc.want, outcomes(report)); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if got, want := report.Denied(), anyDenied(tc.want); got != want {
				t.Errorf("Denied() = %v, want %v", got, want)
			}
			for i, o := range objs {
				if !equality.Semantic.DeepEqual(before[i], o.Object) {
					t.Errorf("Run modified its input %s", o.Source)
				}
			}
		})
	}
}

func anyDenied(outs []outcome) bool {
	for _, o := range outs {
		if !o.Allowed {
			return true
		}
	}
	return false
}

// TestRunMutationValues checks the injected values themselves, and that auto mode injects the native sleep.
func TestRunMutationValues(t *testing.T) {
	tests := map[string]struct {
		mode mutate.PreStopMode
		want string
	}{
		"auto assumes native sleep": {mutate.PreStopAuto, `{"sleep":{"seconds":15}}`},
		"sleep":                     {mutate.PreStopSleep, `{"sleep":{"seconds":15}}`},
		"exec":                      {mutate.PreStopExec, `{"exec":{"command":["sleep","15"]}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Mutate.PreStopMode = tc.mode
			report := Run(decode(t, deployment("web", "shop", "\n  replicas: 2")), opts)
			var got []string
			for _, m := range report.Results[0].Mutations {
				v, err := compactJSON(m.Value)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Field+"="+v)
			}
			want := []string{
				`readinessProbe={"tcpSocket":{"port":"http"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3}`,
				"preStop=" + tc.want,
				"terminationGracePeriodSeconds=45",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mutations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		change  func(*Options)
		wantErr string
	}{
		"defaults":          {change: func(*Options) {}},
		"bad mode":          {change: func(o *Options) { o.Mode = "warn" }, wantErr: "--mode"},
		"bad namespace":     {change: func(o *Options) { o.Namespace = "Shop_1" }, wantErr: `--namespace "Shop_1"`},
		"empty namespace":   {change: func(o *Options) { o.Namespace = "" }, wantErr: "--namespace"},
		"min replicas zero": {change: func(o *Options) { o.Rules.MinReplicas = 0 }, wantErr: "--min-replicas"},
		"sleep over grace cap": {change: func(o *Options) { o.Mutate.MaxPreStopSleepSeconds = 600 },
			wantErr: "--max-termination-grace-period (600) must be greater than --max-prestop-sleep (600)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := DefaultOptions()
			tc.change(&o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWriteJSONShape(t *testing.T) {
	report := Run(decode(t, deployment("web", "", "\n  replicas: 1\n  strategy: {type: Recreate}"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}"), DefaultOptions())
	var b bytes.Buffer
	if err := WriteJSON(&b, report); err != nil {
		t.Fatal(err)
	}
	want := `{
  "results": [
    {
      "kind": "Deployment",
      "namespace": "default",
      "name": "web",
      "allowed": false,
      "violations": [
        {
          "rule": "min-replicas",
          "field": "spec.replicas",
          "message": "` + report.Results[0].Violations[0].FieldError().Error() + `"
        },
        {
          "rule": "pdb-missing",
          "field": "spec.template.metadata.labels",
          "message": "` + report.Results[0].Violations[1].FieldError().Error() + `"
        }
      ],
      "warnings": [
        "` + report.Results[0].Warnings[0] + `"
      ],
      "mutations": [
        {
          "container": "app",
          "field": "readinessProbe",
          "value": {
            "tcpSocket": {
              "port": "http"
            },
            "timeoutSeconds": 1,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 3
          }
        },
        {
          "container": "app",
          "field": "preStop",
          "value": {
            "sleep": {
              "seconds": 15
            }
          }
        },
        {
          "field": "terminationGracePeriodSeconds",
          "value": 45
        }
      ]
    },
    {
      "kind": "Pod",
      "namespace": "default",
      "name": "p",
      "allowed": true,
      "violations": [],
      "warnings": [],
      "mutations": []
    }
  ]
}
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	for _, s := range []string{"pdb-missing: ", "; fix: kubectl create pdb web -n default --selector=app=web --max-unavailable=1"} {
		if !strings.Contains(report.Results[0].Violations[1].FieldError().Error(), s) {
			t.Errorf("message %q lacks %q", report.Results[0].Violations[1].FieldError().Error(), s)
		}
	}

	b.Reset()
	if err := WriteJSON(&b, Report{}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "{\n  \"results\": []\n}\n"; got != want {
		t.Errorf("empty report: got %q, want %q", got, want)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Report{}, "yaml"); err == nil || !strings.Contains(err.Error(), `unknown output format "yaml"`) {
		t.Errorf("got %v, want an unknown format error", err)
	}
}

func TestWriteTextEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No Deployments") {
		t.Errorf("got %q, want a note that nothing was found", b.String())
	}
}

// FuzzRun checks that no decodable input makes the runner or the writers panic: `check` reads manifests the API
// server never validated (negative replicas, percentages over 100%, broken selectors).
func FuzzRun(f *testing.F) {
	f.Add([]byte(pdb("web", "shop", "maxUnavailable: 1") + "\n---\n" + deployment("web", "shop", "\n  replicas: 3")))
	f.Add([]byte(pdb("web", "", "minAvailable: 250%") + "\n---\n" + deployment("web", "", "\n  replicas: -4\n  strategy: {rollingUpdate: {maxUnavailable: '900%'}}")))
	f.Add([]byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {maxUnavailable: 'x%', selector: {matchExpressions: [{key: app, operator: Bogus}]}}\n---\n" + deployment("web", "", "")))
	f.Add([]byte("apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {scaleTargetRef: {apiVersion: '/', kind: Deployment, name: web}, minReplicas: -1, maxReplicas: 0}\n---\n" + deployment("web", "", "")))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {ha-webhook.io/prestop-sleep-seconds: '99999999999999999999', ha-webhook.io/readiness-port: '0'}}\nspec: {terminationGracePeriodSeconds: -5, containers: [{name: c, ports: [{containerPort: 0}, {name: x, protocol: SCTP}]}]}"))
	f.Add([]byte(sharedPDB("shop", "", "minAvailable: 300%") + "\n---\n" + partOf(statefulSet("db", "", "\n  replicas: -1"), "shop") + "\n---\n" +
		partOf(deployment("web", "", ""), "shop") + "\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {unhealthyPodEvictionPolicy: Bogus}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := manifest.Decode("fuzz.yaml", data)
		for _, mode := range []policy.Mode{policy.ModeEnforce, policy.ModeAudit} {
			opts := DefaultOptions()
			opts.Mode = mode
			report := Run(objs, opts)
			if mode == policy.ModeAudit && report.Denied() {
				t.Fatal("audit mode denied an object")
			}
			if err := WriteJSON(io.Discard, report); err != nil {
				t.Fatal(err)
			}
			if err := WriteText(io.Discard, report); err != nil {
				t.Fatal(err)
			}
		}
	})
}
