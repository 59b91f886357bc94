package validate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, path string, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var messageCases = map[string]struct {
	old     *appsv1.Deployment
	d       *appsv1.Deployment
	cluster Cluster
}{
	"min-replicas-pdb-missing": {d: fixture.Deployment("web", fixture.Replicas(1))},
	"unset-replicas":           {d: fixture.Deployment("web", nil), cluster: pdbs(fixture.MaxUnavailable("web", "1"))},
	"single-replica-blocking-pdb": {
		d:       fixture.Deployment("web", fixture.Replicas(1)),
		cluster: pdbs(fixture.MaxUnavailable("web", "0")),
	},
	"hpa-multiple-pdbs": {
		d: fixture.Deployment("web", fixture.Replicas(4)),
		cluster: Cluster{
			PDBs: []*policyv1.PodDisruptionBudget{fixture.MaxUnavailable("web-pdb", "1"), fixture.PDB("everything", &metav1.LabelSelector{}, fixture.IntOrStr("1"), nil)},
			HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.WebHPA(nil)},
		},
	},
	"pdb-blocks-drain-recreate": {
		d:       fixture.With(fixture.Deployment("web", fixture.Replicas(3)), func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }),
		cluster: pdbs(fixture.MinAvailable("web", "100%")),
	},
	"pdb-unprotective-rollout": {
		d:       withRolling(fixture.Deployment("web", fixture.Replicas(2)), "100%"),
		cluster: pdbs(fixture.MinAvailable("web", "0")),
	},
	"set-based-selector": {
		d: fixture.With(fixture.Deployment("web", fixture.Replicas(2)), func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend", "edge"}}}
			d.Spec.Template.Labels["tier"] = "edge"
		}),
	},
	"default-namespace-no-selector": {
		d: fixture.With(fixture.Deployment("api", fixture.Replicas(3)), func(d *appsv1.Deployment) {
			d.Namespace = ""
			d.Spec.Selector = nil
			d.Spec.Template.Labels = map[string]string{"app": "api", "team": "pay"}
		}),
	},
	"update-ratcheted": {
		old: fixture.Deployment("web", fixture.Replicas(2)),
		d:   fixture.Deployment("web", fixture.Replicas(1)),
	},
	"exempt": {
		d: fixture.With(fixture.Deployment("web", fixture.Replicas(1)), func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{names.AnnotationExempt: "leader-elected singleton (INC-1234)"}
		}),
	},
}

// TestMessageGolden renders the denial message and both modes' warnings of each case into
// testdata/message/NAME.txt.
func TestMessageGolden(t *testing.T) {
	for name, tc := range messageCases {
		t.Run(name, func(t *testing.T) {
			var v Verdict
			if tc.old != nil {
				v = Update(dw(tc.old), dw(tc.d), tc.cluster, DefaultOptions())
			} else {
				v = Deployment(tc.d, tc.cluster, DefaultOptions())
			}
			var b strings.Builder
			b.WriteString("--- message\n")
			b.WriteString(Message(dw(tc.d), v.Violations))
			for _, audit := range []bool{false, true} {
				b.WriteString("\n--- warnings, " + modeName(audit) + "\n")
				for _, w := range Warnings(v, audit) {
					b.WriteString(w + "\n")
					if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
						t.Errorf("warning of %d characters: %q", n, w)
					}
				}
			}
			golden(t, filepath.Join("testdata", "message", name+".txt"), b.String())
		})
	}
}

func TestWarnings(t *testing.T) {
	v := Verdict{
		Violations:  []Violation{{Rule: RuleMinReplicas, Why: "v1"}, {Rule: RulePDBMissing, Why: "v2"}},
		PreExisting: []Violation{{Rule: RulePDBBlocksDrain, Why: "r1"}},
		Advisories:  []Violation{{Rule: RuleStrategyRecreate, Why: "a1"}},
		Exemption:   "because",
		Notes:       []string{"note"},
	}
	tests := map[string][]string{
		"enforce": {
			`ha-webhook: exempt from validation: ha-webhook.io/exempt="because"`,
			"ha-webhook pre-existing: pdb-blocks-drain: r1",
			"ha-webhook: strategy-recreate: a1",
			"note",
		},
		"audit": {
			`ha-webhook: exempt from validation: ha-webhook.io/exempt="because"`,
			"ha-webhook audit: min-replicas: v1",
			"ha-webhook audit: pdb-missing: v2",
			"ha-webhook pre-existing: pdb-blocks-drain: r1",
			"ha-webhook: strategy-recreate: a1",
			"note",
		},
	}
	for mode, want := range tests {
		t.Run(mode, func(t *testing.T) {
			if diff := cmp.Diff(want, Warnings(v, mode == "audit")); diff != "" {
				t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBoundedEcho: long names and annotations never make a warning longer than 120 characters, and a message
// repeats at most a bounded part of what the user wrote.
func TestBoundedEcho(t *testing.T) {
	long := strings.Repeat("a", 253)
	reason := strings.Repeat("x\x00\u202e", 3000)
	d := fixture.Deployment(long, fixture.Replicas(1))
	d.Annotations = map[string]string{names.AnnotationExempt: reason}
	cluster := Cluster{
		PDBs: []*policyv1.PodDisruptionBudget{
			fixture.PDB(long+"-1", fixture.SelectApp(long), nil, fixture.IntOrStr("0")),
		},
		HPAs: []*autoscalingv2.HorizontalPodAutoscaler{fixture.HPA(long, "apps/v1", "Deployment", long, nil)},
	}
	for name, opts := range map[string]Options{"exempt": DefaultOptions(), "not exempt": {MinReplicas: 2}} {
		t.Run(name, func(t *testing.T) {
			v := Deployment(d, cluster, opts)
			if got := len(v.Violations) + len(v.Advisories); got != 2 {
				t.Fatalf("got %d violations and advisories, want min-replicas and pdb-blocks-drain", got)
			}
			if n := utf8.RuneCountInString(v.Exemption); n > 80 {
				t.Errorf("Exemption keeps %d characters of the reason", n)
			}
			for _, audit := range []bool{false, true} {
				for _, w := range Warnings(v, audit) {
					if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
						t.Errorf("%s warning of %d characters: %q", modeName(audit), n, w)
					}
					if strings.ContainsAny(w, "\x00\u202e") {
						t.Errorf("%s warning carries raw control characters: %q", modeName(audit), w)
					}
				}
			}
			msg := Message(dw(d), v.Violations)
			if strings.Contains(msg, "x\x00") || strings.Contains(msg, `x\x00`) {
				t.Errorf("the message repeats the exemption reason")
			}
			// Names are at most 253 characters (the API server validates them before validating webhooks run); each
			// line names a handful of objects.
			for _, line := range strings.Split(msg, "\n") {
				if n := len(line); n > 6*253+400 {
					t.Errorf("message line of %d bytes", n)
				}
			}
		})
	}
}

func TestViolationFieldError(t *testing.T) {
	tests := map[string]struct {
		v    Violation
		want string
	}{
		"required": {
			v:    Violation{Rule: RulePDBMissing, Field: labelsPath, Why: "why", Fix: "fix"},
			want: "spec.template.metadata.labels: Required value: pdb-missing: why; fix: fix",
		},
		"invalid with a number": {
			v:    Violation{Rule: RuleMinReplicas, Field: replicasPath, BadValue: int32(1), Why: "why", Fix: "fix"},
			want: "spec.replicas: Invalid value: 1: min-replicas: why; fix: fix",
		},
		"no fix": {
			v:    Violation{Rule: RuleStrategyRecreate, Field: field.NewPath("spec", "strategy", "type"), BadValue: "Recreate", Why: "why"},
			want: `spec.strategy.type: Invalid value: "Recreate": strategy-recreate: why`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.v.FieldError()
			if got := err.Error(); got != tc.want {
				t.Errorf("FieldError() = %q, want %q", got, tc.want)
			}
			if err.Origin != tc.v.Rule {
				t.Errorf("Origin = %q, want %q", err.Origin, tc.v.Rule)
			}
		})
	}
	if got := ErrorList(nil); got == nil || len(got) != 0 {
		t.Errorf("ErrorList(nil) = %#v, want an empty list", got)
	}
}
