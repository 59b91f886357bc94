package names

import (
	"strings"
	"testing"
)

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
