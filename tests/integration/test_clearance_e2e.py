"""Full clearances on real parts: Kafka, Postgres, every service and the customs simulator as processes.

Customs (the simulator) must get each clearance's documents exactly once and in prerequisite order:
order and payment (either order) before the waybill, the waybill before the list, every list of an
entry list before the entry list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec, dxp
from cbec.contracts.commands import INTAKE_TOPICS, DeclareDocument
from cbec.declaration.doctypes import BY_CODE
from cbec.signing.certs import generate_sm2_identity
from cbec.store.event_store import EventStore
from cbec_testkit.customs.simulator import answered_files
from cbec_testkit.samples import SITE_OPERATOR, declare_clearance, entry_document
from cbec_testkit.tenants import DEMO_TENANTS
from kafka import KafkaProducer
from saga_service import domain
from saga_service.application import stream_of
from service_processes import CbecUpStack, fast_forward, process_env

pytestmark = pytest.mark.integration

PROCESSES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga", "simulator")


@pytest.fixture
def processes(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[CbecUpStack]:
    fast_forward(kafka_bootstrap)
    # The platform HSM signs for every tenant: one SM2 key and certificate each, in the signer's registry.
    keys = tmp_path / "keys"
    keys.mkdir()
    registry = []
    for tenant in DEMO_TENANTS:
        key_pem, cert_pem = generate_sm2_identity(tenant["customsCode"], tenant["name"])
        (keys / f"{tenant['customsCode']}.key").write_bytes(key_pem)
        (keys / f"{tenant['customsCode']}.cer").write_bytes(cert_pem)
        registry.append({"customs_code": tenant["customsCode"], "key_pem": str(keys / f"{tenant['customsCode']}.key"),
                         "cert_pem": str(keys / f"{tenant['customsCode']}.cer")})
    (keys / "tenants.json").write_text(json.dumps(registry), encoding="utf-8")
    env = process_env(kafka_bootstrap, database_url, tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
                      DATABASE_URL=database_url, CBEC_SIMULATOR_DELAY="0.2",
                      CBEC_SIMULATOR_JOURNAL=str(tmp_path / "simulator-journal.txt"), CBEC_TOPIC_PARTITIONS="2",
                      CBEC_SAGA_RECEIPT_TIMEOUT="60", CBEC_SIGNER_TENANTS_FILE=str(keys / "tenants.json"),
                      CBEC_SIGNER_BACKEND="software")
    running = CbecUpStack(env, tmp_path)  # the developer's launcher: `cbec up` / `cbec down`
    try:
        running.up(*PROCESSES)
        yield running
    finally:
        running.down()


def _arrivals(journal: Path, outbox: Path) -> list[tuple[str, dict[str, Any]]]:
    """What the simulator answered, in its order: (message type, document)."""
    out = []
    for path in answered_files(journal, outbox):
        msg = codec.parse(dxp.unwrap(path.read_bytes()).data)
        out += [(msg.type, doc) for doc in msg.docs]
    return out


def test_clearances_reach_release_with_each_document_sent_once_in_prerequisite_order(
        processes: CbecUpStack, kafka_bootstrap: str, database_url: str, tmp_path: Path) -> None:
    base = int(time.time()) % 1_000_000
    clearances = [declare_clearance(base + i, trade_mode="9610" if i % 2 else "1210") for i in range(3)]
    waybills = [c[2].document for i, c in enumerate(clearances) if i % 2]
    entry = DeclareDocument("cmd-entry", SITE_OPERATOR, "CEB711", entry_document(waybills, f"E{base}"))
    topics = {code: topic for topic, code in INTAKE_TOPICS.items()}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for command in [entry, *(c for commands in clearances for c in reversed(commands))]:
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topics[command.doc_type], key=key.encode(), value=command.to_json())
    producer.flush()
    producer.close()

    keys = [f"{c[0].document['OrderHead']['ebpCode']}:{c[0].document['OrderHead']['orderNo']}" for c in clearances]
    store = EventStore.open(database_url, schema=processes.schema_prefix + "saga", name="saga")
    deadline = time.monotonic() + 240
    views: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        states = [domain.fold(k, [(e.type, e.data) for e in store.read(stream_of(k))]) for k in keys]
        views = [s.view() for s in states]
        if all(s.docs.get("inventory") and s.docs["inventory"].status_code == 800 for s in states):
            break
        time.sleep(1.0)
    store.close()
    if not all(v["documents"].get("inventory", {}).get("statusCode") == 800 for v in views):
        seen = {v["clearanceKey"]: {k: d["status"] for k, d in v["documents"].items()} for v in views}
        pytest.fail(f"not all clearances released: {seen}\n{processes.tails()}", pytrace=False)

    arrivals = _arrivals(tmp_path / "simulator-journal.txt", tmp_path / "dxp/outbox")
    for commands in clearances:
        order_no = commands[0].document["OrderHead"]["orderNo"]
        mine = [t for t, doc in arrivals if BY_CODE[t].head_of(doc).get("orderNo") == order_no]
        assert sorted(mine) == ["CEB311", "CEB411", "CEB511", "CEB621"], mine  # each exactly once
        assert set(mine[:2]) == {"CEB311", "CEB411"} and mine[2:] == ["CEB511", "CEB621"], mine
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "CEB711" not in [t for t, _ in arrivals]:
        time.sleep(1.0)
        arrivals = _arrivals(tmp_path / "simulator-journal.txt", tmp_path / "dxp/outbox")
    types = [t for t, _ in arrivals]
    assert types.count("CEB711") == 1
    listed = [i for i, (t, doc) in enumerate(arrivals) if t == "CEB621"
              and doc["InventoryHead"]["logisticsNo"] in {w["LogisticsHead"]["logisticsNo"] for w in waybills}]
    assert max(listed) < types.index("CEB711")
    stopped = processes.down()
    assert all(f"{name}: stopped" in stopped for name in PROCESSES), (stopped, processes.tails())
