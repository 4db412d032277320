"""Identity on Kafka, on a real broker with SASL/SCRAM and ACLs (`scripts/kafka-secure.sh`, the
StandardAuthorizer, nothing allowed without an ACL) set up by `cbec kafka-acls` from the tenant registry.

The broker refuses what the JSON `sender` field used to let through: an anonymous or wrongly
authenticated client, a tenant writing another tenant's intake topic or a customs receipt, a tenant
reading the signing or dead-letter topics. The order service, connecting with its own principal,
takes the sender from the tenant's topic and refuses a command naming another enterprise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from cbec.bus.kafka import ensure_topics
from cbec.bus.security import client_options
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.doctypes import ORDER
from cbec.tenants import TenantRegistry
from cbec_cli.kafka_acls import principals, service_user, tenant_user, trust_table
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.samples import parties as p
from cbec_testkit.tenants import DEMO_TENANTS
from conftest import SecureKafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import TopicAuthorizationFailedError
from kafka.structs import TopicPartition
from service_processes import ServiceProcesses, process_env

pytestmark = pytest.mark.integration

OTHER_PLATFORM = "3105960009"  # a second platform: it may declare orders, but only its own
TENANTS = [*DEMO_TENANTS, {**DEMO_TENANTS[0], "customsCode": OTHER_PLATFORM, "name": "另一跨境电商平台有限公司",
                           "dxpId": p.dxp_id(OTHER_PLATFORM), "uscc": p.uscc(OTHER_PLATFORM)}]
REGISTRY = TenantRegistry.from_json(TENANTS)
MY_ORDERS = topics.tenant_intake(topics.IN_ORDER, PLATFORM)
OTHER_ORDERS = topics.tenant_intake(topics.IN_ORDER, OTHER_PLATFORM)


@dataclass(frozen=True)
class Broker:
    """The secure broker with every principal's SCRAM user and ACLs in place."""

    kafka: SecureKafka
    passwords: dict[str, str]

    def options(self, user: str) -> dict[str, Any]:
        return client_options(self.kafka.settings(user, self.passwords[user]))

    def producer(self, user: str) -> KafkaProducer:
        return KafkaProducer(**self.options(user), acks="all", max_block_ms=15_000, bootstrap_timeout_ms=15_000)

    def publish(self, user: str, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Publish as ``user``; raises what the broker answers (TopicAuthorizationFailedError)."""
        producer = self.producer(user)
        try:
            producer.send(topic, value=value, key=key).get(timeout=15)
        finally:
            producer.close(timeout=5)

    def read(self, user: str, *names: str, timeout: float = 10.0, want: bytes = b"") -> list[bytes]:
        """Read every partition of each topic from the start as ``user`` (no consumer group): what the
        broker hands out within ``timeout``, stopping once a message contains ``want``.

        Every partition: the broker serves the whole session, and a topic an earlier test made (the
        production stack's, as the chart's KafkaTopics make them) has several. A topic ``user`` may not
        describe shows it none; then partition 0 is asked for, and the broker hands out nothing."""
        consumer = KafkaConsumer(**self.options(user), enable_auto_commit=False, bootstrap_timeout_ms=15_000)
        try:
            consumer.assign([TopicPartition(topic, partition) for topic in names
                             for partition in sorted(consumer.partitions_for_topic(topic) or {0})])
            consumer.seek_to_beginning()
            values: list[bytes] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not any(want in v for v in values):
                for records in consumer.poll(timeout_ms=500).values():
                    values += [r.value for r in records]
            return values
        finally:
            consumer.close()

    def describe_error(self, user: str, topic: str) -> int:
        """The error code the broker answers ``user``'s request to describe ``topic`` with (0: none)."""
        admin = KafkaAdminClient(**self.options(user), bootstrap_timeout_ms=15_000)
        try:
            [answer] = admin.describe_topics([topic])
            return int(answer["error_code"])
        finally:
            admin.close()


@pytest.fixture(scope="module")
def broker(secure_kafka: SecureKafka, tmp_path_factory: pytest.TempPathFactory) -> Broker:
    """`cbec kafka-acls --passwords FILE` run by the super user on the registry; the topics created."""
    passwords = {user: secrets.token_hex(12) for user in principals(REGISTRY)}
    folder = tmp_path_factory.mktemp("kafka-acls")
    (folder / "tenants.json").write_text(json.dumps(TENANTS), encoding="utf-8")
    (folder / "passwords").write_text("".join(f"{u}={pw}\n" for u, pw in passwords.items()), encoding="utf-8")
    env = {**os.environ, **secure_kafka.env(secure_kafka.admin_user, secure_kafka.admin_password),
           "CBEC_TENANTS_FILE": str(folder / "tenants.json")}
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "kafka-acls", "--passwords",
                           str(folder / "passwords")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ACLs for 14 principals" in done.stdout, done.stdout + done.stderr
    admin = secure_kafka.admin()
    ensure_topics(admin.bootstrap_servers, [row.topic for row in trust_table(REGISTRY)], 1, **client_options(admin))
    return Broker(secure_kafka, passwords)


def order_command(n: int, sender: str = PLATFORM) -> DeclareDocument:
    seed = int(time.time() * 1000) % 1_000_000 + n
    return DeclareDocument(f"kafka-identity-{seed}", sender, "CEB311", order_document(seed, random.Random(seed)))


async def _start_producer(kafka: SecureKafka, **security: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, request_timeout_ms=5000, **security)
    try:
        await producer.start()
    finally:
        await producer.stop()


def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
        broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_start_producer(broker.kafka))  # PLAINTEXT: no SASL handshake, the broker hangs up
    wrong = {**client_options(broker.kafka.settings(tenant_user(PLATFORM), "not-the-password"), "aiokafka")}
    wrong.pop("bootstrap_servers")
    with caplog.at_level(logging.ERROR), pytest.raises(KafkaConnectionError):
        asyncio.run(_start_producer(broker.kafka, **wrong))
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in caplog.text
    right = client_options(broker.kafka.settings(tenant_user(PLATFORM), broker.passwords[tenant_user(PLATFORM)]),
                           "aiokafka")
    right.pop("bootstrap_servers")
    asyncio.run(_start_producer(broker.kafka, **right))  # the same client with its password connects


def test_a_tenant_writes_its_own_intake_topic_and_no_other(broker: Broker) -> None:
    other = tenant_user(OTHER_PLATFORM)
    broker.publish(other, OTHER_ORDERS, order_command(1, OTHER_PLATFORM).to_json())
    for topic in (MY_ORDERS, topics.IN_ORDER):  # the victim's topic, the shared development topic
        with pytest.raises(TopicAuthorizationFailedError):
            broker.publish(other, topic, order_command(2, PLATFORM).to_json())


def test_a_forged_receipt_is_refused_by_the_broker(broker: Broker) -> None:
    forged = json.dumps({"type": "ReceiptReceived", "docType": "CEB311", "businessKey": [PLATFORM, "ORDER-1"],
                         "status": "100", "returnTime": "20991231235959000"}).encode()
    for topic in (topics.SIGN_RESULTS, *topics.feedback_topics("order")):
        with pytest.raises(TopicAuthorizationFailedError):
            broker.publish(tenant_user(PLATFORM), topic, forged)
    receipts = topics.feedback("order", topics.FEEDBACK_RECEIPTS)
    broker.publish(service_user("receipts"), receipts, b"{}")  # the customs link's principal may
    with pytest.raises(TopicAuthorizationFailedError):  # and no other service
        broker.publish(service_user("payment"), receipts, b"{}")


def test_a_tenant_reads_only_its_own_status_topic(broker: Broker) -> None:
    """Signed XML and personal data travel on the signing, event and dead-letter topics: a tenant gets
    none of it (the broker answers TOPIC_AUTHORIZATION_FAILED and hands out no record)."""
    mine = tenant_user(PLATFORM)
    internal = {topics.SIGN_REQUESTS: "order", topics.dead_letters("order"): "order",
                topics.SIGNER_DEAD_LETTERS: "signer", topics.events("order"): "order", topics.STATUS: "saga",
                topics.tenant_status(OTHER_PLATFORM): "saga"}
    for topic, owner in internal.items():
        broker.publish(service_user(owner), topic, b'{"buyerIdNumber": "110101199001011234"}')
        assert broker.describe_error(mine, topic) == TopicAuthorizationFailedError.errno, topic
    assert broker.read(mine, *internal, timeout=3) == []
    assert broker.read(service_user("signer"), topics.SIGN_REQUESTS) != []  # the same read, by its consumer

    broker.publish(service_user("saga"), topics.tenant_status(PLATFORM), b'{"status": "declared"}')
    assert broker.describe_error(mine, topics.tenant_status(PLATFORM)) == 0
    assert b'{"status": "declared"}' in broker.read(mine, topics.tenant_status(PLATFORM))


@pytest.fixture
def order_service(broker: Broker, database_url: str, tmp_path: Path) -> Iterator[ServiceProcesses]:
    """`CBEC_ENV=production cbec run order` connecting as User:cbec-order over SASL/SCRAM."""
    tenants = tmp_path / "tenants.json"
    tenants.write_text(json.dumps(TENANTS), encoding="utf-8")
    user = service_user("order")
    env = process_env(broker.kafka.bootstrap, database_url, tmp_path, CBEC_ENV="production",
                      CBEC_TENANTS_FILE=str(tenants), CBEC_PII_HMAC_KEY="production-test-key",
                      CBEC_READY_FILE=str(tmp_path / "order.ready"), **broker.kafka.env(user, broker.passwords[user]))
    running = ServiceProcesses(env, tmp_path / "logs")
    running.migrate()  # what the chart's hook Job does first
    try:
        running.start("order")
        yield running
    finally:
        running.stop()


def test_the_order_service_takes_the_sender_from_the_tenants_topic(broker: Broker,
                                                                    order_service: ServiceProcesses) -> None:
    assert (order_service.logs.parent / "order.ready").exists()  # it connected with SASL settings
    genuine = order_command(3, PLATFORM)
    forged = order_command(4, PLATFORM)  # names the platform, but the other platform sends it
    broker.publish(tenant_user(PLATFORM), MY_ORDERS, genuine.to_json())
    broker.publish(tenant_user(OTHER_PLATFORM), OTHER_ORDERS, forged.to_json())

    store = order_service.open_store("order")
    try:
        deadline = time.monotonic() + 90
        letters: list[dict[str, Any]] = []
        declared = False
        while time.monotonic() < deadline and not (declared and letters):
            declared = bool(list(store.read(ORDER.stream_id(ORDER.business_key(genuine.document)))))
            letters = [e.data for e in store.notifications(1, 10_000) if e.type == "CommandDeadLettered"
                       and any(error["path"] == "sender" for error in e.data["errors"])]
            time.sleep(0.3)
        assert declared, order_service.tails()
        assert not list(store.read(ORDER.stream_id(ORDER.business_key(forged.document))))
        [letter] = letters  # (the topic also holds the other platform's own order of an earlier story)
        [error] = letter["errors"]
        assert error["code"] == "CBEC-0403" and OTHER_ORDERS in error["message"], letter
    finally:
        store.close()
    # Its outbox relay (aiokafka, idempotent) publishes as cbec-order too: the saga's principal reads it.
    order_no = genuine.document["OrderHead"]["orderNo"].encode()
    assert any(order_no in v for v in broker.read(service_user("saga"), topics.events("order"), timeout=30,
                                                  want=order_no)), order_service.tails()
    assert order_service.stop() == {"order": 0}, order_service.tails()
