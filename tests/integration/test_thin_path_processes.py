"""The walking skeleton on real parts: an order from Kafka to customs and back, each service its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cbec.ceb import dxp
from cbec.ceb.xsd import xsd_errors
from cbec.declaration import lifecycle
from cbec.declaration.doctypes import ORDER
from cbec.sample_orders import declare_orders
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.xmldsig import verify_document
from cbec.store.event_store import EventStore
from kafka import KafkaProducer

pytestmark = pytest.mark.integration

SERVICES = ("order", "signer", "receipts", "simulator")


class Stack:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", name], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        path = self.logs / f"{name}.log"
        while time.monotonic() < deadline:
            text = path.read_text(errors="replace")
            if "ready" in text or "signer started" in text:
                return
            if self.procs[name].poll() is not None:
                pytest.fail(f"{name} exited early:\n{text[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"{name} did not start:\n{path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = None
        return codes


@pytest.fixture
def stack(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    key_pem, cert_pem = generate_sm2_identity("3105960001", "示例跨境电商平台有限公司")
    (tmp_path / "sign.key").write_bytes(key_pem)
    (tmp_path / "sign.cer").write_bytes(cert_pem)
    (tmp_path / "logs").mkdir()
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    env = {**os.environ,
           "CBEC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CBEC_DATABASE_URL": database_url,
           "CBEC_SCHEMA_PREFIX": prefix, "CBEC_DXP_OUTBOX": str(tmp_path / "dxp/outbox"),
           "CBEC_DXP_INBOX": str(tmp_path / "dxp/inbox"), "CBEC_SIGNER_KEY_PEM": str(tmp_path / "sign.key"),
           "CBEC_SIGNER_CERT_PEM": str(tmp_path / "sign.cer"), "CBEC_SIGNER_TENANT": "3105960001",
           "CBEC_SIGNER_BACKEND": "software", "CBEC_SIMULATOR_DELAY": "0.3",
           "CBEC_SIMULATOR_JOURNAL": str(tmp_path / "simulator-journal.txt")}
    running = Stack(env, tmp_path / "logs")
    running.env["CBEC_TEST_SCHEMA_PREFIX"] = prefix
    try:
        for name in SERVICES:
            running.start(name)
        for name in SERVICES:
            running.wait_ready(name)
        yield running
    finally:
        running.stop()


def test_an_order_published_to_kafka_reaches_customs_acceptance(stack: Stack, kafka_bootstrap: str,
                                                                database_url: str, tmp_path: Path) -> None:
    commands = declare_orders(3, seed=int(time.time()), start=int(time.time()) % 1_000_000)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for command in commands:
        producer.send("cbec.in.order", key=":".join(ORDER.business_key(command.document)).encode(),
                      value=command.to_json())
    producer.send("cbec.in.order", key=b"garbage", value=b"{not json")
    producer.flush()
    producer.close()

    store = EventStore.open(database_url, schema=stack.env["CBEC_TEST_SCHEMA_PREFIX"] + "order", name="order")
    keys = [ORDER.business_key(c.document) for c in commands]
    deadline = time.monotonic() + 120
    states: list[lifecycle.Declaration] = []
    while time.monotonic() < deadline:
        states = [lifecycle.fold("CEB311", [(e.type, e.data) for e in store.read(ORDER.stream_id(k))]) for k in keys]
        if all(s.status_code == 120 for s in states):
            break
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in stack.logs.iterdir())
    assert [s.status for s in states] == ["customs accepted (120)"] * 3, logs
    assert all([r.status for r in sorted(s.receipts, key=lambda r: r.time)] == [2, 120] for s in states)

    # Customs got each order exactly once, signed, XSD-valid and named by the seed rule.
    outbox = sorted((tmp_path / "dxp/outbox").glob("*.xml"))
    assert len(outbox) == 3
    for path in outbox:
        envelope = dxp.unwrap(path.read_bytes())
        assert xsd_errors(path.read_bytes(), "dxp") == []
        assert xsd_errors(envelope.data, "import") == []
        assert verify_document(envelope.data).ok

    # The unreadable command was dead-lettered, not dropped (it is kept in the order service's store).
    dead = [e for e in store.notifications(1, 10_000) if e.type == "CommandDeadLettered"]
    assert dead and dead[0].data["errors"][0]["code"] == "CBEC-0001"
    store.close()
    codes = stack.stop()
    assert all(code == 0 for code in codes.values()), codes
    json.dumps(codes)
