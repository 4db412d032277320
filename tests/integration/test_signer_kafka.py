"""The signer worker on a real Kafka broker: requests in, signed results out, committed once."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter
from cbec.contracts.signing import SignOutcome, SignRequest, SignResult
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import verify_document
from ceb_samples import samples_dir
from signer_service.application import SignerApp
from signer_service.clients import issue_client
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
        outcomes_prefix=kafka_topic_prefix,
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
    # The waybills' owner gets each outcome without the document, keyed by the clearance.
    owned = f"{kafka_topic_prefix}{topics.feedback('logistics', topics.FEEDBACK_SIGNED)}"
    outcomes = [SignOutcome.from_json(v) for v in _consume_all(kafka_bootstrap, owned, 41)]
    assert {o.request_id for o in outcomes} == set(by_id) and all(o.ok for o in outcomes)
    assert [r for r in results if r.request_id == "req-3"][0] == [r for r in results if r.request_id == "req-3"][1]
    [dead] = [DeadLetter.from_json(v) for v in _consume_all(kafka_bootstrap, config.dlq_topic, 1)]
    assert dead.raw is not None and dead.raw.value == b"{not json" and dead.raw.key == b"x"

    # A new member of the same group starts after the committed offsets: nothing is signed twice.
    async def sign_again() -> int:
        async with SignerWorker(SignerApp(registry), config) as again:
            for _ in range(5):
                await again.process_once()
            return again.processed

    assert asyncio.run(sign_again()) == 0

    # A redelivery reaching a restarted replica (empty cache) gets the result already published.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(config.requests_topic, key=b"ebp:3", value=requests[3].to_json())
    producer.flush()
    producer.close()
    restarted = SignerApp(registry)
    assert asyncio.run(sign_again_with(restarted, config)) == 1
    assert restarted.metrics.signs == 0
    replayed = [SignResult.from_json(v) for v in _consume_all(kafka_bootstrap, config.results_topic, 42)]
    assert len(replayed) == 42
    req3 = [r for r in replayed if r.request_id == "req-3"]
    assert len(req3) == 3 and all(r == by_id["req-3"] for r in req3)  # SM2 is randomised: equal = not re-signed


async def sign_again_with(app: SignerApp, config: WorkerConfig) -> int:
    async with SignerWorker(app, config) as worker:
        deadline = time.monotonic() + 30
        while worker.processed < 1 and time.monotonic() < deadline:
            await worker.process_once()
        return worker.processed


def test_the_service_process_signs_from_kafka_and_over_http(
    kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> None:
    """``signer_service.main.run`` (what ``cbec run signer`` starts), configured only by CBEC_* variables."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx
    from kafka import KafkaProducer

    key_pem, cert_pem = generate_sm2_identity(TENANT, "物流企业")
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    requests_topic, results_topic = f"{kafka_topic_prefix}requests", f"{kafka_topic_prefix}results"
    _create_topics(kafka_bootstrap, [requests_topic, results_topic], 1)
    token, client = issue_client([TENANT], "process test")
    env = {
        **os.environ,
        "CBEC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CBEC_SIGNER_GROUP_ID": f"{kafka_topic_prefix}signer",
        "CBEC_SIGNER_REQUESTS_TOPIC": requests_topic,
        "CBEC_SIGNER_RESULTS_TOPIC": results_topic,
        "CBEC_SIGNER_BACKEND": "software",
        "CBEC_SIGNER_KEY_PEM": str(tmp_path / "key.pem"),
        "CBEC_SIGNER_CERT_PEM": str(tmp_path / "cert.pem"),
        "CBEC_SIGNER_TENANT": TENANT,
        "CBEC_SIGNER_CLIENTS": json.dumps([client.to_json()]),
        "CBEC_SIGNER_HTTP_PORT": str(port),
        "CBEC_SIGNER_HTTP_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen([sys.executable, "-c", "from signer_service.main import run; run()"], env=env)
    try:
        xml = (samples_dir() / "import" / "CEB623Message.xml").read_bytes()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        producer.send(requests_topic, value=SignRequest.for_xml("p1", TENANT, "CEB623", "k", xml).to_json())
        producer.flush()
        producer.close()
        results = [SignResult.from_json(v) for v in _consume_all(kafka_bootstrap, results_topic, 1, timeout=60)]
        assert len(results) == 1 and results[0].ok
        assert verify_document(results[0].signed_xml()).ok

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the HTTP server starts beside the worker
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").json()["ok"]:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        body = {"tenant": TENANT, "xml_b64": SignRequest.for_xml("h", TENANT, "CEB623", "k", xml).xml_b64}
        response = httpx.post(
            f"http://127.0.0.1:{port}/sign",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert "cbec_signer_signs_total 2" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_two_replicas_share_the_partitions_and_lose_nothing(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    from kafka import KafkaProducer

    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{kafka_topic_prefix}cbec-signer",
        requests_topic=f"{kafka_topic_prefix}cbec.sign.requests",
        results_topic=f"{kafka_topic_prefix}cbec.sign.results",
        outcomes_prefix=kafka_topic_prefix,
        max_poll_records=10,
    )
    _create_topics(kafka_bootstrap, [config.requests_topic, config.results_topic], 4)
    key = SoftwareSM2Key.from_pem(*generate_sm2_identity(TENANT, "物流企业"))
    registry = CertificateRegistry()
    registry.register(TENANT, key)
    xml = (samples_dir() / "import" / "CEB513Message.xml").read_bytes()
    requests = [SignRequest.for_xml(f"r{i}", TENANT, "CEB513", f"ebp:{i}", xml) for i in range(80)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for request in requests:
        producer.send(config.requests_topic, key=request.clearance_key.encode(), value=request.to_json())
    producer.flush()
    producer.close()

    async def both() -> list[int]:
        async with SignerWorker(SignerApp(registry), config) as a, SignerWorker(SignerApp(registry), config) as b:
            while not (a.assigned_partitions() and b.assigned_partitions()):  # both joined before work starts
                await asyncio.sleep(0.1)
            deadline = time.monotonic() + 60
            while a.processed + b.processed < len(requests) and time.monotonic() < deadline:
                await asyncio.gather(a.process_once(), b.process_once())
            assert a.assigned_partitions() + b.assigned_partitions() == 4
            return [a.processed, b.processed]

    processed = asyncio.run(both())
    assert all(n > 0 for n in processed)
    results = [SignResult.from_json(v) for v in _consume_all(kafka_bootstrap, config.results_topic, sum(processed))]
    assert {r.request_id for r in results} == {r.request_id for r in requests}
    assert all(r.ok for r in results)
