"""Stories of repeated commands, changes (appType 2), deletes (appType 3) and the clearance lock."""

from __future__ import annotations

import base64
import json

import pytest
from cbec.ceb import codec
from cbec.contracts import topics
from cbec.declaration.dispatch import handlers
from cbec.declaration.ports import Position
from cbec.errors import CebError
from cbec.settings import Settings
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, cancel_document
from conftest import World, build_world


def released_app_types(world: World, doc_type: str) -> list[str]:
    out = []
    for event in world.events(doc_type, "DocumentReleased"):
        message = codec.parse(base64.b64decode(event["xml"]))
        doc = message.docs[0]
        head = next(v for k, v in doc.items() if k.endswith("Head")) if "appType" not in doc else doc
        out.append(head["appType"])
    return out


def lock(world: World, service: str, clearance_key: str, offset: int = 1) -> None:
    command = {"command": "LockClearance", "clearanceKey": clearance_key, "commandId": f"lock-{offset}"}
    topic = topics.feedback(service, topics.FEEDBACK_COMMANDS)
    handlers(world.apps[service])[topic](json.dumps(command).encode(), Position(f"{topic}/0", offset))


def test_the_same_command_id_returns_the_first_outcome_whatever_it_carries(world: World) -> None:
    c = world.clearance(1)
    first = world.declare("CEB411", PAYMENT_COMPANY, c.payment, command_id="pay-1")
    c.payment["PaymentHead"]["note"] = "edited"
    again = world.declare("CEB411", PAYMENT_COMPANY, c.payment, command_id="pay-1")
    assert (first.result, again.result) == ("accepted", "duplicate")
    assert len(world.events("CEB411", "DocumentReceived")) == 1


def test_a_refused_command_repeated_returns_its_errors(world: World) -> None:
    c = world.clearance(2)
    c.payment["PaymentHead"]["payCode"] = "3109999999"
    first = world.declare("CEB411", PAYMENT_COMPANY, c.payment, command_id="pay-2")
    again = world.declare("CEB411", PAYMENT_COMPANY, c.payment, command_id="pay-2")
    assert again.result == "duplicate" and again.errors == first.errors and first.errors


def test_the_same_content_under_a_new_command_id_is_a_duplicate_and_never_released_twice(world: World) -> None:
    c = world.clearance(3)
    world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    assert world.declare("CEB411", PAYMENT_COMPANY, c.payment).result == "duplicate"
    assert len(world.events("CEB411", "DocumentReleased")) == 1


def test_a_change_to_a_held_waybill_replaces_it_and_it_stays_held(world: World) -> None:
    c = world.clearance(4)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    c.waybill["LogisticsHead"]["weight"] = "2.5"
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    assert outcome.result == "accepted" and outcome.status.startswith("held")
    received = world.events("CEB511", "DocumentReceived")
    assert [e["appType"] for e in received] == ["1", "1"]
    assert world.state("CEB511", c.waybill).document["LogisticsHead"]["weight"] == "2.5"  # type: ignore[index]


def test_a_change_while_customs_has_not_answered_is_refused_with_the_in_flight_code(world: World) -> None:
    c = world.clearance(5)
    world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    c.payment["PaymentHead"]["payTime"] = "20261124100500"
    outcome = world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    assert outcome.result == "refused" and outcome.errors[0].code == "-401007"
    assert world.state("CEB411", c.payment).phase == "released"


def test_a_rejected_payment_is_declared_again_as_a_change(world: World) -> None:
    c = world.clearance(6)
    world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    world.receipt("CEB411", c.payment, 100, "20261124100000000")
    c.payment["PaymentHead"]["payTime"] = "20261124100500"
    outcome = world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    assert outcome.result == "accepted" and outcome.status == "released"
    assert released_app_types(world, "CEB411") == ["1", "2"]


def test_re_declaration_after_rejection_can_be_configured_as_new() -> None:
    world = build_world(settings=Settings.from_environ({"CBEC_REDECLARE_APP_TYPE": "1"}))
    c = world.clearance(7)
    world.declare("CEB311", PLATFORM, c.order)
    world.receipt("CEB311", c.order, -301004, "20261124100000000")
    c.order["OrderHead"]["note"] = "fixed"
    assert world.declare("CEB311", PLATFORM, c.order).result == "accepted"
    assert released_app_types(world, "CEB311") == ["1", "1"]


def test_an_accepted_waybill_changes_with_apptype_2_through_the_same_gates(world: World) -> None:
    c = world.clearance(8)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    world.apps["logistics"].release("CEB511", ("3105960003", c.waybill["LogisticsHead"]["logisticsNo"]))
    world.receipt("CEB511", c.waybill, 120, "20261124100000000")
    c.waybill["LogisticsHead"]["weight"] = "3.0"
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    assert outcome.status == "held"
    assert world.events("CEB511", "DocumentReceived")[-1]["appType"] == "2"


@pytest.mark.parametrize(("doc_type", "code"), [("CEB311", "-301011"), ("CEB411", "-401008"),
                                                ("CEB511", "-504016")])
def test_once_the_saga_locks_the_clearance_its_documents_no_longer_change(world: World, doc_type: str,
                                                                         code: str) -> None:
    c = world.clearance(9)
    world.declare_all(c)
    world.apps["logistics"].release("CEB511", ("3105960003", c.waybill["LogisticsHead"]["logisticsNo"]))
    document = {"CEB311": c.order, "CEB411": c.payment, "CEB511": c.waybill}[doc_type]
    world.receipt(doc_type, document, 120, "20261124100000000")
    service = {"CEB311": "order", "CEB411": "payment", "CEB511": "logistics"}[doc_type]
    lock(world, service, c.key)
    lock(world, service, c.key)  # redelivered
    next(v for k, v in document.items() if k.endswith("Head"))["note"] = "late change"
    sender = {"CEB311": PLATFORM, "CEB411": PAYMENT_COMPANY, "CEB511": LOGISTICS_COMPANY}[doc_type]
    outcome = world.declare(doc_type, sender, document, ebp=c.ebp)
    assert outcome.result == "refused" and outcome.errors[0].code == code
    assert len(world.events(doc_type, "DocumentReleased")) == 1


def test_a_list_never_changes_once_customs_accepted_or_released_it(world: World) -> None:
    c = world.clearance(10)
    world.declare("CEB621", DECLARANT, c.inventory)
    world.apps["inventory"].release("CEB621", (DECLARANT, c.inventory["InventoryHead"]["copNo"]))
    world.receipt("CEB621", c.inventory, 120, "20261124100000000")
    c.inventory["InventoryHead"]["note"] = "change"
    assert world.declare("CEB621", DECLARANT, c.inventory).errors[0].code == "-621011"
    world.receipt("CEB621", c.inventory, 800, "20261124110000000")
    c.inventory["InventoryHead"]["note"] = "another change"
    assert world.declare("CEB621", DECLARANT, c.inventory).errors[0].code == "-621012"


def test_deleting_an_accepted_order_sends_apptype_3_at_once(world: World) -> None:
    c = world.clearance(11)
    world.declare("CEB311", PLATFORM, c.order)
    world.receipt("CEB311", c.order, 120, "20261124100000000")
    c.order["OrderHead"]["appType"] = "3"
    assert world.declare("CEB311", PLATFORM, c.order).status == "released"
    assert released_app_types(world, "CEB311") == ["1", "3"]


def test_deleting_a_held_waybill_withdraws_it_and_nothing_reaches_customs(world: World) -> None:
    c = world.clearance(12)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    c.waybill["LogisticsHead"]["appType"] = "3"
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    assert outcome.status == "withdrawn"
    assert world.apps["logistics"].release("CEB511", ("3105960003", c.waybill["LogisticsHead"]["logisticsNo"])) \
        is False
    assert world.events("CEB511", "DocumentReleased") == []


def test_deleting_a_document_that_does_not_exist_is_refused(world: World) -> None:
    c = world.clearance(13)
    c.payment["PaymentHead"]["appType"] = "3"
    assert world.declare("CEB411", PAYMENT_COMPANY, c.payment).errors[0].code == "CBEC-2005"


def test_a_cancel_is_only_ever_declared_as_new(world: World) -> None:
    c = world.clearance(14)
    cancel = cancel_document(c.inventory, "516520261000000014")
    cancel["appType"] = "2"
    outcome = world.declare("CEB623", DECLARANT, cancel)
    assert outcome.result == "refused" and outcome.errors[0].path == "InvtCancel.appType"


def test_another_enterprise_replaying_a_document_is_refused_not_answered_as_a_duplicate(world: World) -> None:
    c = world.clearance(15)
    world.declare("CEB411", PAYMENT_COMPANY, c.payment, command_id="same-id")
    replay = world.declare("CEB411", PLATFORM, c.payment, command_id="same-id")
    assert replay.result == "refused" and replay.errors[0].code == "-10101"
    assert len(world.events("CEB411", "DocumentReleased")) == 1


def test_after_the_saga_refuses_a_held_change_a_corrected_change_is_accepted(world: World) -> None:
    c = world.clearance(16)
    key = ("3105960003", c.waybill["LogisticsHead"]["logisticsNo"])
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    world.apps["logistics"].release("CEB511", key)
    world.receipt("CEB511", c.waybill, 120, "20261124100000000")
    c.waybill["LogisticsHead"]["weight"] = "9.0"
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    error = CebError("CBEC-9", "LogisticsHead.weight", "saga", "too heavy")
    assert world.apps["logistics"].refuse_document("CEB511", key, [error])
    c.waybill["LogisticsHead"]["weight"] = "2.0"
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    assert outcome.result == "accepted" and outcome.status.startswith("held")
    assert world.events("CEB511", "DocumentReceived")[-1]["appType"] == "2"
