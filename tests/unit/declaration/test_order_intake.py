"""Stories of one order through the shared declaration lifecycle, on the in-memory store."""

from __future__ import annotations

import base64
import copy
import json
import random

import pytest
from cbec.ceb import codec
from cbec.ceb.xsd import xsd_errors
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.declaration import ceb_bridge, routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.doctypes import ORDER
from cbec.declaration.ports import Position
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import demo_registry
from order_service.domain import ORDER_POLICY


@pytest.fixture
def store() -> InMemoryDeclarationStore:
    return InMemoryDeclarationStore()


@pytest.fixture
def orders(store: InMemoryDeclarationStore) -> DeclarationApp:
    return DeclarationApp([ORDER_POLICY], store, demo_registry(), ceb_bridge.validate, ceb_bridge.render)


def an_order(n: int = 1, sender: str = PLATFORM) -> DeclareDocument:
    return DeclareDocument(f"cmd-{n}", sender, "CEB311", order_document(n, random.Random(n)))


def receipt(status: int, time: str, order: DeclareDocument) -> ReceiptReceived:
    head = order.document["OrderHead"]
    return ReceiptReceived(f"r-{status}-{time}", "CEB312", "CEB311", [head["ebpCode"], head["orderNo"]], status,
                           time, "ok", {})


def test_a_valid_order_is_released_at_once_with_xsd_valid_ceb311(orders: DeclarationApp,
                                                                 store: InMemoryDeclarationStore) -> None:
    outcome = orders.declare(an_order())
    assert outcome.result == "accepted"
    assert outcome.status == "released"
    released = [data for _, _, kind, data in store.log if kind == "DocumentReleased"]
    xml = base64.b64decode(released[0]["xml"])
    assert xsd_errors(xml, "import") == []
    message = codec.parse(xml)
    assert message.base_transfer is not None and message.base_transfer["copCode"] == PLATFORM


def test_repeating_the_same_order_changes_nothing(orders: DeclarationApp, store: InMemoryDeclarationStore) -> None:
    orders.declare(an_order())
    events_before = len(store.log)
    again = orders.declare(an_order())
    assert again.result == "duplicate"
    assert len(store.log) == events_before


def test_a_different_order_under_the_same_number_is_refused_with_301010(orders: DeclarationApp) -> None:
    orders.declare(an_order())
    other = an_order()
    changed = copy.deepcopy(other.document)
    changed["OrderHead"]["note"] = "different content"
    outcome = orders.declare(DeclareDocument("cmd-x", other.sender, "CEB311", changed))
    assert outcome.result == "refused"
    assert outcome.errors[0].code == "-301010"


def test_an_order_from_a_payment_company_is_refused_naming_the_sender(orders: DeclarationApp) -> None:
    outcome = orders.declare(an_order(sender="3105960002"))
    assert outcome.result == "refused"
    assert outcome.errors[0].path == "sender"


def test_an_unknown_sender_is_refused(orders: DeclarationApp) -> None:
    outcome = orders.declare(an_order(sender="9999999999"))
    assert outcome.result == "refused" and outcome.errors[0].code == "-10102"


def test_an_order_without_its_number_is_refused_and_stores_nothing(orders: DeclarationApp,
                                                                  store: InMemoryDeclarationStore) -> None:
    command = an_order()
    del command.document["OrderHead"]["orderNo"]
    outcome = orders.declare(command)
    assert outcome.result == "refused" and outcome.stream_id is None
    assert "orderNo" in outcome.errors[0].path
    assert store.log == []


def test_receipts_make_the_status_and_the_latest_return_time_wins(orders: DeclarationApp) -> None:
    command = an_order()
    orders.declare(command)
    key = ORDER.business_key(command.document)
    orders.record_receipt(receipt(120, "20261124120000200", command))
    orders.record_receipt(receipt(2, "20261124120000100", command))  # arrives late
    orders.record_receipt(receipt(2, "20261124120000100", command))  # and twice
    state = orders.find("CEB311", key)
    assert state is not None
    assert state.status == "customs accepted (120)"
    assert [r.status for r in state.receipts] == [120, 2]


def test_sign_result_and_transmission_move_the_phase_once(orders: DeclarationApp) -> None:
    command = an_order()
    orders.declare(command)
    state = orders.find("CEB311", ORDER.business_key(command.document))
    assert state is not None
    request_id = state.release_request_id
    assert orders.record_signed(request_id, True, None, Position("sign", 1))
    assert not orders.record_signed(request_id, True, None, Position("sign", 1))
    sent = DocumentTransmitted(request_id, "CEB311", state.clearance_key, "f.xml", "M1", "2026-11-24T00:00:00")
    assert orders.record_sent(sent)
    assert not orders.record_sent(sent)
    final = orders.find("CEB311", ORDER.business_key(command.document))
    assert final is not None and final.status == "sent to customs" and final.file_name == "f.xml"


def test_a_redelivered_command_is_recognised_by_its_position(orders: DeclarationApp,
                                                              store: InMemoryDeclarationStore) -> None:
    first = orders.declare(an_order(1), Position("cbec.in.order/0", 5))
    again = orders.declare(an_order(1), Position("cbec.in.order/0", 5))
    assert first.result == "accepted" and again.result == "duplicate"


def test_released_events_route_to_sign_requests_without_personal_data() -> None:
    data = {"docType": "CEB311", "clearanceKey": "E:1", "sender": PLATFORM, "requestId": "CEB311:x:2",
            "xml": base64.b64encode(b"<x/>").decode()}
    import uuid

    messages = routing.route("order", uuid.uuid4(), 2, "DocumentReleased", data)
    topics = [t for t, _, _ in messages]
    assert topics == ["cbec.order.events", "cbec.sign.requests"]
    public = json.loads(messages[0][2])
    assert "xml" not in public["data"] and public["clearanceKey"] == "E:1"
    assert all(key == "E:1" for _, key, _ in messages)
