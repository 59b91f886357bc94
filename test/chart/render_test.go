package chart

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/webhookconfig"
)

func TestHelmLint(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			file := t.TempDir() + "/values.yaml"
			writeFile(t, file, set.values)
			out, err := helm("lint", "--strict", chartDir, "--namespace", set.namespace, "--kube-version", kubeVersion, "--values", file)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint:\n%s", out)
			}
		})
	}
}

func TestRenderedObjects(t *testing.T) {
	certManager := []string{"Certificate/ha-webhook-ca", "Certificate/ha-webhook-serving", "Issuer/ha-webhook-ca", "Issuer/ha-webhook-selfsigned"}
	common := []string{"ClusterRole/ha-webhook", "ClusterRoleBinding/ha-webhook", "Deployment/ha-webhook",
		"MutatingWebhookConfiguration/ha-webhook", "PodDisruptionBudget/ha-webhook", "ResourceQuota/ha-webhook-critical-pods",
		"Service/ha-webhook", "ServiceAccount/ha-webhook", "ValidatingWebhookConfiguration/ha-webhook"}
	byTLSMode := map[string][]string{
		"certManager":    certManager,
		"generate":       {"Secret/ha-webhook-tls"},
		"existingSecret": nil,
	}
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			want := append(slices.Clone(common), byTLSMode[set.tlsMode]...)
			if set.args["leader-elect"] != "false" {
				want = append(want, "Role/ha-webhook-leader-election", "RoleBinding/ha-webhook-leader-election")
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, m.kinds()); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
			for _, o := range m.Objects {
				clusterScoped := strings.HasPrefix(o.Kind, "Cluster") || strings.HasSuffix(o.Kind, "WebhookConfiguration")
				if !clusterScoped && o.Namespace != set.namespace {
					t.Errorf("%s/%s is in namespace %q, want the release namespace %q", o.Kind, o.Name, o.Namespace, set.namespace)
				}
			}
		})
	}
}

// The rendered configurations must be internal/webhookconfig's, field by field; only clientConfig differs (a
// Service in a cluster) and is checked on its own.
func TestWebhookConfigurationsMatchWebhookconfig(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			gotM := one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration")
			gotV := one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration")

			o := set.webhookOptions()
			o.ClientConfig = func(string) admissionregistrationv1.WebhookClientConfig {
				return admissionregistrationv1.WebhookClientConfig{}
			}
			wantM, wantV := webhookconfig.Mutating(o), webhookconfig.Validating(o)
			for i := range wantM.Webhooks {
				wantM.Webhooks[i].NamespaceSelector = set.wantSelector()
			}
			for i := range wantV.Webhooks {
				wantV.Webhooks[i].NamespaceSelector = set.wantSelector()
			}

			mutating, validating := gotM.DeepCopy(), gotV.DeepCopy()
			for i := range mutating.Webhooks {
				mutating.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
			}
			for i := range validating.Webhooks {
				validating.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
			}
			mutating.ObjectMeta, validating.ObjectMeta = metav1.ObjectMeta{Name: gotM.Name}, metav1.ObjectMeta{Name: gotV.Name}
			if diff := cmp.Diff(wantM, mutating); diff != "" {
				t.Errorf("MutatingWebhookConfiguration differs from webhookconfig.Mutating (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantV, validating); diff != "" {
				t.Errorf("ValidatingWebhookConfiguration differs from webhookconfig.Validating (-want +got):\n%s", diff)
			}

			// clientConfig: the chart's Service on 443, at the server's paths (internal/names, as webhookconfig
			// pairs them).
			wantPaths := webhookPaths(set.webhookOptions())
			gotPaths := map[string]string{}
			check := func(hook string, cc admissionregistrationv1.WebhookClientConfig) {
				if cc.URL != nil || cc.Service == nil {
					t.Errorf("%s: clientConfig must name the Service, got %+v", hook, cc)
					return
				}
				gotPaths[hook] = ptr.Deref(cc.Service.Path, "")
				wantSvc := admissionregistrationv1.ServiceReference{Namespace: set.namespace, Name: releaseName,
					Path: cc.Service.Path, Port: ptr.To[int32](443)}
				if diff := cmp.Diff(wantSvc, *cc.Service); diff != "" {
					t.Errorf("%s: clientConfig.service (-want +got):\n%s", hook, diff)
				}
			}
			for _, w := range gotM.Webhooks {
				check(w.Name, w.ClientConfig)
			}
			for _, w := range gotV.Webhooks {
				check(w.Name, w.ClientConfig)
			}
			if diff := cmp.Diff(wantPaths, gotPaths); diff != "" {
				t.Errorf("webhook paths differ from internal/names (-want +got):\n%s", diff)
			}
		})
	}
}

// webhookPaths maps every webhook of internal/webhookconfig's configurations to the path it calls.
func webhookPaths(o webhookconfig.Options) map[string]string {
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{URL: ptr.To(path)}
	}
	out := map[string]string{}
	for _, w := range webhookconfig.Mutating(o).Webhooks {
		out[w.Name] = *w.ClientConfig.URL
	}
	for _, w := range webhookconfig.Validating(o).Webhooks {
		out[w.Name] = *w.ClientConfig.URL
	}
	return out
}

// The validating webhooks the server serves, each at its path: a webhook missing from internal/webhookconfig (and so
// from the chart) fails here, not only in the comparison above.
func TestEveryValidatingWebhookIsRendered(t *testing.T) {
	want := map[string]string{
		names.WebhookValidateDeployment:       names.PathValidateDeployment,
		names.WebhookValidateScale:            names.PathValidateScale,
		names.WebhookValidateStatefulSet:      names.PathValidateStatefulSet,
		names.WebhookValidateStatefulSetScale: names.PathValidateStatefulSetScale,
		names.WebhookValidatePDB:              names.PathValidatePDB,
		names.WebhookValidateHPA:              names.PathValidateHPA,
	}
	wantResources := map[string]string{
		names.WebhookValidateDeployment:       "apps/v1/deployments CREATE,UPDATE",
		names.WebhookValidateScale:            "apps/v1/deployments/scale UPDATE",
		names.WebhookValidateStatefulSet:      "apps/v1/statefulsets CREATE,UPDATE",
		names.WebhookValidateStatefulSetScale: "apps/v1/statefulsets/scale UPDATE",
		names.WebhookValidatePDB:              "policy/v1/poddisruptionbudgets CREATE,UPDATE,DELETE",
		names.WebhookValidateHPA:              "autoscaling/v2/horizontalpodautoscalers CREATE,UPDATE",
	}
	m := mustRender(t, "ha-webhook", "")
	got, gotResources := map[string]string{}, map[string]string{}
	for _, w := range one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration").Webhooks {
		got[w.Name] = ptr.Deref(w.ClientConfig.Service.Path, "")
		var rules []string
		for _, r := range w.Rules {
			var ops []string
			for _, op := range r.Operations {
				ops = append(ops, string(op))
			}
			rules = append(rules, strings.Join(slices.Concat(r.APIGroups, r.APIVersions, r.Resources), "/")+" "+strings.Join(ops, ","))
		}
		gotResources[w.Name] = strings.Join(rules, "; ")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("validating webhooks and their paths (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantResources, gotResources); diff != "" {
		t.Errorf("validating webhooks' rules (-want +got):\n%s", diff)
	}
}

// Each webhooks.<key>.failurePolicy value sets the failurePolicy of its own webhook and of no other.
func TestFailurePolicyPerWebhook(t *testing.T) {
	keys := map[string]string{
		"pods":                     names.WebhookMutatePod,
		"deployments":              names.WebhookValidateDeployment,
		"deploymentsScale":         names.WebhookValidateScale,
		"statefulSets":             names.WebhookValidateStatefulSet,
		"statefulSetsScale":        names.WebhookValidateStatefulSetScale,
		"podDisruptionBudgets":     names.WebhookValidatePDB,
		"horizontalPodAutoscalers": names.WebhookValidateHPA,
	}
	for key, hook := range keys {
		t.Run(key, func(t *testing.T) {
			m := mustRender(t, "ha-webhook", "webhooks: {"+key+": {failurePolicy: Fail}}\n")
			got := map[string]admissionregistrationv1.FailurePolicyType{}
			for _, w := range one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration").Webhooks {
				got[w.Name] = ptr.Deref(w.FailurePolicy, "")
			}
			for _, w := range one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration").Webhooks {
				got[w.Name] = ptr.Deref(w.FailurePolicy, "")
			}
			want := map[string]admissionregistrationv1.FailurePolicyType{}
			for _, h := range keys {
				want[h] = admissionregistrationv1.Ignore
			}
			want[hook] = admissionregistrationv1.Fail
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("failurePolicy per webhook with webhooks.%s.failurePolicy Fail (-want +got):\n%s", key, diff)
			}
		})
	}
}

// Whatever the user's selector, the release namespace and the control plane's namespaces are never sent to the
// webhook.
func TestNamespaceSelectorAlwaysExcludesSystemAndReleaseNamespaces(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			var selectors map[string]*metav1.LabelSelector = map[string]*metav1.LabelSelector{}
			for _, w := range one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration").Webhooks {
				selectors[w.Name] = w.NamespaceSelector
			}
			for _, w := range one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration").Webhooks {
				selectors[w.Name] = w.NamespaceSelector
			}
			if want := len(webhookPaths(set.webhookOptions())); len(selectors) != want {
				t.Fatalf("want %d webhooks, got %v", want, selectors)
			}
			mustExclude := append([]string{set.namespace}, webhookconfig.AlwaysExcludedNamespaces...)
			for hook, sel := range selectors {
				if sel == nil {
					t.Errorf("%s: no namespaceSelector", hook)
					continue
				}
				for _, ns := range mustExclude {
					if !excludes(sel, ns) {
						t.Errorf("%s: namespaceSelector %v does not exclude namespace %s", hook, sel, ns)
					}
				}
			}
		})
	}
}

// excludes says whether a selector requires kubernetes.io/metadata.name NotIn [..., ns, ...]: no labels a namespace
// called ns can carry will ever match it.
func excludes(sel *metav1.LabelSelector, ns string) bool {
	for _, r := range sel.MatchExpressions {
		if r.Key == corev1.LabelMetadataName && r.Operator == metav1.LabelSelectorOpNotIn && slices.Contains(r.Values, ns) {
			return true
		}
	}
	return false
}

func TestRBACIsLeastPrivilege(t *testing.T) {
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		// The workloads are cached (list, watch), read live behind a scale request (get) and listed live before a
		// denial; never their scale subresources.
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets"}, Verbs: []string{"get", "list", "watch"}},
		// The audit caches Pods and Services; it never gets one alone.
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	// With audit.policyReports, its own PolicyReports: listed and written, never watched.
	policyReports := rbacv1.PolicyRule{APIGroups: []string{"wgpolicyk8s.io"}, Resources: []string{"policyreports"},
		Verbs: []string{"get", "list", "create", "update", "delete"}}
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			role := one[rbacv1.ClusterRole](t, m, "ClusterRole")
			want := want
			if set.args["policy-reports"] == "true" {
				want = append(slices.Clone(want), policyReports)
			}
			if diff := cmp.Diff(want, role.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
			}
			// What the server reads, as the RBAC authorizer would judge it (TestRenderedConfigurationsThroughTheAPIServer
			// runs the server with exactly this role).
			for _, read := range []struct{ group, resource string }{
				{"apps", "deployments"}, {"apps", "statefulsets"}, {"policy", "poddisruptionbudgets"},
				{"autoscaling", "horizontalpodautoscalers"}, {"", "namespaces"},
			} {
				for _, verb := range []string{"get", "list", "watch"} {
					if !allows(role.Rules, read.group, read.resource, verb) {
						t.Errorf("the ClusterRole does not grant %s on %s.%s", verb, read.resource, read.group)
					}
				}
			}
			for _, denied := range []struct{ group, resource, verb string }{
				{"", "pods", "get"}, {"", "pods", "create"}, {"", "services", "get"}, {"", "secrets", "get"}, {"apps", "deployments", "update"}, {"apps", "statefulsets", "patch"},
				{"apps", "deployments/scale", "get"}, {"apps", "statefulsets/scale", "update"}, {"policy", "poddisruptionbudgets", "create"},
			} {
				if allows(role.Rules, denied.group, denied.resource, denied.verb) {
					t.Errorf("the ClusterRole grants %s on %s.%s: more than the server needs", denied.verb, denied.resource, denied.group)
				}
			}
			if role.AggregationRule != nil {
				t.Errorf("aggregationRule %v would grant more", role.AggregationRule)
			}
			binding := one[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding")
			wantBinding := rbacv1.ClusterRoleBinding{
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: releaseName, Namespace: set.namespace}},
			}
			if diff := cmp.Diff(wantBinding.RoleRef, binding.RoleRef); diff != "" {
				t.Errorf("roleRef (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantBinding.Subjects, binding.Subjects); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			// Besides the ClusterRole, only the leader election Lease, in the release namespace.
			roles, bindings := all[rbacv1.Role](t, m, "Role"), all[rbacv1.RoleBinding](t, m, "RoleBinding")
			if set.args["leader-elect"] == "false" { // unset: the chart's default, true
				if len(roles)+len(bindings) != 0 {
					t.Errorf("%d Roles and %d RoleBindings without leader election: the ClusterRole must be all the webhook is granted", len(roles), len(bindings))
				}
			} else {
				if len(roles) != 1 || len(bindings) != 1 {
					t.Fatalf("%d Roles and %d RoleBindings, want the leader election's one each", len(roles), len(bindings))
				}
				wantLease := []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}}
				if diff := cmp.Diff(wantLease, roles[0].Rules); diff != "" || roles[0].Namespace != set.namespace {
					t.Errorf("leader election Role in %q (-want +got):\n%s", roles[0].Namespace, diff)
				}
				if bindings[0].RoleRef.Name != roles[0].Name || bindings[0].Namespace != set.namespace {
					t.Errorf("RoleBinding %s/%s binds %s", bindings[0].Namespace, bindings[0].Name, bindings[0].RoleRef.Name)
				}
				if diff := cmp.Diff(wantBinding.Subjects, bindings[0].Subjects); diff != "" {
					t.Errorf("leader election subjects (-want +got):\n%s", diff)
				}
			}
			dep := one[appsv1.Deployment](t, m, "Deployment")
			if got := dep.Spec.Template.Spec.ServiceAccountName; got != releaseName {
				t.Errorf("serviceAccountName = %q, want the bound %q", got, releaseName)
			}
		})
	}
}

// allows reports whether rules grant verb on resource (a subresource is written "deployments/scale") of group, as
// the RBAC authorizer matches them (with its "*" wildcards).
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	match := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	for _, r := range rules {
		if match(r.APIGroups, group) && match(r.Resources, resource) && match(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func TestDeploymentKeepsItselfAvailable(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			dep := one[appsv1.Deployment](t, m, "Deployment")
			pod := dep.Spec.Template.Spec
			if got := ptr.Deref(dep.Spec.Replicas, 0); got != 2 {
				t.Errorf("replicas = %d, want 2", got)
			}
			wantStrategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}}
			if diff := cmp.Diff(wantStrategy, dep.Spec.Strategy); diff != "" {
				t.Errorf("strategy (-want +got):\n%s", diff)
			}

			pdb := one[policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget")
			if diff := cmp.Diff(ptr.To(intstr.FromInt32(1)), pdb.Spec.MinAvailable); diff != "" {
				t.Errorf("PDB minAvailable (-want +got):\n%s", diff)
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labelsSet(dep.Spec.Template.Labels)) {
				t.Errorf("PDB selector %v does not select the pods %v", pdb.Spec.Selector, dep.Spec.Template.Labels)
			}

			var keys []string
			for _, c := range pod.TopologySpreadConstraints {
				keys = append(keys, c.TopologyKey)
				if c.MaxSkew != 1 || c.LabelSelector == nil || !mustSelector(t, c.LabelSelector).Matches(labelsSet(dep.Spec.Template.Labels)) {
					t.Errorf("topology spread %+v: want maxSkew 1 over the webhook's own pods", c)
				}
			}
			if diff := cmp.Diff([]string{corev1.LabelTopologyZone, corev1.LabelHostname}, keys); diff != "" {
				t.Errorf("topology spread keys (-want +got):\n%s", diff)
			}
			if pod.PriorityClassName != "system-cluster-critical" {
				t.Errorf("priorityClassName = %q", pod.PriorityClassName)
			}

			if len(pod.Containers) != 1 {
				t.Fatalf("want one container, got %d", len(pod.Containers))
			}
			c := pod.Containers[0]
			args := parseArgs(t, c.Args)
			healthPort := strings.TrimPrefix(args["health-probe-bind-address"], ":")
			for probeName, probe := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != probeName {
					t.Errorf("want an httpGet probe on %s, got %+v", probeName, probe)
					continue
				}
				if port := containerPort(c, probe.HTTPGet.Port); port != healthPort {
					t.Errorf("%s probe on port %s, want the --health-probe-bind-address port %s", probeName, port, healthPort)
				}
			}
			if p := containerPort(c, intstr.FromString("webhook")); p != args["webhook-port"] {
				t.Errorf("container port webhook = %s, want --webhook-port %s", p, args["webhook-port"])
			}

			// Own preStop sleep (native), then --shutdown-delay, then the drain: all inside the grace period.
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
				t.Fatalf("want a native preStop sleep, got %+v", c.Lifecycle)
			}
			grace := ptr.Deref(pod.TerminationGracePeriodSeconds, 30)
			sleep := c.Lifecycle.PreStop.Sleep.Seconds
			delay, drain := seconds(t, args["shutdown-delay"]), seconds(t, args["graceful-shutdown-timeout"])
			// After the delay, serve waits for the API server to close its idle connections: at most the client
			// idle timeout + 5 s from SIGTERM.
			if idle := seconds(t, args["client-idle-timeout"]); idle > 0 {
				delay = max(delay, idle+5)
			}
			if sleep != set.wantPreStopSleep() {
				t.Errorf("preStop sleep %d, want server.preStopSleepSeconds %d", sleep, set.wantPreStopSleep())
			}
			if sleep <= 0 || sleep >= grace {
				t.Errorf("preStop sleep %d must be > 0 and < terminationGracePeriodSeconds %d", sleep, grace)
			}
			if want := sleep + delay + drain + 5; grace != want {
				t.Errorf("terminationGracePeriodSeconds %d, want the computed preStop %d + shutdown delay %d + drain %d + 5 = %d",
					grace, sleep, delay, drain, want)
			}
			if delay <= 0 || drain <= 0 {
				t.Errorf("--shutdown-delay %v and --graceful-shutdown-timeout %v must be set", delay, drain)
			}
			if sleep+delay+drain >= grace {
				t.Errorf("terminationGracePeriodSeconds %d must exceed preStop %d + shutdown delay %d + drain %d", grace, sleep, delay, drain)
			}

			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("no %s request", res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("no %s limit", res)
				}
			}
		})
	}
}

// The static half of the restricted check; TestServerSideDryRun has the API server's Pod Security admission judge.
func TestPodSecurityContextRestricted(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			pod := one[appsv1.Deployment](t, m, "Deployment").Spec.Template.Spec
			psc := pod.SecurityContext
			if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) == 0 {
				t.Errorf("pod securityContext must run as a non-root user: %+v", psc)
			}
			if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod seccompProfile must be RuntimeDefault: %+v", psc)
			}
			if pod.HostNetwork || pod.HostPID || pod.HostIPC {
				t.Errorf("host namespaces in use")
			}
			for _, c := range pod.Containers {
				want := &corev1.SecurityContext{
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					RunAsNonRoot:             ptr.To(true),
					ReadOnlyRootFilesystem:   ptr.To(true),
					AllowPrivilegeEscalation: ptr.To(false),
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				}
				if diff := cmp.Diff(want, c.SecurityContext); diff != "" {
					t.Errorf("container %s securityContext (-want +got):\n%s", c.Name, diff)
				}
			}
		})
	}
}

func TestTLS(t *testing.T) {
	for name, set := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := mustRender(t, set.namespace, set.values)
			mutating := one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration")
			validating := one[admissionregistrationv1.ValidatingWebhookConfiguration](t, m, "ValidatingWebhookConfiguration")
			var bundles [][]byte
			for _, w := range mutating.Webhooks {
				bundles = append(bundles, w.ClientConfig.CABundle)
			}
			for _, w := range validating.Webhooks {
				bundles = append(bundles, w.ClientConfig.CABundle)
			}
			secretVolume := ""
			for _, v := range one[appsv1.Deployment](t, m, "Deployment").Spec.Template.Spec.Volumes {
				if v.Secret != nil {
					secretVolume = v.Secret.SecretName
				}
			}
			inject := []string{mutating.Annotations["cert-manager.io/inject-ca-from"], validating.Annotations["cert-manager.io/inject-ca-from"]}
			serviceDNS := releaseName + "." + set.namespace + ".svc"

			switch set.tlsMode {
			case "certManager":
				want := set.namespace + "/ha-webhook-serving"
				if diff := cmp.Diff([]string{want, want}, inject); diff != "" {
					t.Errorf("cert-manager.io/inject-ca-from (-want +got):\n%s", diff)
				}
				for _, b := range bundles {
					if len(b) != 0 {
						t.Errorf("caBundle must be left to cert-manager's cainjector, got %d bytes", len(b))
					}
				}
				checkCertManagerChain(t, m, set.namespace, serviceDNS, secretVolume)
			case "generate":
				secret := one[corev1.Secret](t, m, "Secret")
				if secret.Name != secretVolume || secret.Type != corev1.SecretTypeTLS {
					t.Errorf("generated Secret %s of type %s, want the mounted %s of type %s", secret.Name, secret.Type, secretVolume, corev1.SecretTypeTLS)
				}
				for _, b := range bundles {
					if !bytes.Equal(b, secret.Data["ca.crt"]) {
						t.Errorf("caBundle is not the generated CA")
					}
				}
				verifyServing(t, secret.Data["ca.crt"], secret.Data["tls.crt"], serviceDNS)
			case "existingSecret":
				if secretVolume != "my-serving-cert" {
					t.Errorf("mounted Secret %q, want my-serving-cert", secretVolume)
				}
				for _, b := range bundles {
					if strings.TrimSpace(string(b)) != strings.TrimSpace(testCA) {
						t.Errorf("caBundle = %q, want the CA given in tls.existingSecret.caBundle", b)
					}
				}
			default:
				t.Fatalf("unknown tls mode %q", set.tlsMode)
			}
			if set.tlsMode != "certManager" && (inject[0] != "" || inject[1] != "") {
				t.Errorf("cert-manager.io/inject-ca-from set without cert-manager: %v", inject)
			}
		})
	}
}

// A caBundle value may be the PEM or its base64; both render the same bytes.
func TestExistingSecretCABundleAsBase64(t *testing.T) {
	values := "tls: {mode: existingSecret, existingSecret: {secretName: s, caBundle: " +
		base64.StdEncoding.EncodeToString([]byte(testCA)) + "}}\n"
	m := mustRender(t, "hw-existing", values)
	for _, w := range one[admissionregistrationv1.MutatingWebhookConfiguration](t, m, "MutatingWebhookConfiguration").Webhooks {
		if strings.TrimSpace(string(w.ClientConfig.CABundle)) != strings.TrimSpace(testCA) {
			t.Errorf("caBundle = %q, want the test CA", w.ClientConfig.CABundle)
		}
	}
}

// checkCertManagerChain follows self-signed Issuer → CA Certificate → CA Issuer → serving Certificate.
func checkCertManagerChain(t *testing.T, m manifest, ns, serviceDNS, mountedSecret string) {
	t.Helper()
	type issuerRef struct{ Group, Kind, Name string }
	type certificate struct {
		Metadata struct{ Name string }
		Spec     struct {
			IsCA       bool
			SecretName string
			DNSNames   []string
			IssuerRef  issuerRef
		}
	}
	type issuer struct {
		Metadata struct{ Name string }
		Spec     struct {
			SelfSigned *struct{}
			CA         *struct{ SecretName string }
		}
	}
	certs := map[string]certificate{}
	for _, o := range m.Objects {
		if o.Kind == "Certificate" {
			var c certificate
			if err := jsonUnmarshal(o.JSON, &c); err != nil {
				t.Fatal(err)
			}
			certs[c.Metadata.Name] = c
		}
	}
	issuers := map[string]issuer{}
	for _, o := range m.Objects {
		if o.Kind == "Issuer" {
			var i issuer
			if err := jsonUnmarshal(o.JSON, &i); err != nil {
				t.Fatal(err)
			}
			issuers[i.Metadata.Name] = i
		}
	}
	serving, ok := certs["ha-webhook-serving"]
	if !ok {
		t.Fatalf("no serving Certificate: %v", m.kinds())
	}
	if serving.Spec.SecretName != mountedSecret || !slices.Contains(serving.Spec.DNSNames, serviceDNS) || serving.Spec.IsCA {
		t.Errorf("serving Certificate %+v: want secret %s (mounted) and DNS name %s", serving.Spec, mountedSecret, serviceDNS)
	}
	caIssuer, ok := issuers[serving.Spec.IssuerRef.Name]
	if !ok || serving.Spec.IssuerRef.Kind != "Issuer" || caIssuer.Spec.CA == nil {
		t.Fatalf("serving Certificate's issuer %+v is not a CA Issuer of this chart", serving.Spec.IssuerRef)
	}
	var caCert *certificate
	for _, c := range certs {
		if c.Spec.SecretName == caIssuer.Spec.CA.SecretName {
			caCert = &c
		}
	}
	if caCert == nil || !caCert.Spec.IsCA {
		t.Fatalf("CA Issuer's secret %s comes from no CA Certificate", caIssuer.Spec.CA.SecretName)
	}
	root, ok := issuers[caCert.Spec.IssuerRef.Name]
	if !ok || root.Spec.SelfSigned == nil {
		t.Errorf("CA Certificate is not issued by a self-signed Issuer: %+v", caCert.Spec.IssuerRef)
	}
}

// verifyServing checks that the serving certificate chains to the CA for the Service's DNS name.
func verifyServing(t *testing.T, caPEM, certPEM []byte, dnsName string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("tls.crt holds no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving certificate does not verify for %s: %v", dnsName, err)
	}
}

func TestContradictoryValuesFail(t *testing.T) {
	tests := map[string]struct {
		values string
		// want is the template's own `fail` message (checked with --skip-schema-validation).
		want string
		// schema is what values.schema.json says first, when it catches the mistake; empty means the template's
		// message comes out with schema validation on too.
		schema string
	}{
		"existingSecret without secretName": {
			values: "tls: {mode: existingSecret, existingSecret: {caBundle: abc}}",
			want:   "tls.mode existingSecret needs tls.existingSecret.secretName",
		},
		"existingSecret without caBundle": {
			values: "tls: {mode: existingSecret, existingSecret: {secretName: s}}",
			want:   "tls.mode existingSecret needs tls.existingSecret.caBundle",
		},
		"maxPrestopSleep equal to the grace cap": {
			values: "mutation: {maxPrestopSleepSeconds: 600, maxTerminationGracePeriodSeconds: 600}",
			want:   "mutation.maxPrestopSleepSeconds (600) must be less than mutation.maxTerminationGracePeriodSeconds (600)",
		},
		"maxPrestopSleep above the grace cap": {
			values: "mutation: {maxPrestopSleepSeconds: 120, maxTerminationGracePeriodSeconds: 100}",
			want:   "mutation.maxPrestopSleepSeconds (120) must be less than mutation.maxTerminationGracePeriodSeconds (100)",
		},
		"prestopSleep above maxPrestopSleep": {
			values: "mutation: {prestopSleepSeconds: 130}",
			want:   "mutation.prestopSleepSeconds (130) must not exceed mutation.maxPrestopSleepSeconds (120)",
		},
		"replicaCount 0": {
			values: "replicaCount: 0",
			want:   "replicaCount must be >= 1, got 0",
			schema: "at '/replicaCount': minimum: got 0, want 1",
		},
		"unknown mode": {
			values: "mode: block",
			want:   `mode must be enforce or audit, got "block"`,
			schema: "at '/mode': value must be one of 'enforce', 'audit'",
		},
		"unknown prestop mode": {
			values: "mutation: {prestopMode: lifecycle}",
			want:   `mutation.prestopMode must be auto, sleep or exec, got "lifecycle"`,
			schema: "at '/mutation/prestopMode'",
		},
		"unknown tls mode": {
			values: "tls: {mode: vault}",
			want:   `tls.mode must be certManager, generate or existingSecret, got "vault"`,
			schema: "at '/tls/mode'",
		},
		"unknown failurePolicy": {
			values: "webhooks: {deploymentsScale: {failurePolicy: Retry}}",
			want:   `webhooks.deploymentsScale.failurePolicy must be Ignore or Fail, got "Retry"`,
			schema: "at '/webhooks/deploymentsScale/failurePolicy'",
		},
		"timeout above 30s": {
			values: "webhooks: {timeoutSeconds: 31}",
			want:   "webhooks.timeoutSeconds must be 1-30, got 31",
			schema: "at '/webhooks/timeoutSeconds'",
		},
		"min-replicas 0": {
			values: "validation: {minReplicas: 0}",
			want:   "validation.minReplicas must be >= 1, got 0",
			schema: "at '/validation/minReplicas'",
		},
		"PDB that blocks every drain": {
			values: "replicaCount: 1",
			want:   "podDisruptionBudget.minAvailable (1) must be less than replicaCount (1)",
		},
		"grace period shorter than preStop + delay + drain": {
			values: "terminationGracePeriodSeconds: 100",
			want:   "terminationGracePeriodSeconds (100) must be greater than server.preStopSleepSeconds + the longer of server.shutdownDelaySeconds and server.clientIdleTimeoutSeconds + 5 + server.gracefulShutdownTimeoutSeconds (115)",
		},
		"grace period shorter than a changed own preStop sleep + delay + drain": {
			values: "server: {preStopSleepSeconds: 20, clientIdleTimeoutSeconds: 0}\nterminationGracePeriodSeconds: 45",
			want:   "terminationGracePeriodSeconds (45) must be greater than server.preStopSleepSeconds + the longer of server.shutdownDelaySeconds and server.clientIdleTimeoutSeconds + 5 + server.gracefulShutdownTimeoutSeconds (45)",
		},
		// The webhook's own preStop sleep moved under server; the old top-level key is an error, not silently ignored.
		"the old top-level preStopSleepSeconds": {
			values: "preStopSleepSeconds: 5",
			want:   "the value preStopSleepSeconds was renamed to server.preStopSleepSeconds",
			schema: "additional properties 'preStopSleepSeconds' not allowed",
		},
		"negative own preStop sleep": {
			values: "server: {preStopSleepSeconds: -1}",
			want:   "server.preStopSleepSeconds must be >= 0, got -1",
			schema: "at '/server/preStopSleepSeconds': minimum: got -1, want 0",
		},
		"unknown failurePolicy of the PDB webhook": {
			values: "webhooks: {podDisruptionBudgets: {failurePolicy: Retry}}",
			want:   `webhooks.podDisruptionBudgets.failurePolicy must be Ignore or Fail, got "Retry"`,
			schema: "at '/webhooks/podDisruptionBudgets/failurePolicy'",
		},
		"typo in a value name": {
			values: "mutation: {prestopSleep: 20}",
			schema: "additional properties 'prestopSleep' not allowed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.want != "" {
				_, err := helmTemplate(t, "ha-webhook", tc.values, "--skip-schema-validation")
				if err == nil || !strings.Contains(err.Error(), "ha-webhook: "+tc.want) {
					t.Errorf("helm template --skip-schema-validation: want the failure %q, got %v", tc.want, err)
				}
			}
			want := tc.schema
			if want == "" {
				want = "ha-webhook: " + tc.want
			}
			_, err := helmTemplate(t, "ha-webhook", tc.values)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("helm template: want the failure %q, got %v", want, err)
			}
		})
	}
}
