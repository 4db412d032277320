"""Small JSON schemas for the custom resources the chart renders (Strimzi KafkaTopic and KafkaUser,
KEDA ScaledObject and TriggerAuthentication, the Prometheus Operator's ServiceMonitor and PrometheusRule,
CloudNativePG's Cluster and ScheduledBackup): apiVersion, kind and the fields their operators require.

Hand-written because no registry package ships these CRDs' schemas; they hold the fields the chart
uses, written from the operators' API references (Strimzi v1beta2, KEDA v1alpha1, Prometheus Operator
v1, CloudNativePG v1)."""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_STRIMZI_METADATA = {
    "type": "object",
    "required": ["name", "labels"],
    "properties": {"name": _NAME, "labels": {"type": "object", "required": ["strimzi.io/cluster"]}},
}


def _resource(api_version: str, kind: str, spec: dict[str, Any],
              metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": metadata or {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
            "spec": spec,
        },
    }


KAFKA_TOPIC = _resource("kafka.strimzi.io/v1beta2", "KafkaTopic", {
    "type": "object",
    "required": ["partitions", "replicas"],
    "additionalProperties": False,
    "properties": {
        "topicName": {"type": "string", "pattern": r"^[a-zA-Z0-9._-]{1,249}$"},
        "partitions": {"type": "integer", "minimum": 1},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
        # Kafka configs are integers, strings or booleans: a float (6.048e+08) is refused
        "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean"]}},
    },
}, _STRIMZI_METADATA)

_ACL = {
    "type": "object",
    "required": ["resource", "operations"],
    "additionalProperties": False,
    "properties": {
        "resource": {
            "type": "object",
            "required": ["type", "name"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                "name": {"type": "string", "minLength": 1},
                "patternType": {"enum": ["literal", "prefix"]},
            },
        },
        "operations": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": ["Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                               "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"]},
        },
        "host": {"type": "string"},
    },
}

KAFKA_USER = _resource("kafka.strimzi.io/v1beta2", "KafkaUser", {
    "type": "object",
    "required": ["authentication", "authorization"],
    "additionalProperties": False,
    "properties": {
        "authentication": {"type": "object", "required": ["type"],
                           "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}}},
        "authorization": {"type": "object", "required": ["type", "acls"], "additionalProperties": False,
                          "properties": {"type": {"const": "simple"}, "acls": {"type": "array", "items": _ACL}}},
    },
}, _STRIMZI_METADATA)

_KAFKA_TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "kafka"},
        "metadata": {
            "type": "object",
            "required": ["bootstrapServers", "consumerGroup", "lagThreshold"],
            "additionalProperties": {"type": "string"},
        },
        "authenticationRef": {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
    },
}

SCALED_OBJECT = _resource("keda.sh/v1alpha1", "ScaledObject", {
    "type": "object",
    "required": ["scaleTargetRef", "triggers", "minReplicaCount", "maxReplicaCount"],
    "additionalProperties": False,
    "properties": {
        "scaleTargetRef": {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": {"type": "integer", "minimum": 0},
        "triggers": {"type": "array", "minItems": 1, "items": _KAFKA_TRIGGER},
    },
})

_TARGET_REF = {"type": "array", "items": {"type": "object", "required": ["parameter", "name", "key"],
                                          "additionalProperties": False,
                                          "properties": {"parameter": {"type": "string"}, "name": _NAME,
                                                         "key": {"type": "string"}}}}

TRIGGER_AUTHENTICATION = _resource("keda.sh/v1alpha1", "TriggerAuthentication", {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"secretTargetRef": _TARGET_REF, "configMapTargetRef": _TARGET_REF},
})

SERVICE_MONITOR = _resource("monitoring.coreos.com/v1", "ServiceMonitor", {
    "type": "object",
    "required": ["selector", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "selector": {"type": "object", "required": ["matchLabels"]},
        "namespaceSelector": {"type": "object", "properties": {"matchNames": {"type": "array",
                                                                               "items": {"type": "string"}}}},
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["port"], "additionalProperties": False,
            "properties": {"port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                           "interval": {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h)$"}}}},
    },
})

_DURATION = {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h|d|w|y)$"}
_RULE = {
    "type": "object",
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "additionalProperties": False,
    "properties": {
        "alert": {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": "string", "minLength": 1},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

PROMETHEUS_RULE = _resource("monitoring.coreos.com/v1", "PrometheusRule", {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {
        "groups": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "rules"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1}, "interval": _DURATION,
                           "rules": {"type": "array", "minItems": 1, "items": _RULE}}}},
    },
})

_SECRET_KEY = {"type": "object", "required": ["name", "key"], "properties": {"name": _NAME, "key": {"type": "string"}}}

CNPG_CLUSTER = _resource("postgresql.cnpg.io/v1", "Cluster", {
    "type": "object",
    "required": ["instances", "storage"],
    "additionalProperties": False,
    "properties": {
        "instances": {"type": "integer", "minimum": 1},
        "imageName": {"type": "string"},
        "storage": {"type": "object", "required": ["size"]},
        "bootstrap": {"type": "object",
                      "properties": {"initdb": {"type": "object", "required": ["database", "owner"]}}},
        "postgresql": {"type": "object", "properties": {
            "parameters": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "backup": {"type": "object", "required": ["barmanObjectStore"], "properties": {
            "retentionPolicy": {"type": "string", "pattern": r"^[1-9][0-9]*[dwm]$"},
            "barmanObjectStore": {"type": "object", "required": ["destinationPath"], "properties": {
                "destinationPath": {"type": "string", "minLength": 1},
                "s3Credentials": {"type": "object", "required": ["accessKeyId", "secretAccessKey"],
                                  "properties": {"accessKeyId": _SECRET_KEY, "secretAccessKey": _SECRET_KEY}}}}}},
    },
})

SCHEDULED_BACKUP = _resource("postgresql.cnpg.io/v1", "ScheduledBackup", {
    "type": "object",
    "required": ["schedule", "cluster"],
    "additionalProperties": False,
    "properties": {
        "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},  # six fields: seconds first
        "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
        "cluster": {"type": "object", "required": ["name"], "properties": {"name": _NAME}},
    },
})

CRD_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    "KafkaTopic": {"kafka.strimzi.io/v1beta2": KAFKA_TOPIC},
    "KafkaUser": {"kafka.strimzi.io/v1beta2": KAFKA_USER},
    "ScaledObject": {"keda.sh/v1alpha1": SCALED_OBJECT},
    "TriggerAuthentication": {"keda.sh/v1alpha1": TRIGGER_AUTHENTICATION},
    "ServiceMonitor": {"monitoring.coreos.com/v1": SERVICE_MONITOR},
    "PrometheusRule": {"monitoring.coreos.com/v1": PROMETHEUS_RULE},
    "Cluster": {"postgresql.cnpg.io/v1": CNPG_CLUSTER},
    "ScheduledBackup": {"postgresql.cnpg.io/v1": SCHEDULED_BACKUP},
}
"""kind → apiVersion → schema: a custom resource of another apiVersion is refused by the test."""
