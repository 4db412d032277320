"""The walking skeleton on real parts: an order from Kafka to customs and back, each service its own process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cbec.ceb import dxp
from cbec.ceb.xsd import xsd_errors
from cbec.declaration import lifecycle
from cbec.declaration.doctypes import ORDER
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.xmldsig import verify_document
from cbec_testkit.customs.simulator import dropped_files
from cbec_testkit.samples import declare_orders
from kafka import KafkaProducer
from service_processes import ServiceProcesses, fast_forward, process_env

pytestmark = pytest.mark.integration

SERVICES = ("order", "signer", "receipts", "simulator")


@pytest.fixture
def stack(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[ServiceProcesses]:
    fast_forward(kafka_bootstrap)
    key_pem, cert_pem = generate_sm2_identity("3105960001", "示例跨境电商平台有限公司")
    (tmp_path / "sign.key").write_bytes(key_pem)
    (tmp_path / "sign.cer").write_bytes(cert_pem)
    env = process_env(kafka_bootstrap, database_url, tmp_path,
                      CBEC_SIGNER_KEY_PEM=str(tmp_path / "sign.key"), CBEC_SIGNER_CERT_PEM=str(tmp_path / "sign.cer"),
                      CBEC_SIGNER_TENANT="3105960001", CBEC_SIGNER_BACKEND="software", CBEC_SIMULATOR_DELAY="0.3",
                      CBEC_SIMULATOR_JOURNAL=str(tmp_path / "simulator-journal.txt"))
    running = ServiceProcesses(env, tmp_path / "logs")
    try:
        running.start(*SERVICES)
        yield running
    finally:
        running.stop()


def test_an_order_published_to_kafka_reaches_customs_acceptance(stack: ServiceProcesses, kafka_bootstrap: str,
                                                                database_url: str, tmp_path: Path) -> None:
    commands = declare_orders(3, seed=int(time.time()), start=int(time.time()) % 1_000_000)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for command in commands:
        producer.send("cbec.in.order", key=":".join(ORDER.business_key(command.document)).encode(),
                      value=command.to_json())
    producer.send("cbec.in.order", key=b"garbage", value=b"{not json")
    producer.flush()
    producer.close()

    store = stack.open_store("order")
    keys = [ORDER.business_key(c.document) for c in commands]
    deadline = time.monotonic() + 120
    states: list[lifecycle.Declaration] = []
    while time.monotonic() < deadline:
        states = [lifecycle.fold("CEB311", [(e.type, e.data) for e in store.read(ORDER.stream_id(k))]) for k in keys]
        if all(s.status_code == 120 for s in states):
            break
        time.sleep(0.5)
    logs = stack.tails()
    assert [s.status for s in states] == ["customs accepted (120)"] * 3, logs
    assert all([r.status for r in sorted(s.receipts, key=lambda r: r.time)] == [2, 120] for s in states)

    # Customs got each order exactly once, signed, XSD-valid and named by the seed rule.
    outbox = dropped_files(tmp_path / "dxp/outbox")  # taken by customs (the simulator) by now
    assert len(outbox) == 3
    for path in outbox:
        envelope = dxp.unwrap(path.read_bytes())
        assert xsd_errors(path.read_bytes(), "dxp") == []
        assert xsd_errors(envelope.data, "import") == []
        assert verify_document(envelope.data).ok

    # Personal data is encrypted at rest: no buyer ID number appears in the stored event bytes.
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f'SELECT state FROM "{stack.schema_prefix}order".order_events').fetchall()
    assert rows and not any(c.document["OrderHead"]["buyerIdNumber"].encode() in bytes(r[0])
                            for c in commands for r in rows)

    # The unreadable command was dead-lettered, not dropped (it is kept in the order service's store).
    dead = [e for e in store.notifications(1, 10_000) if e.type == "CommandDeadLettered"]
    assert dead and dead[0].data["errors"][0]["code"] == "CBEC-0001"
    store.close()
    codes = stack.stop()
    assert all(code == 0 for code in codes.values()), codes
