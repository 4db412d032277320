"""Full clearances on real parts: Kafka, Postgres, every service and the customs simulator as processes.

Customs (the simulator) must get each clearance's documents exactly once and in prerequisite order:
order and payment (either order) before the waybill, the waybill before the list, every list of an
entry list before the entry list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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


def _send(kafka_bootstrap: str, commands: list[DeclareDocument]) -> None:
    topics = {code: topic for topic, code in INTAKE_TOPICS.items()}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for command in commands:
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topics[command.doc_type], key=key.encode(), value=command.to_json())
    producer.flush()
    producer.close()


def _export_views(database_url: str, schema: str, keys: list[str]) -> list[dict[str, Any]]:
    store = EventStore.open(database_url, schema=schema, name="saga")
    try:
        return [domain.fold(k, [(e.type, e.data) for e in store.read(stream_of(k))]).view() for k in keys]
    finally:
        store.close()


def _wait_for(what: str, check: Callable[[], bool], processes: CbecUpStack, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    pytest.fail(f"{what} did not happen\n{processes.tails()}", pytrace=False)


def _list_numbers(inbox: Path) -> dict[str, str]:
    """copNo → the invtNo customs gave the list (from the CEB604 receipts the link archived)."""
    out = {}
    for path in inbox.rglob("CEB604*.xml"):
        node = codec.parse(dxp.unwrap(path.read_bytes()).data).docs[0]
        if node.get("invtNo"):
            out[str(node["copNo"])] = str(node["invtNo"])
    return out


def test_export_clearances_go_through_arrival_departure_and_a_summary_in_the_sagas_order(
        processes: CbecUpStack, kafka_bootstrap: str, database_url: str, tmp_path: Path) -> None:
    from cbec_cli.summary import ReleasedList, compose, month_period
    from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, SITE_OPERATOR
    from cbec_testkit.samples import export as samples

    base = int(time.time()) % 100_000
    cases = [samples.ExportClearance(base * 10 + i, mode) for i, mode in enumerate(("9610", "9710"))]
    lists: dict[str, DeclareDocument] = {}
    commands: list[DeclareDocument] = []
    for c in cases:  # the list first, the order last: the saga puts them in order
        lists[c.cop_no] = DeclareDocument(f"l-{c.order_no}", DECLARANT, "CEB603", samples.inventory_document(c))
        commands += [lists[c.cop_no],
                     DeclareDocument(f"w-{c.order_no}", LOGISTICS_COMPANY, "CEB505", samples.waybill_document(c),
                                     order_no=c.order_no, ebc_code=samples.SELLER),
                     DeclareDocument(f"o-{c.order_no}", samples.SELLER, "CEB303", samples.order_document(c))]
    _send(kafka_bootstrap, commands)
    schema = processes.schema_prefix + "saga"
    keys = [c.clearance_key for c in cases]

    def waybills_known() -> bool:
        return all("export-waybill" in v["documents"] for v in _export_views(database_url, schema, keys))

    _wait_for("the waybills declared", waybills_known, processes)
    _send(kafka_bootstrap, [
        DeclareDocument(f"d-{base}", LOGISTICS_COMPANY, "CEB509", samples.departure_document(cases, f"DEP{base}")),
        DeclareDocument(f"a-{base}", SITE_OPERATOR, "CEB507", samples.arrival_document(cases, f"ARR{base}"))])

    def departed() -> bool:
        views = _export_views(database_url, schema, keys)
        return all("departed" in v.get("export", {}).get("milestones", {}) for v in views)

    _wait_for("the departure of every clearance", departed, processes)
    numbers = _list_numbers(tmp_path / "dxp/inbox")
    released = [ReleasedList(numbers[c.cop_no], time.strftime("%Y%m%d%H%M%S"), lists[c.cop_no].document)
                for c in cases]
    start, end = month_period(time.strftime("%Y-%m"))
    [summary] = compose(released, ebc_code=samples.SELLER, start=start, end=end, cop_no=f"SUM{base}")
    _send(kafka_bootstrap, [DeclareDocument(f"s-{base}", DECLARANT, "CEB701", summary)])

    def finished() -> bool:
        return all(v.get("export", {}).get("finished") for v in _export_views(database_url, schema, keys))

    _wait_for("the summary result closing every list", finished, processes)
    arrivals = _arrivals(tmp_path / "simulator-journal.txt", tmp_path / "dxp/outbox")
    types = [t for t, _ in arrivals]
    for c in cases:
        mine = [t for t, doc in arrivals if t in ("CEB303", "CEB505", "CEB603")
                and (BY_CODE[t].head_of(doc).get("orderNo") == c.order_no or doc.get("logisticsNo") == c.logistics_no)]
        assert mine == ["CEB303", "CEB505", "CEB603"], mine  # each once, in the saga's order
    assert [types.count(t) for t in ("CEB507", "CEB509", "CEB701")] == [1, 1, 1]
    assert max(i for i, t in enumerate(types) if t == "CEB603") < types.index("CEB507") < types.index("CEB509") \
        < types.index("CEB701")
    stopped = processes.down()
    assert all(f"{name}: stopped" in stopped for name in PROCESSES), (stopped, processes.tails())
