"""The customs link over either transport: sends once, keeps every receipt once, correlates CEB900s."""

from __future__ import annotations

import base64
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cbec.ceb import codec
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.customs.http_link import HttpGatewayLink
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import ORDER
from cbec_testkit.customs.gateway import fake_gateway
from cbec_testkit.customs.simulator import CustomsSimulator, Verdict
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import declare_orders
from cbec_testkit.tenants import demo_registry
from receipts_service.application import RECEIPT_RECEIVED, TRANSMITTED, CustomsLinkApp


def _signed_result(n: int, xml: bytes | None = None) -> SignResult:
    document = declare_orders(1, start=n)[0].document
    document["OrderHead"].update(guid=f"{n:08d}-0000-0000-0000-000000000000", appType="1",
                                 appTime="20261124100000", appStatus="2")
    xml = xml if xml is not None else ceb_bridge.render(ORDER, document, {
        "copCode": "3105960001", "copName": "示例", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"})
    return SignResult(f"CEB311:stream-{n}:2", "3105960001", "CEB311", f"3105960001:DEMO{n:08d}", True,
                      base64.b64encode(xml).decode())


def _events(store: InMemoryDeclarationStore, event_type: str) -> list[dict[str, Any]]:
    return [data for _, _, t, data in store.log if t == event_type]


def _simulator(root: Path) -> CustomsSimulator:
    return CustomsSimulator(root / "outbox", root / "inbox", verify=lambda xml: Verdict(True),
                            rng=random.Random(3))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "inbox").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake_gateway(tmp_path / "outbox", tmp_path / "inbox"),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def test_documents_go_out_and_receipts_come_back_over_the_http_gateway(tmp_path: Path, gateway: str) -> None:
    store = InMemoryDeclarationStore()
    link = HttpGatewayLink(gateway, "DXPENT0000000001")
    app = CustomsLinkApp(store, link, demo_registry())
    simulator = _simulator(tmp_path)
    assert app.transmit(_signed_result(1)) is not None
    assert app.transmit(_signed_result(1)) is None  # the same request twice is sent once
    simulator.poll()
    assert [a[1] for a in simulator.arrivals] == ["CEB311"]
    assert app.poll_inbox() == 2
    assert app.poll_inbox() == 0  # fetched again: nothing new
    receipts = _events(store, RECEIPT_RECEIVED)
    assert sorted(r["return_status"] for r in receipts) == [2, 120]
    assert {tuple(r["business_key"]) for r in receipts} == {("3105960001", "DEMO00000001")}
    link.close()


def test_a_ceb900_is_correlated_to_its_transmission_by_cop_msg_id(tmp_path: Path) -> None:
    store = InMemoryDeclarationStore()
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")
    app = CustomsLinkApp(store, link, demo_registry())
    simulator = _simulator(tmp_path)
    app.transmit(_signed_result(2, xml=b"<CEB311Message>not the schema</CEB311Message>"))
    simulator.poll()
    app.poll_inbox()
    [receipt] = _events(store, RECEIPT_RECEIVED)
    [sent] = _events(store, TRANSMITTED)
    assert receipt["receipt_type"] == "CEB900" and receipt["return_status"] == 2
    assert receipt["business_key"] == [sent["cop_msg_id"]]
    assert receipt["node"]["requestId"] == "CEB311:stream-2:2"
    assert receipt["node"]["clearanceKey"] == "3105960001:DEMO00000002"
    assert receipt["doc_type"] == "CEB311"


def test_duplicated_and_out_of_order_receipt_files_are_each_kept_once(tmp_path: Path) -> None:
    store = InMemoryDeclarationStore()
    link = FileDropLink(tmp_path / "outbox", tmp_path / "inbox")
    app = CustomsLinkApp(store, link, demo_registry())
    simulator = _simulator(tmp_path)
    app.transmit(_signed_result(3))
    simulator.poll()
    files = sorted(link.inbox.glob("*.xml"))
    for path in reversed(files):  # the 120 first, then the 2
        app.ingest(path)
    (link.inbox / ("copy-" + files[0].name)).write_bytes(files[0].read_bytes())
    app.poll_inbox()
    receipts = _events(store, RECEIPT_RECEIVED)
    assert len(receipts) == 3  # the copy is kept (a second file), and carries the same receipt id
    assert len({r["receipt_id"] for r in receipts}) == 2


def test_every_receipt_type_of_the_spec_is_parsed(tmp_path: Path) -> None:
    from cbec.ceb.model import CebMessage
    from cbec.ceb.tables import EXPORT, IMPORT
    from cbec.declaration.doctypes import ALL, EXPORT_BY_CODE

    store = InMemoryDeclarationStore()
    app = CustomsLinkApp(store, FileDropLink(tmp_path / "o", tmp_path / "i"), demo_registry())
    for doc_type in ALL:
        schema = EXPORT if doc_type.code in EXPORT_BY_CODE else IMPORT
        node = {i.name: "1" * (i.min_len or 1) for i in schema.nodes[doc_type.return_node].items}
        node.update(returnStatus="120", returnTime="20261124100000000", returnInfo="ok",
                    guid="AAAAAAAA-0000-0000-0000-000000000000")
        raw = codec.build(CebMessage(type=doc_type.receipt_code, docs=[node], guid=node["guid"]))
        assert app.ingest_message(f"{doc_type.receipt_code}.xml", raw) == 1, doc_type.receipt_code
    parsed = _events(store, RECEIPT_RECEIVED)
    assert {r["receipt_type"] for r in parsed} == {d.receipt_code for d in ALL}
    assert all(r["return_status"] == 120 for r in parsed)


def test_tax_receipts_816_and_818_are_kept_by_the_list_number(tmp_path: Path) -> None:
    from cbec.ceb.model import CebMessage
    from cbec.ceb.tables import IMPORT

    store = InMemoryDeclarationStore()
    app = CustomsLinkApp(store, FileDropLink(tmp_path / "o", tmp_path / "i"), demo_registry())
    for receipt_type, head_name in (("CEB816", "TaxHeadRd"), ("CEB818", "TaxHeadStatus")):
        head = {i.name: "1" * (i.min_len or 1) for i in IMPORT.nodes[head_name].items}
        head.update(guid="AAAAAAAA-0000-0000-0000-000000000000", returnTime="20261124100000000",
                    invtNo="516520261000000001", status="1")
        doc: dict[str, Any] = {head_name: head}
        if head_name == "TaxHeadRd":
            doc["TaxListRd"] = [{i.name: "1" for i in IMPORT.nodes["TaxListRd"].items}]
        raw = codec.build(CebMessage(type=receipt_type, docs=[doc], guid=head["guid"]))
        assert app.ingest_message(f"{receipt_type}.xml", raw) == 1
    parsed = _events(store, RECEIPT_RECEIVED)
    assert [(r["receipt_type"], r["doc_type"], r["business_key"]) for r in parsed] == [
        ("CEB816", "CEB621", ["516520261000000001"]), ("CEB818", "CEB621", ["516520261000000001"])]
