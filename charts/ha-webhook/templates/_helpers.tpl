{{/* Names. */}}
{{- define "ha-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ha-webhook.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ha-webhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ha-webhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ha-webhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ha-webhook.labels" -}}
helm.sh/chart: {{ include "ha-webhook.chart" . }}
{{ include "ha-webhook.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{- define "ha-webhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ha-webhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the server reads its serving certificate from. */}}
{{- define "ha-webhook.tlsSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" }}
{{- .Values.tls.existingSecret.secretName }}
{{- else }}
{{- printf "%s-tls" (include "ha-webhook.fullname" .) }}
{{- end }}
{{- end }}

{{/* cert-manager objects. */}}
{{- define "ha-webhook.servingCertificateName" -}}
{{- printf "%s-serving" (include "ha-webhook.fullname" .) }}
{{- end }}

{{/* DNS names the API server uses to reach the Service. */}}
{{- define "ha-webhook.dnsNames" -}}
{{- $svc := include "ha-webhook.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{- define "ha-webhook.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The webhook pod's grace period: its own preStop sleep, the shutdown delay and the drain must all fit. */}}
{{/* Seconds from the pod's deletion until serve has exited at the latest: its own preStop sleep, then serving with
readiness false for the shutdown delay and until the API server has closed its idle connections (at most the
client idle timeout + 5 s from SIGTERM), then the drain. */}}
{{- define "ha-webhook.shutdownSeconds" -}}
{{- $s := .Values.server }}
{{- $wait := $s.shutdownDelaySeconds }}
{{- if $s.clientIdleTimeoutSeconds }}
{{- $wait = max $wait (add $s.clientIdleTimeoutSeconds 5) }}
{{- end }}
{{- add $s.preStopSleepSeconds $wait $s.gracefulShutdownTimeoutSeconds }}
{{- end }}

{{- define "ha-webhook.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add (include "ha-webhook.shutdownSeconds" . | int) 5 }}
{{- end }}
{{- end }}

{{/*
The namespaceSelector of every webhook: the user's selector (by default the opt-in label) AND an expression that
always excludes the release namespace and the control plane's namespaces. Same as internal/webhookconfig.
*/}}
{{- define "ha-webhook.namespaceSelector" -}}
{{- $sel := .Values.webhooks.namespaceSelector | default dict }}
{{- $excluded := concat (list .Release.Namespace "kube-system" "kube-public" "kube-node-lease") (.Values.webhooks.excludedNamespaces | default list) | uniq }}
{{- $exclusion := dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" $excluded }}
{{- $out := dict "matchExpressions" (prepend ($sel.matchExpressions | default list) $exclusion) }}
{{- with $sel.matchLabels }}
{{- $_ := set $out "matchLabels" . }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Where the serving certificate is mounted. */}}
{{- define "ha-webhook.certDir" -}}
/etc/ha-webhook/tls
{{- end }}

{{/* The `serve` arguments: one flag per value. */}}
{{- define "ha-webhook.args" -}}
{{- $v := .Values }}
{{- $m := $v.mutation }}
{{- $p := $m.injectedReadinessProbe }}
{{- $args := list "serve"
  (printf "--mode=%v" $v.mode)
  (printf "--prestop-sleep=%v" $m.prestopSleepSeconds)
  (printf "--max-prestop-sleep=%v" $m.maxPrestopSleepSeconds)
  (printf "--max-termination-grace-period=%v" $m.maxTerminationGracePeriodSeconds)
  (printf "--prestop-mode=%v" $m.prestopMode)
  (printf "--native-sleep-recheck-interval=%v" $m.nativeSleepRecheckInterval)
  (printf "--readiness-period-seconds=%v" $p.periodSeconds)
  (printf "--readiness-timeout-seconds=%v" $p.timeoutSeconds)
  (printf "--readiness-failure-threshold=%v" $p.failureThreshold)
  (printf "--readiness-success-threshold=%v" $p.successThreshold)
  (printf "--min-replicas=%v" $v.validation.minReplicas)
  (printf "--allow-exemptions=%v" $v.validation.allowExemptions)
  (printf "--audit-interval=%v" $v.audit.interval)
  (printf "--audit-debounce=%v" $v.audit.debounce)
  (printf "--audit-events=%v" $v.audit.events)
  (printf "--policy-reports=%v" $v.audit.policyReports)
  (printf "--leader-elect=%v" $v.audit.leaderElection)
  (printf "--leader-election-namespace=%v" .Release.Namespace)
  (printf "--leader-election-id=%v-audit" (include "ha-webhook.fullname" .)) }}
{{- with $v.server.webhookHost }}
{{- $args = append $args (printf "--webhook-host=%v" .) }}
{{- end }}
{{- $certKey := "tls.crt" }}
{{- $keyKey := "tls.key" }}
{{- if eq $v.tls.mode "existingSecret" }}
{{- $certKey = $v.tls.existingSecret.certKey }}
{{- $keyKey = $v.tls.existingSecret.keyKey }}
{{- end }}
{{- $metrics := "0" }}
{{- if $v.server.metricsPort }}
{{- $metrics = printf ":%v" $v.server.metricsPort }}
{{- end }}
{{- $args = concat $args (list
  (printf "--webhook-port=%v" $v.server.webhookPort)
  (printf "--webhook-cert-path=%s" (include "ha-webhook.certDir" .))
  (printf "--webhook-cert-name=%v" $certKey)
  (printf "--webhook-key-name=%v" $keyKey)
  (printf "--enable-http2=%v" $v.server.enableHTTP2)
  (printf "--health-probe-bind-address=:%v" $v.server.healthPort)
  (printf "--metrics-bind-address=%v" $metrics)
  (printf "--shutdown-delay=%vs" $v.server.shutdownDelaySeconds)
  (printf "--client-idle-timeout=%vs" $v.server.clientIdleTimeoutSeconds)
  (printf "--max-in-flight=%v" $v.server.maxInFlight)
  (printf "--max-in-flight-wait=%v" $v.server.maxInFlightWait)
  (printf "--graceful-shutdown-timeout=%vs" $v.server.gracefulShutdownTimeoutSeconds)
  (printf "--zap-log-level=%v" $v.logging.level)
  (printf "--zap-encoder=%v" $v.logging.encoder)
  (printf "--zap-devel=%v" $v.logging.development)
  (printf "--zap-stacktrace-level=%v" $v.logging.stacktraceLevel)
  (printf "--zap-time-encoding=%v" $v.logging.timeEncoding)) }}
{{- toYaml (concat $args ($v.extraArgs | default list)) }}
{{- end }}

{{/* cert-manager's cainjector fills caBundle from the serving Certificate's Secret. */}}
{{- define "ha-webhook.webhookAnnotations" -}}
{{- if eq .Values.tls.mode "certManager" -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "ha-webhook.servingCertificateName" .) }}
{{- end }}
{{- end }}

{{/*
The validating webhooks, in internal/webhookconfig.Validating's order (the chart tests compare them): name and path
(internal/names), the key under .Values.webhooks holding its failurePolicy, its one rule, and why it exists (rendered
as a comment). A YAML list, read with fromYamlArray by webhookconfigurations.yaml and _validate.tpl.
*/}}
{{- define "ha-webhook.validatingWebhooks" -}}
- name: deployments.ha-webhook.io
  path: /validate-apps-v1-deployment
  values: deployments
  rule: {apiGroup: apps, apiVersion: v1, resource: deployments, operations: [CREATE, UPDATE]}
  why: Deployments that a drain or a rollout would take down are rejected.
- name: deployments-scale.ha-webhook.io
  path: /validate-apps-v1-deployment-scale
  values: deploymentsScale
  rule: {apiGroup: apps, apiVersion: v1, resource: deployments/scale, operations: [UPDATE]}
  why: "`kubectl scale` and HPAs change replicas through the scale subresource, which the Deployment webhook never sees."
- name: statefulsets.ha-webhook.io
  path: /validate-apps-v1-statefulset
  values: statefulSets
  rule: {apiGroup: apps, apiVersion: v1, resource: statefulsets, operations: [CREATE, UPDATE]}
  why: StatefulSets, by the same rules as Deployments.
- name: statefulsets-scale.ha-webhook.io
  path: /validate-apps-v1-statefulset-scale
  values: statefulSetsScale
  rule: {apiGroup: apps, apiVersion: v1, resource: statefulsets/scale, operations: [UPDATE]}
  why: The StatefulSet scale subresource, as for Deployments.
- name: poddisruptionbudgets.ha-webhook.io
  path: /validate-policy-v1-poddisruptionbudget
  values: podDisruptionBudgets
  rule: {apiGroup: policy, apiVersion: v1, resource: poddisruptionbudgets, operations: [CREATE, UPDATE, DELETE]}
  why: A PDB write that gives a workload a new violation is rejected; a DELETE is never rejected, only warned about.
- name: horizontalpodautoscalers.ha-webhook.io
  path: /validate-autoscaling-v2-horizontalpodautoscaler
  values: horizontalPodAutoscalers
  rule: {apiGroup: autoscaling, apiVersion: v2, resource: horizontalpodautoscalers, operations: [CREATE, UPDATE]}
  why: An HPA whose minReplicas gives a workload a new violation is rejected (matchPolicy Equivalent converts autoscaling/v1 writes).
{{- end }}

{{/* Fields every webhook shares. Takes a dict: root, path, failurePolicy, caBundle. */}}
{{- define "ha-webhook.webhookCommon" -}}
{{- $root := .root -}}
clientConfig:
  service:
    name: {{ include "ha-webhook.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- with .caBundle }}
  caBundle: {{ . }}
  {{- end }}
failurePolicy: {{ .failurePolicy }}
matchPolicy: Equivalent
namespaceSelector:
  {{- include "ha-webhook.namespaceSelector" $root | nindent 2 }}
objectSelector: {}
sideEffects: None
timeoutSeconds: {{ $root.Values.webhooks.timeoutSeconds }}
admissionReviewVersions: ["v1"]
{{- end }}
