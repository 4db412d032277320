"""Story: every export receipt (CEB304 … CEB702), as customs writes it, reaches the service owning the
document it answers and is recorded on that document's stream.

The customs link reads the receipt file and keys it by the fields its return node names (ceb-formats
§3); the feedback topic it goes to is its owner's; the owner records it on the document's stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec
from cbec.ceb.model import CebMessage
from cbec.contracts import topics
from cbec.contracts.customs import ReceiptReceived
from cbec.customs.filedrop import FileDropLink
from cbec.declaration import feedback_handling
from cbec.declaration.doctypes import EXPORT, EXPORT_BY_CODE
from cbec.declaration.ports import Position
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, SITE_OPERATOR
from conftest import World, build_world
from export_samples import SELLER, ExportClearance, arrival, departure, export_registry, master_bill, summary
from receipts_service.application import RECEIPT_RECEIVED, CustomsLinkApp
from receipts_service.application import route as link_route

C = ExportClearance(1)
INVT_NO = "51652026E000000001"

# Each export type: its sender and document, declared after the list customs numbered INVT_NO.
DOCUMENTS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "CEB303": (SELLER, C.order),
    "CEB403": (SELLER, C.collection),
    "CEB505": (LOGISTICS_COMPANY, C.waybill),
    "CEB507": (SITE_OPERATOR, lambda: arrival("ARR1", C)),
    "CEB509": (LOGISTICS_COMPANY, lambda: departure("DEP1", C)),
    "CEB607": (DECLARANT, lambda: master_bill("MB1", (C, INVT_NO))),
    "CEB603": (DECLARANT, C.inventory),
    "CEB605": (DECLARANT, lambda: C.cancel(INVT_NO)),
    "CEB213": (DECLARANT, lambda: C.export_return(INVT_NO)),
    "CEB215": (SITE_OPERATOR, lambda: C.tally(INVT_NO)),
    "CEB701": (DECLARANT, lambda: summary("SUM1", INVT_NO)),
}


def test_every_export_type_is_in_the_story() -> None:
    assert set(DOCUMENTS) == {d.code for d in EXPORT}


def receipt_file(code: str, document: dict[str, Any]) -> bytes:
    """The receipt customs writes for ``document``: its return node's key fields from the document."""
    doc_type = EXPORT_BY_CODE[code]
    head = doc_type.head_of(document)
    node = {"guid": "AAAAAAAA-0000-0000-0000-000000000001", **{f: str(head[f]) for f in doc_type.receipt_key_fields},
            "returnStatus": "120", "returnTime": "20261201100000000", "returnInfo": "新增申报成功"}
    if code == "CEB603":
        node["invtNo"] = INVT_NO
    return codec.build(CebMessage(type=doc_type.receipt_code, docs=[node], guid=node["guid"]))


def customs_link_reads(tmp_path: Path, raw: bytes) -> tuple[str, ReceiptReceived]:
    """The topic the customs link publishes the receipt file on, and the message."""
    store = InMemoryDeclarationStore()
    link = CustomsLinkApp(store, FileDropLink(tmp_path / "out", tmp_path / "in"), export_registry())
    assert link.ingest_message("receipt.xml", raw) == 1
    [(stream, version, data)] = [(s, v, d) for s, v, t, d in store.log if t == RECEIPT_RECEIVED]
    [(topic, _, value)] = link_route(stream, version, RECEIPT_RECEIVED, data)
    return topic, ReceiptReceived.from_json(value)


@pytest.mark.parametrize("code", sorted(DOCUMENTS))
def test_an_export_receipt_reaches_its_owner_and_is_recorded_on_the_documents_stream(
    tmp_path: Path, code: str
) -> None:
    world: World = build_world(tenants=export_registry())
    world.declare("CEB603", DECLARANT, C.inventory())
    world.apps["inventory"].release("CEB603", (DECLARANT, C.cop_no))
    world.receipt("CEB603", C.inventory(), 2, "20261201090000000", {"invtNo": INVT_NO})
    world.declare("CEB505", LOGISTICS_COMPANY, C.waybill(), order_no=C.order_no)
    sender, build = DOCUMENTS[code]
    document = build()
    if code not in ("CEB603", "CEB505"):
        assert world.declare(code, sender, document, order_no=C.order_no).result == "accepted"
    doc_type = EXPORT_BY_CODE[code]
    app = world.app_for(code)
    app.release(code, doc_type.business_key(document))

    topic, receipt = customs_link_reads(tmp_path, receipt_file(code, document))
    assert (receipt.receipt_type, receipt.doc_type) == (doc_type.receipt_code, code)
    assert topic == topics.feedback(doc_type.service, topics.FEEDBACK_RECEIPTS)
    feedback_handling.apply(app, receipt, Position(topic + ":0", 7))
    state = world.state(code, document)
    assert [r.receipt_type for r in state.receipts][-1] == doc_type.receipt_code
    assert state.status_code == 120
    recorded = [json.dumps(e, ensure_ascii=False) for e in world.events(code, "ReceiptRecorded")]
    assert recorded and all(doc_type.receipt_code in e for e in recorded)
