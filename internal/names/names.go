// Package names holds ha-webhook's public interface: the labels, annotations, webhook paths and modes that users,
// the Helm chart and the server must agree on. Changing a value here is a breaking change.
package names

import (
	"context"
	"fmt"
)

// Prefix of every label and annotation ha-webhook reads or writes.
const Prefix = "ha-webhook.io/"

// Namespace labels.
const (
	// LabelEnabled opts a namespace in; the chart's namespaceSelector matches it.
	LabelEnabled = Prefix + "enabled"
	// LabelMode overrides the global --mode for one namespace.
	LabelMode = Prefix + "mode"
)

// Pod and pod-template annotations.
const (
	AnnotationPreStopSleepSeconds = Prefix + "prestop-sleep-seconds"
	AnnotationReadinessPath       = Prefix + "readiness-path"
	AnnotationReadinessPort       = Prefix + "readiness-port"
	AnnotationSkipMutation        = Prefix + "skip-mutation"
	// AnnotationInjected is written by the webhook: what it injected, so an audit can find pods that missed it.
	AnnotationInjected = Prefix + "injected"
)

// AnnotationExempt on a Deployment exempts it from validation (with a non-empty reason) when exemptions are allowed.
const AnnotationExempt = Prefix + "exempt"

// AnnotationMirrorPod marks static pods mirrored by the kubelet; they are never mutated.
const AnnotationMirrorPod = "kubernetes.io/config.mirror"

// Webhook paths, following controller-runtime's generated convention.
const (
	PathMutatePod          = "/mutate--v1-pod"
	PathValidateDeployment = "/validate-apps-v1-deployment"
	PathValidateScale      = "/validate-apps-v1-deployment-scale"
)

// Webhook names as they appear in the webhook configurations.
const (
	WebhookMutatePod          = "pods.ha-webhook.io"
	WebhookValidateDeployment = "deployments.ha-webhook.io"
	WebhookValidateScale      = "deployments-scale.ha-webhook.io"
)

// Mode says whether violations block (enforce) or only warn (audit).
type Mode string

const (
	ModeEnforce Mode = "enforce"
	ModeAudit   Mode = "audit"
)

// ParseMode accepts exactly "enforce" or "audit".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeEnforce, ModeAudit:
		return Mode(s), nil
	}
	return "", fmt.Errorf("mode must be %q or %q, got %q", ModeEnforce, ModeAudit, s)
}

// ModeFor returns the mode in force for a namespace: its ha-webhook.io/mode label when valid, else the global mode.
// An invalid label value falls back to the global mode rather than to the weaker audit, so a typo never disarms
// enforcement.
func ModeFor(global Mode, namespaceLabels map[string]string) Mode {
	if m, err := ParseMode(namespaceLabels[LabelMode]); err == nil {
		return m
	}
	return global
}

// ModeLookup returns the mode in force for a namespace. An error means the answer is unknown (e.g. caches not
// synced): the request must then fail, per the webhook's failurePolicy, rather than pass silently.
type ModeLookup func(ctx context.Context, namespace string) (Mode, error)
