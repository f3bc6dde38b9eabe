{{/* Names, labels and small computed values shared by the templates. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "tlsaudit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name prefix: fullnameOverride, else the release name, suffixed with the chart name unless it
     already contains it. Truncated to 63 characters (DNS label limit). */}}
{{- define "tlsaudit.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* chart-version, as in the helm.sh/chart label. */}}
{{- define "tlsaudit.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator Pods; never change them in an upgrade (Deployment selectors are
     immutable). */}}
{{- define "tlsaudit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tlsaudit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Labels of every object. */}}
{{- define "tlsaudit.labels" -}}
helm.sh/chart: {{ include "tlsaudit.chart" . }}
{{ include "tlsaudit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tlsaudit
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "tlsaudit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tlsaudit.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator image: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "tlsaudit.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* "true" when leader election is on: explicitly, or by default when more than one replica runs. */}}
{{- define "tlsaudit.leaderElection" -}}
{{- if .Values.sharding.enabled -}}
{{- if eq .Values.leaderElection.enabled true -}}
{{- fail "sharding.enabled and leaderElection.enabled are both true: sharding replaces leader election (every replica audits its share); set leaderElection.enabled to null or false" -}}
{{- end -}}
false
{{- else if kindIs "bool" .Values.leaderElection.enabled -}}
{{- .Values.leaderElection.enabled -}}
{{- else -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}
{{- end -}}

{{/* Name of the leader-election Lease, or the prefix of the sharding member Leases. */}}
{{- define "tlsaudit.leaseName" -}}
{{- default (include "tlsaudit.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* The alert rule groups (files/alerts.yaml rendered with the values). Prometheus templates in that file
     are written [[ ... ]] so that Helm leaves them alone; they become {{ ... }} here. */}}
{{- define "tlsaudit.alertGroups" -}}
{{- tpl (.Files.Get "files/alerts.yaml") . | replace "[[" "{{" | replace "]]" "}}" -}}
{{- end -}}

{{/* A PromQL regular expression matching exactly the finding codes in the list given, for use inside a
     double-quoted PromQL string (so the regexp's backslashes are doubled). */}}
{{- define "tlsaudit.codeRegex" -}}
{{- $quoted := list -}}
{{- range . -}}
{{- $quoted = append $quoted (regexQuoteMeta . | replace "\\" "\\\\") -}}
{{- end -}}
{{- join "|" $quoted -}}
{{- end -}}

{{/* Labels of one alert: its severity, then prometheusRule.additionalLabels, then the alert's own labels.
     Argument: (dict "root" $ "alert" <the alert's values>). */}}
{{- define "tlsaudit.alertLabels" -}}
{{- $labels := merge (dict "severity" .alert.severity) (deepCopy .alert.labels) (deepCopy .root.Values.prometheusRule.additionalLabels) -}}
{{- toYaml $labels -}}
{{- end -}}
