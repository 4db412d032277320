"""Story: the inventory service on its event store, consuming batches as in production: a list's CEB604
numbers it, a return and a summary name that number, customs' CEB702 numbers the summary and its CEB792
is recorded once on the summary's stream, a redelivered batch changing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import inventory_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import ReceiptReceived, summary_result_node
from cbec.declaration import parking
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.doctypes import EXPORT_LIST, EXPORT_RETURN, SUMMARY
from cbec.quota.settings import QuotaSettings
from cbec.store.event_store import EventStore
from cbec_testkit.samples import DECLARANT
from export_samples import ExportClearance, export_registry, summary

RECEIPTS = topics.feedback("inventory", topics.FEEDBACK_RECEIPTS)
C = ExportClearance(1)
INVT_NO = "51652026E000000001"
SUM_NO = "S51652026000000001"


class Inventory:
    def __init__(self, path: Path) -> None:
        self.events = EventStore.open(f"sqlite:///{path}", schema="unused", name="inventory")
        self.store = BatchingDeclarations(self.events)
        self.app = inventory_service.application.build(self.store, export_registry(),
                                                       QuotaSettings(pii_hmac_key="test-key"))
        self.offsets: dict[str, int] = {}

    def consume(self, topic: str, *values: bytes) -> None:
        start = self.offsets.get(topic, 0)
        messages = [Message(topic, 0, start + i, None, v, {}) for i, v in enumerate(values)]
        self.offsets[topic] = start + len(values)
        deliver(messages, handler=None, batch_handler=batch_handler("inventory", self.app, self.store),
                dead_letter=None, commit=lambda m: None)

    def types(self, doc_type: Any, key: tuple[str, ...]) -> list[str]:
        return [e.type for e in self.events.read(doc_type.stream_id(key))]


@pytest.fixture
def inventory(tmp_path: Path) -> Iterator[Inventory]:
    running = Inventory(tmp_path / "inventory.db")
    yield running
    running.events.close()


def receipt(doc_type: Any, key: list[str], status: int, node: dict[str, str]) -> bytes:
    return ReceiptReceived(f"r-{doc_type.code}-{status}", doc_type.receipt_code, doc_type.code, key, status,
                           "20261201100000000", "ok", node).to_json()


def test_numbers_customs_gives_link_the_documents_naming_them_through_batches(inventory: Inventory) -> None:
    declare = topics.tenant_intake(topics.IN_EXPORT_INVENTORY, DECLARANT)
    inventory.consume(declare, DeclareDocument("l-1", DECLARANT, "CEB603", C.inventory()).to_json())
    list_key = (DECLARANT, C.cop_no)
    assert inventory.app.release("CEB603", list_key)
    numbered = receipt(EXPORT_LIST, list(list_key), 800, {"invtNo": INVT_NO})
    inventory.consume(RECEIPTS, numbered, receipt(EXPORT_LIST, list(list_key), 120, {"invtNo": INVT_NO}))

    returns = topics.tenant_intake(topics.IN_EXPORT_RETURN, DECLARANT)
    inventory.consume(returns, DeclareDocument("r-1", DECLARANT, "CEB213", C.export_return(INVT_NO)).to_json())
    back = inventory.app.find("CEB213", EXPORT_RETURN.business_key(C.export_return(INVT_NO)))
    assert back is not None and back.clearance_key == C.key

    document = summary("SUM1", INVT_NO)
    summaries = topics.tenant_intake(topics.IN_SUMMARY, DECLARANT)
    inventory.consume(summaries, DeclareDocument("s-1", DECLARANT, "CEB701", document).to_json())
    summary_key = (DECLARANT, "SUM1")
    assert inventory.app.release("CEB701", summary_key)
    inventory.consume(RECEIPTS, receipt(SUMMARY, list(summary_key), 120, {"sumNo": SUM_NO}))
    result = ReceiptReceived(
        "sr-1", "CEB792", "CEB701", [], 0, "20261202100000000", "A",
        summary_result_node({"sumNo": SUM_NO, "decState": "A", "opDate": "20261202100000000"},
                            [{"invtNo": INVT_NO}]),
    ).to_json()
    inventory.consume(RECEIPTS, result)
    inventory.consume(RECEIPTS, result)  # published again (the link read the file twice)
    assert inventory.types(SUMMARY, summary_key).count("SummaryResultRecorded") == 1
    assert inventory.types(EXPORT_LIST, list_key).count("ReceiptRecorded") == 2


def test_a_summary_result_overtaking_its_ceb702_waits_in_the_store_and_is_recorded_in_the_ceb702s_batch(
    inventory: Inventory,
) -> None:
    declare = topics.tenant_intake(topics.IN_EXPORT_INVENTORY, DECLARANT)
    inventory.consume(declare, DeclareDocument("l-1", DECLARANT, "CEB603", C.inventory()).to_json())
    list_key = (DECLARANT, C.cop_no)
    assert inventory.app.release("CEB603", list_key)
    inventory.consume(RECEIPTS, receipt(EXPORT_LIST, list(list_key), 800, {"invtNo": INVT_NO}))
    summaries = topics.tenant_intake(topics.IN_SUMMARY, DECLARANT)
    inventory.consume(summaries, DeclareDocument("s-1", DECLARANT, "CEB701", summary("SUM1", INVT_NO)).to_json())
    summary_key = (DECLARANT, "SUM1")
    assert inventory.app.release("CEB701", summary_key)
    result = ReceiptReceived(
        "sr-1", "CEB792", "CEB701", [], 0, "20261202100000000", "A",
        summary_result_node({"sumNo": SUM_NO, "decState": "A", "opDate": "20261202100000000"},
                            [{"invtNo": INVT_NO}]),
    ).to_json()

    inventory.consume(RECEIPTS, result)  # before the CEB702: parked in the store
    assert inventory.types(SUMMARY, summary_key).count("SummaryResultRecorded") == 0
    # one poll: the result again, the CEB702 numbering the summary, the result once more
    inventory.consume(RECEIPTS, result, receipt(SUMMARY, list(summary_key), 120, {"sumNo": SUM_NO}), result)
    assert inventory.types(SUMMARY, summary_key).count("SummaryResultRecorded") == 1
    assert [e.type for e in inventory.events.read(parking.register_id(SUMMARY))] == [parking.RESULT_PARKED,
                                                                                      parking.RESULT_UNPARKED]
    assert [w.count for w in inventory.app.sweep_parked(timedelta(days=30))] == [0, 0]
