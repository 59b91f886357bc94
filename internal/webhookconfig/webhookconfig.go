// Package webhookconfig describes how the API server must call ha-webhook: rules, namespace selector and match
// conditions. It is the one source of truth: the integration tests register exactly these objects, and the Helm
// chart's tests compare the chart's rendered configurations against them.
package webhookconfig

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// AlwaysExcludedNamespaces are never sent to the webhook, whatever the user's selector says: the control plane's
// own namespaces must keep working when the webhook is down.
var AlwaysExcludedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Options say where the webhook is and how failures are handled.
type Options struct {
	// Name of both configuration objects.
	Name string
	// ReleaseNamespace is where ha-webhook runs; it is always excluded so the webhook never gates its own pods.
	ReleaseNamespace string
	// ClientConfig returns how to reach the server for a path (a Service in a cluster, a URL in tests).
	ClientConfig func(path string) admissionregistrationv1.WebhookClientConfig
	// FailurePolicy of the mutating and the validating webhooks (Ignore by default: the webhook must never be the
	// outage).
	MutatingFailurePolicy   admissionregistrationv1.FailurePolicyType
	ValidatingFailurePolicy admissionregistrationv1.FailurePolicyType
	TimeoutSeconds          int32
}

// DefaultOptions match the chart's defaults.
func DefaultOptions() Options {
	return Options{
		Name:                    "ha-webhook",
		ReleaseNamespace:        "ha-webhook",
		MutatingFailurePolicy:   admissionregistrationv1.Ignore,
		ValidatingFailurePolicy: admissionregistrationv1.Ignore,
		TimeoutSeconds:          5,
	}
}

// NamespaceSelector selects opted-in namespaces, never the excluded ones.
func NamespaceSelector(releaseNamespace string) *metav1.LabelSelector {
	return &metav1.LabelSelector{
		MatchLabels: map[string]string{names.LabelEnabled: "true"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key:      "kubernetes.io/metadata.name",
			Operator: metav1.LabelSelectorOpNotIn,
			Values:   append([]string{releaseNamespace}, AlwaysExcludedNamespaces...),
		}},
	}
}

// PodMatchConditions skip, inside the API server, the pods the server would leave alone anyway, so they cost no
// webhook call (and cannot fail on one).
func PodMatchConditions() []admissionregistrationv1.MatchCondition {
	return []admissionregistrationv1.MatchCondition{
		{
			Name:       "not-mirror-pod",
			Expression: `!has(object.metadata.annotations) || !('` + names.AnnotationMirrorPod + `' in object.metadata.annotations)`,
		},
		{
			Name:       "restart-policy-always",
			Expression: `!has(object.spec.restartPolicy) || object.spec.restartPolicy == 'Always'`,
		},
		{
			Name: "not-skipped",
			Expression: `!has(object.metadata.annotations) || !('` + names.AnnotationSkipMutation + `' in object.metadata.annotations)` +
				` || object.metadata.annotations['` + names.AnnotationSkipMutation + `'] != 'true'`,
		},
	}
}

// Mutating is the MutatingWebhookConfiguration: Pods, CREATE only (probes and lifecycle are immutable afterwards).
func Mutating(o Options) *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    names.WebhookMutatePod,
			ClientConfig:            o.ClientConfig(names.PathMutatePod),
			Rules:                   []admissionregistrationv1.RuleWithOperations{rule("", "v1", "pods", admissionregistrationv1.Create)},
			FailurePolicy:           ptr.To(o.MutatingFailurePolicy),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			NamespaceSelector:       NamespaceSelector(o.ReleaseNamespace),
			ObjectSelector:          &metav1.LabelSelector{},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To(o.TimeoutSeconds),
			AdmissionReviewVersions: []string{"v1"},
			// Another webhook may add a container after us; being called again injects into it too.
			ReinvocationPolicy: ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			MatchConditions:    PodMatchConditions(),
		}},
	}
}

// Validating is the ValidatingWebhookConfiguration: Deployments and StatefulSets CREATE/UPDATE, their scale
// subresources UPDATE, PodDisruptionBudgets CREATE/UPDATE/DELETE (a DELETE is never denied: it is seen to warn) and
// HorizontalPodAutoscalers CREATE/UPDATE (autoscaling/v2; matchPolicy Equivalent converts v1 writes to it).
func Validating(o Options) *admissionregistrationv1.ValidatingWebhookConfiguration {
	hook := func(name, path string, r admissionregistrationv1.RuleWithOperations) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name:                    name,
			ClientConfig:            o.ClientConfig(path),
			Rules:                   []admissionregistrationv1.RuleWithOperations{r},
			FailurePolicy:           ptr.To(o.ValidatingFailurePolicy),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			NamespaceSelector:       NamespaceSelector(o.ReleaseNamespace),
			ObjectSelector:          &metav1.LabelSelector{},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To(o.TimeoutSeconds),
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			hook(names.WebhookValidateDeployment, names.PathValidateDeployment,
				rule("apps", "v1", "deployments", admissionregistrationv1.Create, admissionregistrationv1.Update)),
			hook(names.WebhookValidateScale, names.PathValidateScale,
				rule("apps", "v1", "deployments/scale", admissionregistrationv1.Update)),
			hook(names.WebhookValidateStatefulSet, names.PathValidateStatefulSet,
				rule("apps", "v1", "statefulsets", admissionregistrationv1.Create, admissionregistrationv1.Update)),
			hook(names.WebhookValidateStatefulSetScale, names.PathValidateStatefulSetScale,
				rule("apps", "v1", "statefulsets/scale", admissionregistrationv1.Update)),
			hook(names.WebhookValidatePDB, names.PathValidatePDB,
				rule("policy", "v1", "poddisruptionbudgets", admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete)),
			hook(names.WebhookValidateHPA, names.PathValidateHPA,
				rule("autoscaling", "v2", "horizontalpodautoscalers", admissionregistrationv1.Create, admissionregistrationv1.Update)),
		},
	}
}

func rule(group, version, resource string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.RuleWithOperations {
	return admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{group},
			APIVersions: []string{version},
			Resources:   []string{resource},
			Scope:       ptr.To(admissionregistrationv1.NamespacedScope),
		},
	}
}
