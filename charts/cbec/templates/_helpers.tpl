{{/* Labels every object carries. */}}
{{- define "cbec.labels" -}}
app.kubernetes.io/part-of: cbec
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "name" "signer"). */}}
{{- define "cbec.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The component label alone, next to "cbec.labels" (which holds the instance already). */}}
{{- define "cbec.name" -}}
app.kubernetes.io/name: {{ .name }}
{{- end }}

{{- define "cbec.kafkaNamespace" -}}
{{ .Values.kafka.resourceNamespace | default .Release.Namespace }}
{{- end }}

{{/* The image of one service, by digest when required: (dict "root" $ "name" "order"). */}}
{{- define "cbec.image" -}}
{{- $images := .root.Values.images -}}
{{- $digest := index $images.digests .name | default "" -}}
{{- if $digest -}}
{{ printf "%s/%s@%s" $images.registry .name $digest }}
{{- else if $images.requireDigest -}}
{{ fail (printf "images.digests.%s is required (images are deployed by digest)" .name) }}
{{- else -}}
{{ printf "%s/%s:%s" $images.registry .name $images.tag }}
{{- end -}}
{{- end }}

{{/* Pod Security "restricted": the pod level. */}}
{{- define "cbec.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod Security "restricted" and a read-only root filesystem: every container. */}}
{{- define "cbec.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* The partitions of one topic: (dict "root" $ "topic" "cbec.sign.requests"). */}}
{{- define "cbec.partitions" -}}
{{- $t := .root.Values.kafka.topics -}}
{{ index $t.partitionsByTopic .topic | default $t.partitions | int64 }}
{{- end }}

{{/*
The trust table of cli/cbec_cli/kafka_acls.py: {rows: [{topic, writers, readers, kind}]}, every principal
named as its Kafka user (cbec-<service>, tenant-<customsCode>). Use: include "cbec.trust" $ | fromYaml.
*/}}
{{- define "cbec.trust" -}}
{{- $trust := .Files.Get "files/trust.yaml" | fromYaml -}}
{{- $tenants := .Values.tenants -}}
rows:
{{- range $service := $trust.declarationServices }}
{{- $user := printf "cbec-%s" $service }}
{{- range $topic := keys $trust.intake | sortAlpha }}
{{- $intake := index $trust.intake $topic }}
{{- if eq $intake.service $service }}
  - {topic: {{ $topic }}, kind: intake, writers: [], readers: [{{ $user }}]}
{{- range $tenant := $tenants }}
{{- $sends := false }}
{{- range $role := $tenant.roles }}{{ if has $role $intake.senders }}{{ $sends = true }}{{ end }}{{ end }}
{{- if $sends }}
  - {topic: {{ printf "%s.%s" $topic $tenant.customsCode }}, kind: intake, writers: [tenant-{{ $tenant.customsCode }}], readers: [{{ $user }}]}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
  - {topic: cbec.{{ $service }}.events, kind: events, writers: [{{ $user }}], readers: [cbec-saga]}
  - {topic: cbec.dlq.{{ $service }}, kind: deadLetters, writers: [{{ $user }}], readers: []}
{{- range $kind := keys $trust.feedback | sortAlpha }}
{{- $fb := index $trust.feedback $kind }}
  - topic: cbec.feedback.{{ $service }}.{{ $kind }}
    kind: feedback
{{- $ws := list }}
{{- range $w := $fb.writers }}{{ $ws = append $ws (printf "cbec-%s" $w) }}{{ end }}
{{- if $fb.owner }}{{ $ws = append $ws $user }}{{ end }}
    writers: {{ $ws | toJson }}
    readers: [{{ $user }}]
{{- end }}
{{- end }}
  - {topic: cbec.in.goods-left, kind: intake, writers: [], readers: [cbec-saga]}
{{- $declaring := list }}
{{- range $s := $trust.declarationServices }}{{ $declaring = append $declaring (printf "cbec-%s" $s) }}{{ end }}
  - {topic: cbec.sign.requests, kind: internal, writers: {{ $declaring | toJson }}, readers: [cbec-signer]}
  - {topic: cbec.sign.results, kind: internal, writers: [cbec-signer], readers: [cbec-receipts, cbec-signer]}
  - {topic: cbec.dlq.signer, kind: deadLetters, writers: [cbec-signer], readers: []}
  - {topic: cbec.out.status, kind: status, writers: [cbec-saga], readers: [cbec-saga]}
  - {topic: cbec.dlq.webhooks, kind: deadLetters, writers: [cbec-saga], readers: []}
  - {topic: cbec.ops.notification-circuits, kind: operations, writers: [cbec-saga], readers: []}
{{- range $tenant := $tenants }}
{{- if has "site_operator" $tenant.roles }}
  - {topic: cbec.in.goods-left.{{ $tenant.customsCode }}, kind: intake, writers: [tenant-{{ $tenant.customsCode }}], readers: [cbec-saga]}
{{- end }}
{{- end }}
{{- range $tenant := $tenants }}
  - {topic: cbec.out.status.{{ $tenant.customsCode }}, kind: status, writers: [cbec-saga], readers: [tenant-{{ $tenant.customsCode }}]}
{{- end }}
{{- end }}

{{/* The services that run: the seven, and (dev) nothing else; the simulator has its own template. */}}
{{- define "cbec.serviceNames" -}}
{{ list "order" "payment" "logistics" "inventory" "signer" "receipts" "saga" | toJson }}
{{- end }}
