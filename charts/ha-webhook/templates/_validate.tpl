{{/*
Contradictory values fail the render with a message that says what to change. values.schema.json checks types and
ranges first; these checks repeat the ones that matter (so they hold with --skip-schema-validation) and add those a
schema cannot express. The server's own start-up checks (internal/server Config.Validate) are the same.
*/}}
{{- define "ha-webhook.validate" -}}
{{- $v := .Values }}
{{- $m := $v.mutation }}
{{- if not (has $v.mode (list "enforce" "audit")) }}
{{- fail (printf "ha-webhook: mode must be enforce or audit, got %q" (toString $v.mode)) }}
{{- end }}
{{- if not (has $m.prestopMode (list "auto" "sleep" "exec")) }}
{{- fail (printf "ha-webhook: mutation.prestopMode must be auto, sleep or exec, got %q" (toString $m.prestopMode)) }}
{{- end }}
{{- if lt (int64 $m.prestopSleepSeconds) 0 }}
{{- fail (printf "ha-webhook: mutation.prestopSleepSeconds must be >= 0, got %v" $m.prestopSleepSeconds) }}
{{- end }}
{{- if gt (int64 $m.prestopSleepSeconds) (int64 $m.maxPrestopSleepSeconds) }}
{{- fail (printf "ha-webhook: mutation.prestopSleepSeconds (%v) must not exceed mutation.maxPrestopSleepSeconds (%v)" $m.prestopSleepSeconds $m.maxPrestopSleepSeconds) }}
{{- end }}
{{- if ge (int64 $m.maxPrestopSleepSeconds) (int64 $m.maxTerminationGracePeriodSeconds) }}
{{- fail (printf "ha-webhook: mutation.maxPrestopSleepSeconds (%v) must be less than mutation.maxTerminationGracePeriodSeconds (%v): the API server rejects a preStop sleep that is not less than the grace period" $m.maxPrestopSleepSeconds $m.maxTerminationGracePeriodSeconds) }}
{{- end }}
{{- if lt (int64 $v.validation.minReplicas) 1 }}
{{- fail (printf "ha-webhook: validation.minReplicas must be >= 1, got %v" $v.validation.minReplicas) }}
{{- end }}
{{- if lt (int64 $v.replicaCount) 1 }}
{{- fail (printf "ha-webhook: replicaCount must be >= 1, got %v (2 or more keeps the webhook available while a replica is replaced)" $v.replicaCount) }}
{{- end }}
{{- if $v.podDisruptionBudget.enabled }}
{{- $min := $v.podDisruptionBudget.minAvailable }}
{{- if and (not (kindIs "string" $min)) (ge (int64 $min) (int64 $v.replicaCount)) }}
{{- fail (printf "ha-webhook: podDisruptionBudget.minAvailable (%v) must be less than replicaCount (%v), or no node could ever be drained" $min $v.replicaCount) }}
{{- end }}
{{- end }}
{{- $t := int64 $v.webhooks.timeoutSeconds }}
{{- if or (lt $t 1) (gt $t 30) }}
{{- fail (printf "ha-webhook: webhooks.timeoutSeconds must be 1-30, got %v" $v.webhooks.timeoutSeconds) }}
{{- end }}
{{- $hooks := list "pods" }}
{{- range include "ha-webhook.validatingWebhooks" . | fromYamlArray }}
{{- $hooks = append $hooks .values }}
{{- end }}
{{- range $hook := $hooks }}
{{- $fp := (index $v.webhooks $hook | default dict).failurePolicy }}
{{- if not (has $fp (list "Ignore" "Fail")) }}
{{- fail (printf "ha-webhook: webhooks.%s.failurePolicy must be Ignore or Fail, got %q" $hook (toString $fp)) }}
{{- end }}
{{- end }}
{{- if has $v.tls.mode (list "certManager" "generate") }}
{{- else if eq $v.tls.mode "existingSecret" }}
{{- if not $v.tls.existingSecret.secretName }}
{{- fail "ha-webhook: tls.mode existingSecret needs tls.existingSecret.secretName (a Secret in the release namespace with the serving certificate and key)" }}
{{- end }}
{{- if not $v.tls.existingSecret.caBundle }}
{{- fail "ha-webhook: tls.mode existingSecret needs tls.existingSecret.caBundle (the PEM of the CA that signed the certificate, or its base64)" }}
{{- end }}
{{- else }}
{{- fail (printf "ha-webhook: tls.mode must be certManager, generate or existingSecret, got %q" (toString $v.tls.mode)) }}
{{- end }}
{{- if hasKey $v "preStopSleepSeconds" }}
{{- fail "ha-webhook: the value preStopSleepSeconds was renamed to server.preStopSleepSeconds (the webhook's own preStop sleep; mutation.prestopSleepSeconds is the one injected into other pods): move it there" }}
{{- end }}
{{- if lt (int64 $v.server.preStopSleepSeconds) 0 }}
{{- fail (printf "ha-webhook: server.preStopSleepSeconds must be >= 0, got %v" $v.server.preStopSleepSeconds) }}
{{- end }}
{{- $auditOff := regexMatch "^(0+(\\.0+)?(ns|us|µs|ms|s|m|h))+$" (toString $v.audit.interval) }}
{{- if and $auditOff $v.audit.policyReports }}
{{- fail (printf "ha-webhook: audit.policyReports needs the audit, but audit.interval is %s (off): set audit.interval (e.g. 10m) or turn policyReports off" (toString $v.audit.interval)) }}
{{- end }}
{{- if regexMatch "^(0+(\\.0+)?(ns|us|µs|ms|s|m|h))+$" (toString $v.audit.debounce) }}
{{- fail "ha-webhook: audit.debounce must be > 0 (e.g. 5s): it is how long a change waits for its audit" }}
{{- end }}
{{- $shutdown := include "ha-webhook.shutdownSeconds" . | int64 }}
{{- if and $v.terminationGracePeriodSeconds (le (int64 $v.terminationGracePeriodSeconds) $shutdown) }}
{{- fail (printf "ha-webhook: terminationGracePeriodSeconds (%v) must be greater than server.preStopSleepSeconds + the longer of server.shutdownDelaySeconds and server.clientIdleTimeoutSeconds + 5 + server.gracefulShutdownTimeoutSeconds (%d), or the webhook is killed mid-request; set it to 0 to compute it" $v.terminationGracePeriodSeconds $shutdown) }}
{{- end }}
{{- $mon := $v.monitoring }}
{{- if and $mon.serviceMonitor.enabled (not $v.server.metricsPort) }}
{{- fail "ha-webhook: monitoring.serviceMonitor.enabled needs the metrics endpoint, but server.metricsPort is 0 (metrics disabled): set server.metricsPort (e.g. 8080) or disable the ServiceMonitor" }}
{{- end }}
{{- if and $mon.prometheusRule.enabled (not $v.server.metricsPort) }}
{{- fail "ha-webhook: monitoring.prometheusRule.enabled needs the metrics endpoint, but server.metricsPort is 0 (metrics disabled): nothing could be scraped and HAWebhookDown would always fire; set server.metricsPort (e.g. 8080) or disable the PrometheusRule" }}
{{- end }}
{{- if and $mon.dashboard.enabled (not $mon.dashboard.sidecarLabel) }}
{{- fail "ha-webhook: monitoring.dashboard.sidecarLabel must not be empty: it is the label Grafana's dashboard sidecar selects ConfigMaps by (e.g. grafana_dashboard)" }}
{{- end }}
{{- end }}
