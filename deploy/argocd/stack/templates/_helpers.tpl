{{/* In-cluster service URLs; the names follow from the Applications' release names. */}}
{{- define "stack.vmsingleURL" -}}
http://vmsingle-vm-k8s-stack-victoria-metrics-k8s-stack.{{ .Values.namespaces.monitoring }}.svc:8429
{{- end }}
{{- define "stack.victorialogsURL" -}}
http://victoria-logs-victoria-logs-single-server.{{ .Values.namespaces.logs }}.svc:9428
{{- end }}

{{/* The head every Application shares. Usage: include "stack.app" (list . "name" wave). */}}
{{- define "stack.app" -}}
{{- $root := index . 0 }}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ index . 1 }}
  namespace: {{ $root.Values.argocdNamespace }}
  annotations:
    # CRDs first: the VictoriaMetrics stack brings the operator's, which the later waves use.
    argocd.argoproj.io/sync-wave: {{ index . 2 | quote }}
  finalizers:
    - resources-finalizer.argocd.argoproj.io
{{- end }}
