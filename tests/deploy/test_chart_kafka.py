"""Kafka as a platform team runs it: one Strimzi KafkaTopic per topic and one KafkaUser per principal,
equal to `cbec kafka-acls` (cli/cbec_cli/kafka_acls.py) for the same tenants; prod topics with three
replicas and min.insync.replicas 2; KEDA never scales a consumer group past a topic's partitions."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from cbec.tenants import TenantRegistry
from cbec_cli import kafka_acls
from rendered import BUILD_TIMEOUT, CHART, PROFILES, of_kind, render, render_error

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

OPERATIONS = {"Read": "READ", "Write": "WRITE", "Create": "CREATE", "Describe": "DESCRIBE"}
PATTERNS = {"literal": "LITERAL", "prefix": "PREFIXED"}


def tenants_of(profile: str) -> TenantRegistry:
    values = yaml.safe_load((CHART / f"values-{profile}.yaml").read_text(encoding="utf-8"))
    return TenantRegistry.from_json(values["tenants"])


def rendered_grants(docs: tuple[dict[str, Any], ...], *, skip: str = "") -> set[kafka_acls.Grant]:
    found = set()
    for user in of_kind(docs, "KafkaUser"):
        principal = user["metadata"]["name"]
        if principal == skip:
            continue
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            for op in acl["operations"]:
                found.add(kafka_acls.Grant(principal, OPERATIONS[op], resource["type"].upper(), resource["name"],
                                           PATTERNS[resource.get("patternType", "literal")]))
    return found


def test_the_dev_tenants_are_the_test_kit_demo_tenants() -> None:
    from cbec_testkit.tenants import DEMO_TENANTS

    assert tenants_of("dev").all() == TenantRegistry.from_json(DEMO_TENANTS).all()


@pytest.mark.parametrize("profile", PROFILES)
def test_there_is_a_kafka_topic_for_every_topic_of_the_trust_model(profile: str) -> None:
    wanted = {row.topic for row in kafka_acls.trust_table(tenants_of(profile))}
    rendered = {t["spec"]["topicName"] for t in of_kind(render(profile), "KafkaTopic")}
    assert rendered == wanted


def test_kafka_users_carry_exactly_the_acls_of_the_trust_model() -> None:
    tenants = tenants_of("prod")
    docs = render("prod")
    assert rendered_grants(docs, skip="cbec-keda") == set(kafka_acls.grants(tenants))
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    assert users == {*kafka_acls.principals(tenants), "cbec-keda"}
    assert all(u["spec"]["authentication"] == {"type": "scram-sha-512"} for u in of_kind(docs, "KafkaUser"))


def test_the_same_acls_hold_for_the_five_demo_tenants() -> None:
    docs = render("dev", "kafka.strimzi.users=true")
    assert rendered_grants(docs) == set(kafka_acls.grants(tenants_of("dev")))


def test_each_role_is_granted_exactly_its_own_intake_topics() -> None:
    """One tenant per role, so a role missing from (or added to) a topic's senders shows."""
    import json

    from cbec.tenants import Role

    tenants = [{"customsCode": f"31059601{i:02d}", "name": f"T{i}", "roles": [role.value],
                "dxpId": f"DXPENT00000001{i:02d}"} for i, role in enumerate(Role)]
    docs = render("prod", "json:tenants=" + json.dumps(tenants))
    assert rendered_grants(docs, skip="cbec-keda") == set(kafka_acls.grants(TenantRegistry.from_json(tenants)))


def test_a_tenant_code_with_capitals_keeps_its_topic_names_but_gets_no_kafka_user() -> None:
    import json

    tenant = {"customsCode": "3105AB0001", "name": "T", "roles": ["payment"], "dxpId": "DXPENT0000000009"}
    error = render_error("prod", "json:tenants=" + json.dumps([tenant]))
    assert "create this tenant's user and ACLs with `cbec kafka-acls`" in error
    docs = render("prod", "json:tenants=" + json.dumps([tenant]), "kafka.strimzi.users=false")
    topics = {t["metadata"]["name"]: t["spec"]["topicName"] for t in of_kind(docs, "KafkaTopic")}
    assert topics["cbec.in.payment.3105ab0001"] == "cbec.in.payment.3105AB0001"


def test_keda_may_only_describe_cbec_topics_and_groups() -> None:
    [keda] = [u for u in of_kind(render("prod"), "KafkaUser") if u["metadata"]["name"] == "cbec-keda"]
    acls = keda["spec"]["authorization"]["acls"]
    assert {op for acl in acls for op in acl["operations"]} == {"Describe"}


def test_production_topics_have_three_replicas_and_two_in_sync() -> None:
    for topic in of_kind(render("prod"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3, topic["metadata"]["name"]
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, topic["metadata"]["name"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "cbec"


def test_dead_letter_topics_hold_twice_the_largest_message() -> None:
    topics = {t["spec"]["topicName"]: t["spec"]["config"] for t in of_kind(render("prod"), "KafkaTopic")}
    assert topics["cbec.dlq.order"]["max.message.bytes"] == 2 * topics["cbec.order.events"]["max.message.bytes"]


def test_services_do_not_create_topics_in_production() -> None:
    config = next(d for d in of_kind(render("prod"), "ConfigMap") if d["metadata"]["name"] == "cbec-config")
    assert config["data"]["CBEC_KAFKA_CREATE_TOPICS"] == "0"


def scaling_problems(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Every ScaledObject whose maximum exceeds the partitions of a topic its group reads."""
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")}
    tenants_readers = {row.topic: row.readers for row in kafka_acls.trust_table(_tenants_in(docs))}
    problems = []
    for scaled in of_kind(docs, "ScaledObject"):
        service = scaled["spec"]["scaleTargetRef"]["name"]
        read = [t for t, readers in tenants_readers.items() if kafka_acls.service_user(service) in readers]
        assert read, service
        for topic in read:
            if scaled["spec"]["maxReplicaCount"] > partitions[topic]:
                problems.append(f"{service}: {scaled['spec']['maxReplicaCount']} > {partitions[topic]} ({topic})")
    return problems


def _tenants_in(docs: tuple[dict[str, Any], ...]) -> TenantRegistry:
    import json

    [registry] = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"] == "cbec-tenants"]
    return TenantRegistry.from_json(json.loads(registry["data"]["tenants.json"]))


@pytest.mark.parametrize("profile", PROFILES)
def test_keda_never_scales_a_group_past_the_partitions_it_reads(profile: str) -> None:
    scale = [f"services.{s}.autoscaling.{k}" for s in ("signer", "order") for k in ("enabled=true", "minReplicas=1")]
    if profile == "dev":  # two partitions a topic
        scale += ["services.signer.autoscaling.maxReplicas=2", "services.order.autoscaling.maxReplicas=2"]
    docs = render(profile, *scale)
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in of_kind(docs, "ScaledObject")}
    assert {"signer", "order"} <= scaled
    if profile == "prod":
        assert scaled == {"signer", "order", "payment", "logistics", "inventory"}
    assert scaling_problems(docs) == []


def test_the_partition_check_finds_a_maximum_above_a_topic_it_reads() -> None:
    docs = render("prod")
    [signer] = [s for s in of_kind(docs, "ScaledObject") if s["metadata"]["name"] == "signer"]
    too_many = {**signer, "spec": {**signer["spec"], "maxReplicaCount": 13}}
    others = tuple(d for d in docs if d is not signer)
    assert scaling_problems((*others, too_many)) == ["signer: 13 > 12 (cbec.sign.requests)",
                                                     "signer: 13 > 12 (cbec.sign.results)"]


def test_the_chart_refuses_a_maximum_above_the_partitions() -> None:
    error = render_error("prod", "services.signer.autoscaling.maxReplicas=13")
    assert "exceeds the 12 partitions of cbec.sign." in error
    error = render_error("prod", "services.order.autoscaling.maxReplicas=7")
    assert "exceeds the 6 partitions" in error


def test_the_scaled_signer_watches_its_request_lag_over_sasl_ssl() -> None:
    [signer] = [s for s in of_kind(render("prod"), "ScaledObject") if s["metadata"]["name"] == "signer"]
    [trigger] = signer["spec"]["triggers"]
    assert trigger["metadata"]["consumerGroup"] == "cbec-signer"
    assert trigger["metadata"]["topic"] == "cbec.sign.requests"
    assert trigger["metadata"]["sasl"] == "scram_sha512" and trigger["metadata"]["tls"] == "enable"
    assert trigger["authenticationRef"] == {"name": "cbec-keda-kafka"}
