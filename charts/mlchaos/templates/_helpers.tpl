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
