// Package names holds ha-webhook's public interface: the labels, annotations, webhook paths and names that users,
// the Helm chart and the server must agree on. Changing a value here is a breaking change.
package names

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

// What the audit inside `serve` writes.
const (
	// LabelManagedBy and ManagedByValue mark the PolicyReports ha-webhook owns, so that it finds (and deletes) its
	// own and never touches another tool's.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByValue = "ha-webhook"
	// AnnotationOmittedResults on a PolicyReport counts the results left out to keep it small.
	AnnotationOmittedResults = Prefix + "omitted-results"
	// EventsController is the reportingController of the Events the audit records.
	EventsController = "ha-webhook.io/audit"
)

// AnnotationMirrorPod marks static pods mirrored by the kubelet; they are never mutated.
const AnnotationMirrorPod = "kubernetes.io/config.mirror"

// Webhook paths, following controller-runtime's generated convention.
const (
	PathMutatePod                = "/mutate--v1-pod"
	PathValidateDeployment       = "/validate-apps-v1-deployment"
	PathValidateScale            = "/validate-apps-v1-deployment-scale"
	PathValidateStatefulSet      = "/validate-apps-v1-statefulset"
	PathValidateStatefulSetScale = "/validate-apps-v1-statefulset-scale"
	PathValidatePDB              = "/validate-policy-v1-poddisruptionbudget"
	PathValidateHPA              = "/validate-autoscaling-v2-horizontalpodautoscaler"
)

// Webhook names as they appear in the webhook configurations.
const (
	WebhookMutatePod                = "pods.ha-webhook.io"
	WebhookValidateDeployment       = "deployments.ha-webhook.io"
	WebhookValidateScale            = "deployments-scale.ha-webhook.io"
	WebhookValidateStatefulSet      = "statefulsets.ha-webhook.io"
	WebhookValidateStatefulSetScale = "statefulsets-scale.ha-webhook.io"
	WebhookValidatePDB              = "poddisruptionbudgets.ha-webhook.io"
	WebhookValidateHPA              = "horizontalpodautoscalers.ha-webhook.io"
)
