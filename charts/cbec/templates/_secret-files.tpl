{{- /*
The projected sources of a service's /run/secrets/cbec volume: each single-value secret it reads, as the
file its CBEC_*_FILE variable names (workloads.yaml). Empty when the service reads none of them.
*/ -}}
{{- define "cbec.secretFiles" }}
{{- $root := .root }}
{{- $name := .name }}
{{- $sasl := hasPrefix "SASL" $root.Values.kafka.securityProtocol }}
{{- $signer := eq $name "signer" }}
{{- $hsm := and $signer (eq $root.Values.signer.backend "pkcs11") }}
{{- if not $signer }}
- secret:
    name: {{ $root.Values.database.urlSecret.name }}
    items: [{key: {{ $root.Values.database.urlSecret.key }}, path: database-url}]
- secret:
    name: {{ $root.Values.secrets.pii.name }}
    items: [{key: pii-keys, path: pii-keys}, {key: pii-hmac-key, path: pii-hmac-key}]
{{- end }}
{{- if $sasl }}
- secret:
    name: "cbec-{{ $name }}"
    items: [{key: password, path: kafka-password}]
{{- end }}
{{- if eq $name "saga" }}
{{- $hooked := list }}
{{- range $tenant := $root.Values.tenants }}
{{- if $tenant.callbackUrl }}{{ $hooked = append $hooked $tenant.customsCode }}{{ end }}
{{- end }}
{{- if $hooked }}
- secret:
    name: {{ $root.Values.secrets.webhooks.name }}
    items:
      {{- range $code := $hooked }}
      - {key: "{{ $code }}", path: "webhook-secret-{{ $code }}"}
      {{- end }}
{{- end }}
{{- end }}
{{- if $signer }}
{{- if $root.Values.secrets.signerClients.hasToken }}
- secret:
    name: {{ $root.Values.secrets.signerClients.name }}
    items: [{key: token, path: signer-token}]
{{- end }}
{{- if and (eq $root.Values.signer.backend "software") $root.Values.signer.software.hasKeyPassword }}
- secret:
    name: {{ $root.Values.signer.software.secret }}
    items: [{key: key-password, path: signer-key-password}]
{{- end }}
{{- if $hsm }}
- secret:
    name: {{ $root.Values.signer.pkcs11.pinSecret.name }}
    items: [{key: {{ $root.Values.signer.pkcs11.pinSecret.key }}, path: pkcs11-pin}]
{{- end }}
{{- end }}
{{- if and (eq $name "receipts") (or (eq $root.Values.customs.transport "amqp") (contains "amqp" $root.Values.customs.routes)) }}
- secret:
    name: {{ $root.Values.customs.amqp.urlSecret.name }}
    items: [{key: {{ $root.Values.customs.amqp.urlSecret.key }}, path: customs-amqp-url}]
{{- end }}
{{- end }}
