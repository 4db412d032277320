"""Stories of customs' format errors (CEB900) on the document's stream, and of resends below the gate."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from cbec.contracts import topics
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ORDER, PAYMENT
from cbec.declaration.ports import Position
from cbec.settings import Settings
from cbec_testkit.customs.simulator import CustomsSimulator, Verdict
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM
from cbec_testkit.tenants import demo_registry
from conftest import Clearance, World, build_world
from receipts_service.application import RECEIPT_RECEIVED, CustomsLinkApp


def _format_error(world: World, c: Clearance, tmp_path: Path) -> ReceiptReceived:
    """Send the order's current release to the simulated customs unreadable; return the CEB900 it answers."""
    state = world.state("CEB311", c.order)
    store = InMemoryDeclarationStore()
    link = CustomsLinkApp(store, FileDropLink(tmp_path / "outbox", tmp_path / "inbox"), demo_registry())
    link.transmit(SignResult(state.release_request_id, PLATFORM, "CEB311", c.key, True,
                             base64.b64encode(b"<CEB311Message/>").decode()))
    CustomsSimulator(tmp_path / "outbox", tmp_path / "inbox", verify=lambda xml: Verdict(True),
                     rng=random.Random(3)).poll()
    link.poll_inbox()
    [data] = [d for _, _, t, d in store.log if t == RECEIPT_RECEIVED]
    return ReceiptReceived(**data)


def _deliver(world: World, service: str, receipt: ReceiptReceived, offset: int) -> None:
    topic = topics.feedback(service, topics.FEEDBACK_RECEIPTS)
    handlers(world.apps[service])[topic](receipt.to_json(), Position(f"{topic}/0", offset))


def _saga(world: World, service: str, offset: int, **command: Any) -> None:
    topic = topics.feedback(service, topics.FEEDBACK_COMMANDS)
    handlers(world.apps[service])[topic](json.dumps(command).encode(), Position(f"{topic}/0", offset))


def _order_key(c: Clearance) -> list[str]:
    return list(ORDER.business_key(c.order))


def test_a_ceb900_lands_on_the_stream_its_request_id_names_as_a_format_error(
    world: World, tmp_path: Path
) -> None:
    c = world.clearance(21)
    world.declare("CEB311", PLATFORM, c.order)
    ceb900 = _format_error(world, c, tmp_path)
    assert ceb900.receipt_type == "CEB900" and ceb900.doc_type == "CEB311"
    _deliver(world, "payment", ceb900, 1)  # not the payment service's document
    _deliver(world, "order", ceb900, 1)
    _deliver(world, "order", ceb900, 2)  # redelivered under another offset: kept once
    [recorded] = world.events("CEB311", "ReceiptRecorded")
    assert recorded["receiptType"] == "CEB900" and recorded["returnStatus"] == ceb900.return_status == 2
    assert recorded["clearanceKey"] == c.key
    state = world.state("CEB311", c.order)
    assert state.status == "format error at customs (0002)"
    assert state.rejected and not state.awaiting_customs


def test_a_corrected_order_may_be_declared_again_after_a_format_error_as_after_a_rejection(
    world: World, tmp_path: Path
) -> None:
    c = world.clearance(22)
    world.declare("CEB311", PLATFORM, c.order)
    corrected = json.loads(json.dumps(c.order))
    corrected["OrderHead"]["note"] = "corrected"
    assert world.declare("CEB311", PLATFORM, corrected).errors[0].code == "-301010"  # still awaiting customs
    _deliver(world, "order", _format_error(world, c, tmp_path), 1)
    outcome = world.declare("CEB311", PLATFORM, corrected)
    assert outcome.result == "accepted" and outcome.status == "released"
    assert world.events("CEB311", "DocumentReceived")[-1]["appType"] == "2"


def test_a_format_error_for_an_earlier_release_or_without_a_transmission_is_not_recorded(
    world: World, tmp_path: Path
) -> None:
    c = world.clearance(23)
    world.declare("CEB311", PLATFORM, c.order)
    ceb900 = _format_error(world, c, tmp_path)
    _saga(world, "order", 1, command="ResendDocument", docType="CEB311", businessKey=_order_key(c),
          commandId="r1")  # released again under a new requestId before the CEB900 came
    _deliver(world, "order", ceb900, 1)
    uncorrelated = dataclasses.replace(ceb900, receipt_id="other", node={"oriCopMsgId": "UNKNOWN"})
    _deliver(world, "order", uncorrelated, 2)
    assert world.events("CEB311", "ReceiptRecorded") == []
    assert world.state("CEB311", c.order).status == "released"


def _sent_payment(world: World, c: Clearance) -> list[str]:
    world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    state = world.state("CEB411", c.payment)
    world.apps["payment"].record_sent(DocumentTransmitted(state.release_request_id, "CEB411", c.key, "f.xml",
                                                          "M1", "t"))
    return list(PAYMENT.business_key(c.payment))


def _releases(world: World) -> list[str]:
    return [e["requestId"] for e in world.events("CEB411", "DocumentReleased")]


def test_a_document_at_2_whose_120_never_came_is_resent_once_per_saga_command(world: World) -> None:
    c = world.clearance(24)
    key = _sent_payment(world, c)
    world.receipt("CEB411", c.payment, 2, "20261124100000000")
    command = {"command": "ResendDocument", "docType": "CEB411", "businessKey": key, "commandId": "r1"}
    _saga(world, "payment", 1, **command)
    _saga(world, "payment", 1, **command)  # redelivered
    releases = _releases(world)
    assert len(releases) == 2 and releases[0] != releases[1]  # a new request: none reaches customs twice
    assert world.state("CEB411", c.payment).phase == "released"


@pytest.mark.parametrize("status", [100, 120, 800, -401001])
def test_a_document_customs_rejected_accepted_or_released_is_never_resent(world: World, status: int) -> None:
    c = world.clearance(25)
    key = _sent_payment(world, c)
    world.receipt("CEB411", c.payment, 2, "20261124100000000")
    world.receipt("CEB411", c.payment, status, "20261124100100000")
    _saga(world, "payment", 1, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r1")
    assert len(_releases(world)) == 1


def test_a_format_error_is_never_resent_though_its_code_looks_like_progress(
    world: World, tmp_path: Path
) -> None:
    c = world.clearance(26)
    world.declare("CEB311", PLATFORM, c.order)
    _deliver(world, "order", _format_error(world, c, tmp_path), 1)
    _saga(world, "order", 1, command="ResendDocument", docType="CEB311", businessKey=_order_key(c),
          commandId="r1")
    assert len(world.events("CEB311", "DocumentReleased")) == 1


def test_with_the_gate_at_2_a_document_at_2_is_not_resent_but_one_at_1_is() -> None:
    world = build_world(settings=Settings.from_environ({"CBEC_SAGA_GATE": "2"}))
    c = world.clearance(27)
    key = _sent_payment(world, c)
    world.receipt("CEB411", c.payment, 1, "20261124100000000")
    _saga(world, "payment", 1, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r1")
    assert len(_releases(world)) == 2
    world.receipt("CEB411", c.payment, 2, "20261124100100000")
    _saga(world, "payment", 2, command="ResendDocument", docType="CEB411", businessKey=key, commandId="r2")
    assert len(_releases(world)) == 2
