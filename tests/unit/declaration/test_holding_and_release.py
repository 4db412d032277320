"""Stories of the holding and release contract between the owning services and the saga."""

from __future__ import annotations

import base64
import json

from cbec.ceb import codec
from cbec.ceb.xsd import xsd_errors
from cbec.contracts import topics
from cbec.contracts.customs import DocumentTransmitted
from cbec.declaration import routing
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ENTRY, WAYBILL
from cbec.declaration.ports import Position
from cbec_testkit.samples import (
    DECLARANT,
    LOGISTICS_COMPANY,
    PAYMENT_COMPANY,
    SITE_OPERATOR,
    cancel_document,
    entry_document,
    return_document,
    waybill_status_document,
)
from conftest import World


def saga(world: World, service: str, offset: int, **command: object) -> None:
    topic = topics.feedback(service, topics.FEEDBACK_COMMANDS)
    handlers(world.apps[service])[topic](json.dumps(command).encode(), Position(f"{topic}/0", offset))


def test_a_payment_is_released_at_once_as_xsd_valid_ceb411_keyed_by_its_clearance(world: World) -> None:
    c = world.clearance(1)
    outcome = world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    assert outcome.result == "accepted" and outcome.status == "released"
    released = world.events("CEB411", "DocumentReleased")
    assert released[0]["clearanceKey"] == c.key
    xml = base64.b64decode(released[0]["xml"])
    assert xsd_errors(xml, "import") == []
    assert codec.parse(xml).base_transfer["copCode"] == PAYMENT_COMPANY  # type: ignore[index]


def test_a_waybill_is_held_for_the_saga_under_the_platform_named_in_its_command(world: World) -> None:
    c = world.clearance(2)
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    assert outcome.status == "held"  # what it waits for is the saga's to say (its order and payment)
    held = world.events("CEB511", "DocumentHeld")
    assert held[0]["waitingFor"] == ["release"]
    assert held[0]["clearanceKey"] == c.key
    assert held[0]["businessKey"] == list(WAYBILL.business_key(c.waybill))
    assert world.events("CEB511", "DocumentReleased") == []


def test_a_waybill_command_without_the_platform_code_is_refused_naming_ebpcode(world: World) -> None:
    c = world.clearance(3)
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill)
    assert outcome.result == "refused"
    assert [e.path for e in outcome.errors] == ["ebpCode"]


def test_lists_cancels_and_returns_are_held_for_the_sagas_release(world: World) -> None:
    c = world.clearance(4)
    assert world.declare("CEB621", DECLARANT, c.inventory).status == "held"
    assert world.declare("CEB623", DECLARANT, cancel_document(c.inventory, "516520261000000004")).status == "held"
    assert world.declare("CEB625", DECLARANT, return_document(c.inventory, "516520261000000004")).status == "held"
    assert {tuple(e["waitingFor"]) for e in world.events("CEB621", "DocumentHeld") + world.events("CEB623",
            "DocumentHeld") + world.events("CEB625", "DocumentHeld")} == {("release",)}
    assert all(e["clearanceKey"] == c.key for e in world.events("CEB623") + world.events("CEB625"))


def test_release_document_from_the_saga_releases_a_held_waybill_exactly_once(world: World) -> None:
    c = world.clearance(5)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    key = list(WAYBILL.business_key(c.waybill))
    command = {"command": "ReleaseDocument", "docType": "CEB511", "businessKey": key, "clearanceKey": c.key,
               "commandId": "saga-1"}
    saga(world, "logistics", 1, **command)
    saga(world, "logistics", 1, **command)  # redelivered
    saga(world, "logistics", 2, **command)  # sent twice by the saga
    released = world.events("CEB511", "DocumentReleased")
    assert len(released) == 1 and released[0]["clearanceKey"] == c.key
    assert world.state("CEB511", c.waybill).status == "released"


def test_commands_for_other_services_documents_are_ignored(world: World) -> None:
    c = world.clearance(6)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    saga(world, "inventory", 1, command="ReleaseDocument", docType="CEB511",
         businessKey=list(WAYBILL.business_key(c.waybill)), commandId="x")
    assert world.state("CEB511", c.waybill).phase == "held"


def test_resend_releases_a_sent_document_again_only_while_customs_has_not_answered(world: World) -> None:
    c = world.clearance(7)
    world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    state = world.state("CEB411", c.payment)
    app = world.apps["payment"]
    app.record_sent(DocumentTransmitted(state.release_request_id, "CEB411", c.key, "f1.xml", "M1", "t"))
    key = ["3105960002", c.payment["PaymentHead"]["payTransactionId"]]
    saga(world, "payment", 1, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r1")
    requests = [e["requestId"] for e in world.events("CEB411", "DocumentReleased")]
    assert len(requests) == 2 and requests[0] != requests[1]
    world.receipt("CEB411", c.payment, 4, "20261124100000000")  # sending failed
    saga(world, "payment", 2, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r2")
    world.receipt("CEB411", c.payment, 120, "20261124100100000")
    saga(world, "payment", 3, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r3")
    assert len(world.events("CEB411", "DocumentReleased")) == 3


def test_the_saga_refuses_a_held_cancel_and_it_is_never_released(world: World) -> None:
    c = world.clearance(8)
    cancel = cancel_document(c.inventory, "516520261000000008")
    world.declare("CEB623", DECLARANT, cancel)
    key = [DECLARANT, cancel["copNo"]]
    error = {"code": "-623005", "path": "InvtCancel.invtNo", "rule": "list state", "message": "not released"}
    saga(world, "inventory", 1, command="RefuseDocument", docType="CEB623", businessKey=key, commandId="f",
         errors=[error])
    saga(world, "inventory", 2, command="ReleaseDocument", docType="CEB623", businessKey=key, commandId="g")
    state = world.state("CEB623", cancel)
    assert state.status == "refused" and state.errors == [error]
    assert world.events("CEB623", "DocumentReleased") == []


def test_an_unreadable_saga_command_is_dead_lettered(world: World) -> None:
    table = handlers(world.apps["order"])
    topic = topics.feedback("order", topics.FEEDBACK_COMMANDS)
    table[topic](b'{"command": "Frobnicate"}', Position(f"{topic}/0", 9))
    dead = [d for _, _, t, d in world.stores["order"].log if t == "CommandDeadLettered"]
    assert dead and dead[0]["errors"][0]["path"] == "command"


def test_an_entry_list_carries_the_clearances_of_the_waybills_it_lists(world: World) -> None:
    first, second = world.clearance(10), world.clearance(11)
    for c in (first, second):
        world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    entry = entry_document([first.waybill, second.waybill, {"LogisticsHead": {"logisticsNo": "LNUNKNOWN"}}],
                           "E0001")
    outcome = world.declare("CEB711", SITE_OPERATOR, entry)
    assert outcome.status == "held"
    for event in world.events("CEB711"):
        assert event["clearanceKeys"] == [first.key, second.key]
        assert event["logisticsNos"] == [line["logisticsNo"] for line in entry["DeliveryList"]]
        assert event["businessKey"] == list(ENTRY.business_key(entry))


def test_a_waybill_status_joins_its_waybills_clearance(world: World) -> None:
    c = world.clearance(12)
    world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp)
    outcome = world.declare("CEB513", LOGISTICS_COMPANY, waybill_status_document(c.waybill))
    assert outcome.status == "released"
    assert world.events("CEB513", "DocumentReleased")[0]["clearanceKey"] == c.key


def test_a_waybill_status_for_an_unknown_waybill_is_refused(world: World) -> None:
    c = world.clearance(13)
    outcome = world.declare("CEB513", LOGISTICS_COMPANY, waybill_status_document(c.waybill), ebp=c.ebp)
    assert outcome.result == "refused" and outcome.errors[0].path == "LogisticsStatus.logisticsNo"


def test_every_event_names_its_clearance_and_business_key(world: World) -> None:
    c = world.clearance(14)
    world.declare_all(c)
    for service, store in world.stores.items():
        for _, _, event_type, data in store.log:
            if event_type.startswith("Quota") or event_type == "CommandDeadLettered":
                continue
            assert data["clearanceKey"] == c.key, (service, event_type)
            assert data["businessKey"], (service, event_type)


def test_quota_bookkeeping_and_the_document_never_leave_the_service() -> None:
    import uuid

    assert routing.route("inventory", uuid.uuid4(), 1, "QuotaReserved", {"listKey": "a", "amount": "1"}) == []
    public = routing.route("inventory", uuid.uuid4(), 1, "DocumentReceived",
                           {"clearanceKey": "E:1", "document": {"x": 1}, "links": {}, "docType": "CEB621"})
    assert "document" not in json.loads(public[0][2])["data"]


def test_a_waybill_published_as_json_names_its_platform_in_the_envelope(world: World) -> None:
    c = world.clearance(15)
    raw = json.dumps({"commandId": "w-15", "sender": LOGISTICS_COMPANY, "docType": "CEB511", "ebpCode": c.ebp,
                      "document": c.waybill}, ensure_ascii=False).encode()
    handlers(world.apps["logistics"])["cbec.in.waybill"](raw, Position("cbec.in.waybill/0", 1))
    assert world.state("CEB511", c.waybill).clearance_key == c.key


def test_generated_clearances_are_accepted_by_their_four_services(world: World) -> None:
    from cbec_testkit.samples import declare_clearance

    for trade_mode in ("9610", "1210"):
        for command in declare_clearance(100 if trade_mode == "9610" else 101, trade_mode=trade_mode):
            outcome = world.app_for(command.doc_type).declare(command)
            assert outcome.result == "accepted", (command.doc_type, outcome.errors)


def test_a_list_whose_release_receipt_was_lost_may_be_resent_until_customs_concludes(world: World) -> None:
    c = world.clearance(12)
    world.declare("CEB621", DECLARANT, c.inventory)
    app = world.apps["inventory"]
    key = [DECLARANT, c.inventory["InventoryHead"]["copNo"]]
    saga(world, "inventory", 1, command="ReleaseDocument", docType="CEB621", businessKey=key, commandId="rel")
    state = world.state("CEB621", c.inventory)
    app.record_sent(DocumentTransmitted(state.release_request_id, "CEB621", c.key, "l1.xml", "M1", "t"))
    world.receipt("CEB621", c.inventory, 120, "20261124100000000")
    world.receipt("CEB621", c.inventory, 399, "20261124100100000")  # and its 800 never comes
    saga(world, "inventory", 2, command="ResendDocument", docType="CEB621", businessKey=key, commandId="r1")
    released = world.events("CEB621", "DocumentReleased")
    assert len(released) == 2, "accepted but not concluded: the same list goes to customs again"
    assert released[0]["requestId"] != released[1]["requestId"]
    world.receipt("CEB621", c.inventory, 800, "20261124100200000")
    saga(world, "inventory", 3, command="ResendDocument", docType="CEB621", businessKey=key, commandId="r2")
    assert len(world.events("CEB621", "DocumentReleased")) == 2, "a released list is never sent again"
