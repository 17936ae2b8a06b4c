{{- define "ml-staging.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ml-staging.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (list $ "gateway") */}}
{{- define "ml-staging.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The Secret holding redis' password: one the user names, else the chart's own (templates/redis-secret.yaml). */}}
{{- define "ml-staging.redisSecret" -}}
{{- .Values.redis.auth.existingSecret | default (printf "%s-redis" (include "ml-staging.fullname" .)) -}}
{{- end -}}

{{/* The env var by which the gateway's programs get redis' password (mlchaos.staging.config.REDIS_PASSWORD_ENV). */}}
{{- define "ml-staging.redisPasswordEnv" -}}
- name: MLCHAOS_REDIS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "ml-staging.redisSecret" . }}, key: {{ .Values.redis.auth.secretKey }}}
{{- end -}}

{{- define "ml-staging.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The reference programs listen on 127.0.0.1 only (mlchaos.staging.config.HOST) and reach their dependencies through
toxiproxy on 127.0.0.1. In the cluster, toxiproxy runs beside them in their pod: it listens on loopback for the
gateway's dependencies (upstreams: the redis and primary Services) and exposes the loopback-only programs on the
pod's port. These are the in-pod loopback ports.
*/}}
{{- define "ml-staging.loopbackPorts" -}}
gateway: 8080
primary: 8001
feature_store: 16379
primary_model: 18001
cache: 26379
{{- end -}}
