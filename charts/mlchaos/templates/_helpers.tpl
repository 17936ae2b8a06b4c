{{- define "mlchaos.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mlchaos.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "mlchaos.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mlchaos.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mlchaos.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mlchaos.targetNamespace" -}}
{{- default .Release.Namespace .Values.targetNamespace -}}
{{- end -}}

{{- define "mlchaos.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "mlchaos.reportsClaim" -}}
{{- default (printf "%s-reports" (include "mlchaos.fullname" .)) .Values.reports.persistence.existingClaim -}}
{{- end -}}

{{/* The Secret holding the load secret of distributed load, under the key `secret`. */}}
{{- define "mlchaos.loadSecretName" -}}
{{- default (printf "%s-load-secret" (include "mlchaos.fullname" .)) .Values.loadWorkers.secretName -}}
{{- end -}}

{{/* The suite's telemetry (docs/observability.md): OTEL_* variables as given, the OTLP headers and the path of
Grafana's token from Secrets, Grafana's URL. Nothing when `telemetry` is left unset. */}}
{{- define "mlchaos.telemetryEnv" -}}
{{- range $name, $value := .Values.telemetry.otel }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- with .Values.telemetry.otelHeadersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: headers
{{- end }}
{{- with .Values.telemetry.grafana.url }}
- name: MLCHAOS_GRAFANA_URL
  value: {{ . | quote }}
{{- end }}
{{- if .Values.telemetry.grafana.tokenSecret }}
- name: MLCHAOS_GRAFANA_TOKEN_FILE
  value: /etc/mlchaos-grafana/token
{{- end }}
{{- end -}}

{{/* Publishing (docs/observability.md): the webhook's URL as a file from a Secret (never in the pod's spec or
environment, which child processes inherit), when and how to call it, the Pushgateway's URL. */}}
{{- define "mlchaos.publishEnv" -}}
{{- if .Values.publish.webhook.secretName }}
- name: MLCHAOS_WEBHOOK_URL_FILE
  value: /etc/mlchaos-webhook/url
- name: MLCHAOS_WEBHOOK_WHEN
  value: {{ .Values.publish.webhook.when | quote }}
- name: MLCHAOS_WEBHOOK_FORMAT
  value: {{ .Values.publish.webhook.format | quote }}
{{- end }}
{{- with .Values.publish.pushgatewayUrl }}
- name: MLCHAOS_PUSHGATEWAY_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}
