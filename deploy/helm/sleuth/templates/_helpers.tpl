{{/* Names and labels shared by every template. */}}

{{- define "sleuth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's objects are named after the release, "sleuth" alone when the release is called so. */}}
{{- define "sleuth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "sleuth.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "sleuth.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "sleuth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sleuth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sleuth.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "sleuth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sleuth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sleuth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the webhook and API tokens: the user's, or the one this chart generates. */}}
{{- define "sleuth.authSecretName" -}}
{{- default (printf "%s-auth" (include "sleuth.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* image by digest when one is given (immutable), else by tag (default: the chart's appVersion). */}}
{{- define "sleuth.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* embedded: SQLite on a volume, one replica, a StatefulSet; external: a shared store, a Deployment. */}}
{{- define "sleuth.embeddedStore" -}}
{{- if eq .Values.store.type "embedded" }}true{{ end }}
{{- end }}

{{/*
Runbook and custom toolset sources, in load order (the chart's own files first,
then each ConfigMap as listed), as a YAML list of {volume, path, configMap,
optional}: templates/configmap.yaml lists the paths in the config and the
workload mounts them. Usage: include "sleuth.mounts" (list . "runbooks").
*/}}
{{- define "sleuth.mounts" -}}
{{- $root := index . 0 }}
{{- $kind := index . 1 }}
{{- $v := index $root.Values $kind }}
{{- $out := list }}
{{- if $v.files }}
{{- $out = append $out (dict "volume" $kind "path" (printf "/etc/sleuth/%s/chart" $kind) "configMap" (printf "%s-%s" (include "sleuth.fullname" $root) $kind) "optional" false) }}
{{- end }}
{{- range $i, $cm := $v.configMaps }}
{{- $out = append $out (dict "volume" (printf "%s-%d" $kind $i) "path" (printf "/etc/sleuth/%s/configmap-%s" $kind $cm.name) "configMap" $cm.name "optional" (default false $cm.optional)) }}
{{- end }}
{{- toYaml $out }}
{{- end }}
