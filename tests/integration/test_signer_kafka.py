"""The signer worker on a real Kafka broker: requests in, signed results out, committed once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from cbec.contracts.signing import SignRequest, SignResult
from cbec.reference import samples_dir
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import verify_document
from signer_service.application import SignerApp
from signer_service.worker import SignerWorker, WorkerConfig

pytestmark = pytest.mark.integration

TENANT = "1101180326"


def _create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    finally:
        admin.close()


def _consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
    )
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values += [r.value for r in batch]
    finally:
        consumer.close()
    return values


def test_requests_become_signed_results_and_are_committed_once(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    from kafka import KafkaProducer

    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{kafka_topic_prefix}cbec-signer",
        requests_topic=f"{kafka_topic_prefix}cbec.sign.requests",
        results_topic=f"{kafka_topic_prefix}cbec.sign.results",
        dlq_topic=f"{kafka_topic_prefix}cbec.dlq.signer",
        max_poll_records=20,
    )
    _create_topics(kafka_bootstrap, [config.requests_topic, config.results_topic, config.dlq_topic], 2)
    key = SoftwareSM2Key.from_pem(*generate_sm2_identity(TENANT, "物流企业"))
    registry = CertificateRegistry()
    registry.register(TENANT, KeyPool(lambda: key, size=2))

    xml = (samples_dir() / "import" / "CEB511Message.xml").read_bytes()
    requests = [SignRequest.for_xml(f"req-{i}", TENANT, "CEB511", f"ebp:{i % 5}", xml) for i in range(40)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for request in requests + [requests[3]]:  # one redelivered request
        producer.send(config.requests_topic, key=request.clearance_key.encode(), value=request.to_json())
    producer.send(config.requests_topic, key=b"x", value=b"{not json")
    producer.flush()
    producer.close()

    async def sign_all() -> int:
        async with SignerWorker(SignerApp(registry, threads=2), config) as worker:
            deadline = time.monotonic() + 60
            while worker.processed < 42 and time.monotonic() < deadline:
                await worker.process_once()
            return worker.processed

    assert asyncio.run(sign_all()) == 42

    results = [SignResult.from_json(v) for v in _consume_all(kafka_bootstrap, config.results_topic, 41)]
    assert len(results) == 41
    by_id = {r.request_id: r for r in results}
    assert set(by_id) == {r.request_id for r in requests}
    assert all(r.ok and verify_document(r.signed_xml()).ok for r in results)
    assert [r for r in results if r.request_id == "req-3"][0] == [r for r in results if r.request_id == "req-3"][1]
    assert _consume_all(kafka_bootstrap, config.dlq_topic, 1) == [b"{not json"]

    # A new member of the same group starts after the committed offsets: nothing is signed twice.
    async def sign_again() -> int:
        async with SignerWorker(SignerApp(registry), config) as again:
            for _ in range(5):
                await again.process_once()
            return again.processed

    assert asyncio.run(sign_again()) == 0
