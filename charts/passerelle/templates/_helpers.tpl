{{/* Common labels of every object. */}}
{{- define "passerelle.labels" -}}
app.kubernetes.io/part-of: passerelle
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
