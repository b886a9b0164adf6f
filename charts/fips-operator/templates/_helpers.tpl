{{/*
The chart name, or nameOverride.
*/}}
{{- define "fips-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name: fullnameOverride, else the release name when it already
contains the chart name (release fips-operator gives fips-operator), else <release>-<chart>.
*/}}
{{- define "fips-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "fips-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels. helm.sh/chart and managed-by are the only Helm-specific ones (config/ carries
the rest).
*/}}
{{- define "fips-operator.labels" -}}
helm.sh/chart: {{ include "fips-operator.chart" . }}
{{ include "fips-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fips-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fips-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The controller pods (which also serve the webhook).
*/}}
{{- define "fips-operator.controllerSelectorLabels" -}}
{{ include "fips-operator.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "fips-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "fips-operator.probeImage" -}}
{{- default (include "fips-operator.image" .) .Values.probe.image }}
{{- end }}

{{- define "fips-operator.controllerServiceAccount" -}}
{{- printf "%s-controller" (include "fips-operator.fullname" .) }}
{{- end }}

{{- define "fips-operator.probeServiceAccount" -}}
{{- default (printf "%s-probe" (include "fips-operator.fullname" .)) .Values.probe.serviceAccount.name }}
{{- end }}

{{- define "fips-operator.webhookService" -}}
{{- printf "%s-webhook" (include "fips-operator.fullname" .) }}
{{- end }}

{{- define "fips-operator.webhookConfiguration" -}}
{{- default (include "fips-operator.fullname" .) .Values.webhook.configurationName }}
{{- end }}

{{/* The namespace label that routes admission reviews (one key per release). */}}
{{- define "fips-operator.admissionLabel" -}}
{{- printf "admission.fips.operator.dev/%s" (include "fips-operator.fullname" . | trunc 63 | trimSuffix "-") }}
{{- end }}

{{- define "fips-operator.certSecret" -}}
{{- default (printf "%s-webhook-tls" (include "fips-operator.fullname" .)) .Values.webhook.certificates.secretName }}
{{- end }}

{{- define "fips-operator.certificate" -}}
{{- printf "%s-webhook" (include "fips-operator.fullname" .) }}
{{- end }}

{{- define "fips-operator.selfManaged" -}}
{{- if eq .Values.webhook.certificates.mode "selfManaged" }}true{{ end }}
{{- end }}
