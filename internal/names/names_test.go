package names

import (
	"strings"
	"testing"
)

func TestParseMode(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Mode
		wantErr bool
	}{
		"enforce":    {in: "enforce", want: ModeEnforce},
		"audit":      {in: "audit", want: ModeAudit},
		"empty":      {in: "", wantErr: true},
		"upper case": {in: "Audit", wantErr: true},
		"typo":       {in: "audti", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseMode(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestModeFor(t *testing.T) {
	tests := map[string]struct {
		global Mode
		labels map[string]string
		want   Mode
	}{
		"no labels":                          {global: ModeEnforce, labels: nil, want: ModeEnforce},
		"namespace in audit":                 {global: ModeEnforce, labels: map[string]string{LabelMode: "audit"}, want: ModeAudit},
		"namespace enforces in audit global": {global: ModeAudit, labels: map[string]string{LabelMode: "enforce"}, want: ModeEnforce},
		"typo keeps enforce, never weakens":  {global: ModeEnforce, labels: map[string]string{LabelMode: "audti"}, want: ModeEnforce},
		"empty label keeps the global":       {global: ModeAudit, labels: map[string]string{LabelMode: ""}, want: ModeAudit},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ModeFor(tc.global, tc.labels); got != tc.want {
				t.Errorf("ModeFor(%q, %v) = %q, want %q", tc.global, tc.labels, got, tc.want)
			}
		})
	}
}

// TestPublicNames pins the public interface of DESIGN.md §1: changing one of these is a breaking change.
func TestPublicNames(t *testing.T) {
	pinned := map[string]string{
		LabelEnabled:                  "ha-webhook.io/enabled",
		LabelMode:                     "ha-webhook.io/mode",
		AnnotationPreStopSleepSeconds: "ha-webhook.io/prestop-sleep-seconds",
		AnnotationReadinessPath:       "ha-webhook.io/readiness-path",
		AnnotationReadinessPort:       "ha-webhook.io/readiness-port",
		AnnotationSkipMutation:        "ha-webhook.io/skip-mutation",
		AnnotationInjected:            "ha-webhook.io/injected",
		AnnotationExempt:              "ha-webhook.io/exempt",
		AnnotationMirrorPod:           "kubernetes.io/config.mirror",
		PathMutatePod:                 "/mutate--v1-pod",
		PathValidateDeployment:        "/validate-apps-v1-deployment",
	}
	for got, want := range pinned {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !strings.HasPrefix(PathValidateScale, PathValidateDeployment) {
		t.Errorf("PathValidateScale %q does not extend %q", PathValidateScale, PathValidateDeployment)
	}
}
