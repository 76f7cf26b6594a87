{{- define "hookgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hookgate.fullname" -}}
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

{{- define "hookgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hookgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hookgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hookgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding database-url, secrets-key and admin-token-hashes. */}}
{{- define "hookgate.secretName" -}}
{{- default (include "hookgate.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "hookgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Roles deployed: api and worker, or all. */}}
{{- define "hookgate.roles" -}}
{{- if eq .Values.mode "all" }}all{{ else }}api worker{{ end }}
{{- end }}

{{/* SIGTERM to SIGKILL: drain delay + shutdown deadline + 10 s for the span export. */}}
{{- define "hookgate.gracePeriod" -}}
{{- if .Values.terminationGracePeriodSeconds }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add (div (add .Values.config.server.drain_delay_ms .Values.config.server.shutdown_timeout_ms) 1000) 10 }}
{{- end }}
{{- end }}

{{/* The credentials, as environment variables read by hookgate's settings. */}}
{{/* Call with (dict "root" $ "secret" <the chart's credentials Secret>). */}}
{{- define "hookgate.databaseUrlEnv" -}}
- name: HOOKGATE__DATABASE__URL
  valueFrom:
    secretKeyRef:
      {{- if .root.Values.secrets.databaseUrlFrom.name }}
      name: {{ .root.Values.secrets.databaseUrlFrom.name }}
      key: {{ .root.Values.secrets.databaseUrlFrom.key }}
      {{- else }}
      name: {{ .secret }}
      key: database-url
      {{- end }}
{{- end }}

{{- define "hookgate.secretEnv" -}}
{{ include "hookgate.databaseUrlEnv" (dict "root" . "secret" (include "hookgate.secretName" .)) }}
- name: HOOKGATE__SECRETS__KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "hookgate.secretName" . }}
      key: secrets-key
- name: HOOKGATE__ADMIN__TOKEN_HASHES
  valueFrom:
    secretKeyRef:
      name: {{ include "hookgate.secretName" . }}
      key: admin-token-hashes
      optional: true
- name: HOOKGATE__SECRETS__PREVIOUS_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "hookgate.secretName" . }}
      key: previous-secrets-keys
      optional: true
{{- end }}

{{/*
A map of settings as TOML. Helm's toToml writes every number as a float (10 becomes 10.0), which
hookgate's integer settings refuse, so whole numbers are written as integers here.
Call with (list "" .Values.config).
*/}}
{{- define "hookgate.toml" -}}
{{- $prefix := index . 0 }}
{{- $table := index . 1 }}
{{- range $key, $value := $table }}
{{- if not (kindIs "map" $value) }}
{{ $key }} = {{ include "hookgate.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $key, $value := $table }}
{{- if kindIs "map" $value }}

[{{ $prefix }}{{ $key }}]
{{- include "hookgate.toml" (list (printf "%s%s." $prefix $key) $value) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hookgate.tomlValue" -}}
{{- if kindIs "string" . }}{{ toJson . }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}{{ if eq (float64 (floor .)) (float64 .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "slice" . }}[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "hookgate.tomlValue" $v }}{{ end }}]
{{- else }}{{ fail (printf "config: cannot write %v as TOML" .) }}
{{- end }}
{{- end }}
