"""Stories of who gets which feedback: the signer, the customs link and the saga each publish to the
feedback topics of the service that owns the document, and a receipt nobody owns is dead-lettered."""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import UTC, datetime

from cbec.contracts import saga, topics
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.dead_letter import DeadLetter
from cbec.contracts.signing import SignOutcome, SignRequest, SignResult
from cbec.declaration.doctypes import ALL
from cbec.declaration.owners import LOCKED_BY_CLEARANCE, NO_OWNER, receipt_owner
from cbec.store.events import RecordedEvent
from receipts_service.application import RECEIPT_RECEIVED, TRANSMITTED
from receipts_service.application import route as link_route
from saga_service import domain as saga_domain
from saga_service.application import route as saga_route
from signer_service.worker import outcome_message

KEY = "3105960001:DEMO1"


def receipt(receipt_type: str, doc_type: str, node: dict[str, str] | None = None) -> ReceiptReceived:
    return ReceiptReceived("r1", receipt_type, doc_type, ["k"], 120, "20260101120005000", "ok", node or {})


def test_each_receipt_goes_to_the_service_owning_the_type_it_answers() -> None:
    for doc_type in ALL:
        answer = receipt(doc_type.receipt_code, "")
        [(topic, _, value)] = link_route(uuid.uuid4(), 1, RECEIPT_RECEIVED, answer.to_dict())
        assert topic == topics.feedback(doc_type.service, topics.FEEDBACK_RECEIPTS)
        assert ReceiptReceived.from_json(value).receipt_type == doc_type.receipt_code
    assert receipt_owner(receipt("CEB816", "CEB621")) == "inventory"  # a tax bill about a list


def test_a_format_error_goes_to_the_owner_of_the_transmission_or_of_the_message_type_it_names() -> None:
    known = receipt("CEB900", "CEB511", {"requestId": "CEB511:s:2", "clearanceKey": KEY})
    [(topic, key, _)] = link_route(uuid.uuid4(), 1, RECEIPT_RECEIVED, known.to_dict())
    assert (topic, key) == (topics.feedback("logistics", topics.FEEDBACK_RECEIPTS), KEY)
    guessed = receipt("CEB900", "CEB411", {"oriMessageType": "CEB411Message"})  # a transmission the link lost
    [(topic, _, _)] = link_route(uuid.uuid4(), 1, RECEIPT_RECEIVED, guessed.to_dict())
    assert topic == topics.feedback("payment", topics.FEEDBACK_RECEIPTS)


def test_a_receipt_nobody_owns_is_dead_lettered_on_the_customs_links_topic_not_lost() -> None:
    orphan = receipt("CEB900", "", {"oriCopMsgId": "unknown"})
    stream = uuid.uuid4()
    [(topic, _, value)] = link_route(stream, 3, RECEIPT_RECEIVED, orphan.to_dict())
    assert topic == topics.dead_letters("receipts")
    letter = DeadLetter.from_json(value)
    assert [e.code for e in letter.errors] == [NO_OWNER]
    assert letter.raw is not None and ReceiptReceived.from_json(letter.raw.value or b"") == orphan


def test_a_transmission_goes_to_its_owner_keyed_by_its_clearance() -> None:
    sent = DocumentTransmitted("CEB621:s:2", "CEB621", KEY, "f.xml", "m1", "2026-01-01T04:00:00+00:00")
    assert link_route(uuid.uuid4(), 1, TRANSMITTED, sent.to_dict()) == [
        (topics.feedback("inventory", topics.FEEDBACK_SENT), KEY, sent.to_json())]


def saga_event(event_type: str, **data: object) -> RecordedEvent:
    return RecordedEvent(uuid.uuid4(), 1, event_type, {"clearanceKey": KEY, "commandId": "c1", **data}, {},
                         datetime(2026, 1, 1, tzinfo=UTC), 7)


def test_a_saga_command_goes_to_the_owner_of_its_document_and_a_lock_to_every_service_it_locks() -> None:
    [(topic, key, value)] = saga_route(saga_event(saga_domain.RELEASE_ISSUED, docType="CEB511",
                                                  businessKey=["3105960003", "LN1"]))
    assert (topic, key) == (topics.feedback("logistics", topics.FEEDBACK_COMMANDS), KEY)
    assert saga.SagaCommand.from_json(value).command == saga.RELEASE
    locks = saga_route(saga_event(saga_domain.LOCK_ISSUED))
    assert [t for t, _, _ in locks] == [topics.feedback(s, topics.FEEDBACK_COMMANDS)
                                        for s in ("order", "payment", "logistics")]
    assert len({v for _, _, v in locks}) == 1


def test_the_types_a_lock_applies_to_are_the_ones_whose_policies_lock() -> None:
    locking = set()
    for service in topics.DECLARATION_SERVICES:
        for policy in importlib.import_module(f"{service}_service.domain").POLICIES:
            if policy.locked_code is not None:
                locking.add(policy.code)
    assert locking == {d.code for d in LOCKED_BY_CLEARANCE}


def test_the_signer_tells_the_owner_the_outcome_without_the_signed_document() -> None:
    request = SignRequest("CEB513:s:1", "3105960003", "CEB513", KEY, "eA==")
    topic, value = outcome_message(SignResult.success(request, b"<signed/>" * 1000)) or ("", b"")
    assert topic == topics.feedback("logistics", topics.FEEDBACK_SIGNED)
    assert "signed_xml_b64" not in json.loads(value) and len(value) < 200
    assert SignOutcome.from_json(value).ok
    assert outcome_message(SignResult.success(SignRequest("r", "t", "CEB999", KEY, "eA=="), b"<x/>")) is None
