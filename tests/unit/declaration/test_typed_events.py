"""The lifecycle engine writes each event as its payload class (``cbec.contracts.events``): what it
stores reads back through that class as stored, for every event type a clearance goes through."""

from __future__ import annotations

from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.events import (
    EVENT_DATA,
    EVENT_TYPES,
    SUMMARY_RESULT_RECORDED,
    DocumentReceived,
    DocumentRefused,
    DocumentReleased,
)
from cbec.errors import CebError
from cbec.intake_limits import IntakeLimits
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PLATFORM
from conftest import World, not_read_back


def test_every_event_of_a_clearance_reads_back_through_its_payload_class(world: World) -> None:
    c = world.clearance(41)
    world.declare_all(c)  # orders and payments released at intake, waybill and list held
    waybill_key = ("3105960003", c.waybill["LogisticsHead"]["logisticsNo"])
    assert world.apps["logistics"].release("CEB511", waybill_key)
    world.receipt("CEB511", c.waybill, 120, "20261124100000000")
    order = world.state("CEB311", c.order)
    orders = world.app_for("CEB311")
    assert orders.record_signed(order.release_request_id, True, None)
    assert orders.record_sent(DocumentTransmitted(order.release_request_id, "CEB311", c.key, "f.xml", "M1",
                                                  "2026-11-24T00:00:00"))
    world.receipt("CEB311", c.order, 120, "20261124100000001")
    payment = world.state("CEB411", c.payment)
    assert world.app_for("CEB411").record_signed(payment.release_request_id, False,
                                                 {"code": "CBEC-0090", "message": "no key"})
    error = CebError("CBEC-9", "InventoryHead.invtNo", "saga", "not now")
    assert world.apps["inventory"].refuse_document("CEB621", ("3105960004", c.inventory["InventoryHead"]["copNo"]),
                                                   [error])
    other = world.clearance(42)
    world.declare("CEB511", LOGISTICS_COMPANY, other.waybill, ebp=other.ebp)
    other.waybill["LogisticsHead"]["appType"] = "3"
    assert world.declare("CEB511", LOGISTICS_COMPANY, other.waybill, ebp=other.ebp).status == "withdrawn"
    released = world.clearance(44)  # a released list: customs' tax bill and its status
    world.declare_all(released)
    list_key = ("3105960004", released.inventory["InventoryHead"]["copNo"])
    assert world.apps["inventory"].release("CEB621", list_key)
    world.receipt("CEB621", released.inventory, 800, "20261124100000000", {"invtNo": "31052026I000000044"})
    tax = {"returnTime": "20261124120000000", "invtNo": "31052026I000000044", "taxNo": "T44", "status": "1",
           "customsTax": "0", "valueAddedTax": "1.5", "consumptionTax": "0"}
    for code, node in (("CEB816", tax), ("CEB818", {**tax, "status": "2", "returnTime": "20261224120000000"})):
        bill = ReceiptReceived(f"{code}-44", code, "CEB621", [tax["invtNo"]], 0, node["returnTime"], "", node)
        assert world.apps["inventory"].record_result(bill)
    orders.limits = IntakeLimits(max_findings=1)
    bad = world.clearance(43)
    for name in ("goodsValue", "freight", "currency"):
        bad.order["OrderHead"][name] = "?"
    assert world.declare("CEB311", PLATFORM, bad.order).result == "refused"

    stored = world.stored_declaration_events()
    # An import clearance goes through every event type but the export summary's result (its own story:
    # test_export_summary.py).
    assert {t for t, _ in stored} == set(EVENT_TYPES) - {SUMMARY_RESULT_RECORDED}
    assert not_read_back(world) == []
    refusals = [DocumentRefused.from_dict(d) for t, d in stored if t == DocumentRefused.TYPE]
    assert {r.refuses_document for r in refusals} == {True, None}
    assert any(r.error_count and r.error_count > len(r.errors) for r in refusals)
    received = [DocumentReceived.from_dict(d) for t, d in stored if t == DocumentReceived.TYPE]
    assert all(r.document is not None and r.links == r.stream_links.to_dict() for r in received)
    released = [EVENT_DATA[t].from_dict(d) for t, d in stored if t == DocumentReleased.TYPE]
    assert all(isinstance(r, DocumentReleased) and r.xml and r.request_id for r in released)
    assert DECLARANT in {r.sender for r in received}
