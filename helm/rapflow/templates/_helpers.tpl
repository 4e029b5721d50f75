{{/* Names, labels and the environment every rapflow container shares. */}}

{{- define "rapflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rapflow.fullname" -}}
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

{{- define "rapflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "rapflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rapflow
{{- end }}

{{/* Selector labels of one component: include with (dict "root" $ "component" "consumer"). */}}
{{- define "rapflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rapflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "rapflow.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The registry rapflow talks to: the chart's Apicurio, or registry.url. */}}
{{- define "rapflow.registryUrl" -}}
{{- if .Values.registry.deploy -}}
http://{{ include "rapflow.fullname" . }}-registry:8080/apis/ccompat/v7
{{- else -}}
{{ required "registry.url is required when registry.deploy is false" .Values.registry.url }}
{{- end }}
{{- end }}

{{/* host:port of s3.endpoint, as Argo's artifact repository and event source want it. */}}
{{- define "rapflow.s3HostPort" -}}
{{- .Values.s3.endpoint | trimPrefix "https://" | trimPrefix "http://" | trimSuffix "/" }}
{{- end }}

{{/* Where MinIO posts bucket events: the EventSource's webhook behind its Service (events.source webhook). */}}
{{- define "rapflow.eventsWebhookUrl" -}}
{{- printf "http://rap-inbox-eventsource-svc.%s.svc:%d/inbox" .Release.Namespace (int .Values.events.webhook.port) -}}
{{- end }}

{{- define "rapflow.s3Insecure" -}}
{{- not (hasPrefix "https://" .Values.s3.endpoint) }}
{{- end }}

{{/* Where the Kafka cluster CA is mounted (KAFKA_TLS_CA_FILE). */}}
{{- define "rapflow.kafkaCaDir" -}}
/etc/rapflow/kafka-ca
{{- end }}

{{/*
Environment of a rapflow container: the shared ConfigMap, then the credentials of `user`
(a KafkaUser name, or "" for commands that do not use Kafka).
Include with (dict "root" $ "user" "rapflow-split").
*/}}
{{- define "rapflow.env" -}}
- name: S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.s3.existingSecret }}
      key: {{ .root.Values.s3.accessKeyKey }}
- name: S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.s3.existingSecret }}
      key: {{ .root.Values.s3.secretKeyKey }}
- name: CASSANDRA_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.cassandra.existingSecret }}
      key: {{ .root.Values.cassandra.usernameKey }}
- name: CASSANDRA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.cassandra.existingSecret }}
      key: {{ .root.Values.cassandra.passwordKey }}
{{- if and .user .root.Values.kafka.saslMechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .root.Values.kafka.saslMechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ .user }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .user }}
      key: password
{{- end }}
{{- end }}

{{/* The Kafka CA volume and its mount, when the listener speaks TLS. */}}
{{- define "rapflow.kafkaCaVolume" -}}
{{- if .Values.kafka.tls -}}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}

{{- define "rapflow.kafkaCaMount" -}}
{{- if .Values.kafka.tls -}}
- name: kafka-ca
  mountPath: {{ include "rapflow.kafkaCaDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* Container security of every rapflow container: no root, nothing writable but mounted volumes. */}}
{{- define "rapflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "rapflow.podSecurityContext" -}}
runAsNonRoot: true
# The distroless image's `nonroot` user.
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Retry a step only when rapflow exited 75 (a service was unavailable), with doubling backoff. */}}
{{- define "rapflow.retry" -}}
limit: {{ .Values.workflow.retryLimit | quote }}
retryPolicy: Always
expression: asInt(lastRetry.exitCode) == 75
backoff:
  duration: {{ .Values.workflow.retryBackoff | quote }}
  factor: 2
  maxDuration: 15m
{{- end }}

{{- define "rapflow.stepSecurity" -}}
resources:
  requests: { cpu: 10m, memory: 32Mi }
  limits: { memory: 64Mi }
securityContext:
  {{- include "rapflow.containerSecurityContext" . | nindent 2 }}
{{- end }}

{{/*
The rest of a workflow step's container: settings, credentials, RUN_ID, resources, security, the
work volume and the Kafka CA. Include with (dict "root" $ "user" "<KafkaUser or empty>" "runId" "<Argo expression>").
*/}}
{{- define "rapflow.stepContainer" -}}
envFrom:
  - configMapRef:
      name: {{ include "rapflow.fullname" .root }}-config
env:
  - name: RUN_ID
    value: {{ .runId | squote }}
  {{- include "rapflow.env" (dict "root" .root "user" .user) | nindent 2 }}
resources:
  {{- toYaml .root.Values.workflow.resources | nindent 2 }}
securityContext:
  {{- include "rapflow.containerSecurityContext" .root | nindent 2 }}
volumeMounts:
  - name: work
    mountPath: /work
  {{- include "rapflow.kafkaCaMount" .root | nindent 2 }}
{{- end }}
