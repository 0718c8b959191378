{{/*
Chart name, or nameOverride.
*/}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<name>, or fullnameOverride. Kept to 63 characters
(DNS label limit); a release name that already contains the chart name is used as is.
*/}}
{{- define "sluice.fullname" -}}
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

{{/*
Per-component names: the full name is cut to 50 characters first so that the suffix always
survives the 63-character limit (otherwise long release names would give two components one name).
*/}}
{{- define "sluice.coordinator.fullname" -}}
{{- printf "%s-coordinator" (include "sluice.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{- define "sluice.agent.fullname" -}}
{{- printf "%s-agent" (include "sluice.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{- define "sluice.migrations.fullname" -}}
{{- printf "%s-migrate" (include "sluice.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels. Call with (dict "ctx" $ "component" "coordinator").
*/}}
{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" .ctx }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}

{{/*
Selector labels (immutable on Deployments: never add to them). Call with
(dict "ctx" $ "component" "coordinator").
*/}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The image, by digest when one is given.
*/}}
{{- define "sluice.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Secret names: the existing one, or the chart-created one.
*/}}
{{- define "sluice.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "sluice.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{- define "sluice.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- printf "%s-auth" (include "sluice.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{- define "sluice.tlsCaSecretName" -}}
{{- default .Values.tls.existingSecret .Values.tls.caSecret }}
{{- end }}

{{/*
The address agents dial: agent.coordinatorAddress, or the coordinator Service's cluster DNS name.
*/}}
{{- define "sluice.coordinatorAddress" -}}
{{- if .Values.agent.coordinatorAddress }}
{{- .Values.agent.coordinatorAddress }}
{{- else }}
{{- printf "%s.%s.svc:%d" (include "sluice.coordinator.fullname" .) .Release.Namespace (int .Values.coordinator.port) }}
{{- end }}
{{- end }}

{{/*
SLUICE_DSN from the database Secret.
*/}}
{{- define "sluice.env.dsn" -}}
- name: SLUICE_DSN
  valueFrom:
    secretKeyRef:
      name: {{ include "sluice.databaseSecretName" . }}
      key: {{ .Values.database.secretKey | quote }}
{{- end }}

{{/*
SLUICE_AUTH_TOKEN from the auth Secret, when auth is enabled.
*/}}
{{- define "sluice.env.authToken" -}}
{{- if .Values.auth.enabled -}}
- name: SLUICE_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "sluice.authSecretName" . }}
      key: {{ .Values.auth.secretKey | quote }}
{{- end }}
{{- end }}

{{/*
One coordinator probe. Call with (dict "ctx" $ "probe" .Values.coordinator.readinessProbe).
The kubelet's gRPC probe has no TLS, so with tls.enabled the probe checks the TCP port instead.
*/}}
{{- define "sluice.coordinator.probe" -}}
{{- if or .ctx.Values.tls.enabled (eq .probe.type "tcp") -}}
tcpSocket:
  port: grpc
{{- else if eq .probe.type "grpc" -}}
grpc:
  port: {{ int .ctx.Values.coordinator.port }}
  service: {{ .probe.service | default "" | quote }}
{{- else }}
{{- fail (printf "coordinator probe type must be grpc or tcp, not %q" .probe.type) }}
{{- end }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}

{{/*
An agent's liveness/readiness probe: its ops listener's /healthz. Argument: agent.ops.probes.
*/}}
{{- define "sluice.agent.healthProbe" -}}
httpGet:
  path: /healthz
  port: ops
periodSeconds: {{ int .periodSeconds }}
timeoutSeconds: {{ int .timeoutSeconds }}
failureThreshold: {{ int .failureThreshold }}
{{- end }}

{{/*
Checks that values fit together; renders nothing. Fails rendering with a message otherwise.
*/}}
{{- define "sluice.validate" -}}
{{- if and (not .Values.database.existingSecret) (not .Values.database.dsn) }}
{{- fail "database: set database.existingSecret (recommended: a Secret holding the PostgreSQL DSN) or database.dsn" }}
{{- end }}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) (not .Values.auth.token) }}
{{- fail "auth: set auth.existingSecret (recommended) or auth.token (e.g. $(openssl rand -hex 32)), or auth.enabled=false to accept unauthenticated calls" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls: tls.enabled needs tls.existingSecret, a Secret with the coordinator's certificate and key" }}
{{- end }}
{{- if le (int .Values.coordinator.terminationGracePeriodSeconds) (int .Values.coordinator.drainSeconds) }}
{{- fail "coordinator.terminationGracePeriodSeconds must be greater than coordinator.drainSeconds (SLUICE_DRAIN_S), or Kubernetes kills the coordinator mid-drain" }}
{{- end }}
{{- if and .Values.agent.enabled (le (int .Values.agent.terminationGracePeriodSeconds) (int .Values.agent.drainTimeoutSeconds)) }}
{{- fail "agent.terminationGracePeriodSeconds must be greater than agent.drainTimeoutSeconds (SLUICE_DRAIN_TIMEOUT_S)" }}
{{- end }}
{{- end }}
