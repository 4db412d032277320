"""What the product actually puts on the public topics validates against the published schemas.

The embedded path runs in process: a DeclarationApp on the in-memory store, its events routed by
``cbec.declaration.routing.route`` exactly as the outbox relay routes them."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.circuits import CircuitChanged
from cbec.contracts.commands import DeclareDocument, GoodsLeft
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.dead_letter import DeadLetter, WebhookDeadLetter
from cbec.contracts.events import (
    EVENT_DATA,
    EVENT_TYPES,
    DeclarationEvent,
    DocumentHeld,
    EventData,
    SummaryResultRecorded,
)
from cbec.contracts.saga import SagaCommand
from cbec.contracts.schema_check import check_declare, errors_of, is_valid
from cbec.contracts.signing import SignError, SignOutcome, SignRequest, SignResult
from cbec.contracts.status import CLEARANCE_ALERT, STATUS_CHANGED, StatusMessage
from cbec.declaration import ceb_bridge, routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.dispatch import handlers
from cbec.declaration.ports import Position
from cbec.errors import CebError
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import declare_orders
from cbec_testkit.tenants import demo_registry
from order_service.domain import ORDER_POLICY
from payment_service.domain import PAYMENT_POLICY
from receipts_service.application import route as link_route

Routed = tuple[str, str, bytes]


HELD_PAYMENT = replace(PAYMENT_POLICY, held_at_intake=True)  # so a DocumentHeld is produced too


@pytest.fixture(scope="module")
def produced() -> list[Routed]:
    """Every message one run of intake → release → sign → send → receipts produces."""
    store = InMemoryDeclarationStore()
    app = DeclarationApp(
        [ORDER_POLICY, HELD_PAYMENT],
        store,
        demo_registry(),
        ceb_bridge.validate,
        ceb_bridge.render,
    )
    orders = declare_orders(3)
    for command in orders:
        assert app.declare(command).result == "accepted"
    head = orders[0].document["OrderHead"]
    broken = json.loads(declare_orders(1, start=9)[0].to_json())
    broken["document"]["OrderHead"]["acturalPaid"] = "0.01"
    app.declare(DeclareDocument("cmd-bad", broken["sender"], "CEB311", broken["document"]))
    app.declare(
        DeclareDocument(
            "cmd-pay",
            "3105960002",
            "CEB411",
            {
                "PaymentHead": {
                    "payCode": "3105960002",
                    "payName": "示例支付有限公司",
                    "payTransactionId": head["payTransactionId"],
                    "orderNo": head["orderNo"],
                    "ebpCode": head["ebpCode"],
                    "ebpName": head["ebpName"],
                    "payerIdType": "1",
                    "payerIdNumber": head["buyerIdNumber"],
                    "payerName": head["buyerName"],
                    "amountPaid": head["acturalPaid"],
                    "currency": "142",
                    "payTime": "20260101120000",
                }
            },
        )
    )
    withdrawn = declare_orders(2)[1].document["OrderHead"]
    payment = {"PaymentHead": {"payCode": "3105960002", "payName": "示例支付有限公司",
                               "payTransactionId": withdrawn["payTransactionId"], "orderNo": withdrawn["orderNo"],
                               "ebpCode": withdrawn["ebpCode"], "ebpName": withdrawn["ebpName"], "payerIdType": "1",
                               "payerIdNumber": withdrawn["buyerIdNumber"], "payerName": withdrawn["buyerName"],
                               "amountPaid": withdrawn["acturalPaid"], "currency": "142", "payTime": "20260101120000"}}
    assert app.declare(DeclareDocument("cmd-pay-2", "3105960002", "CEB411", payment)).result == "accepted"
    payment["PaymentHead"] = {**payment["PaymentHead"], "appType": "3"}
    assert app.declare(DeclareDocument("cmd-pay-3", "3105960002", "CEB411", payment)).status == "withdrawn"
    released = [d for _, _, t, d in store.log if t == "DocumentReleased"]
    first, second = released[0], released[1]
    app.record_signed(first["requestId"], True, None)
    app.record_signed(second["requestId"], False, {"code": "SIGN-1", "message": "token locked"})
    app.record_sent(
        DocumentTransmitted(
            first["requestId"],
            "CEB311",
            first["clearanceKey"],
            "CEB311_x.xml",
            "msg-1",
            "2026-01-01T04:00:00+00:00",
        )
    )
    for status, time in ((2, "20260101120001000"), (120, "20260101120005000")):
        app.record_receipt(
            ReceiptReceived(
                f"r{status}", "CEB312", "CEB311", [head["ebpCode"], head["orderNo"]], status, time, "ok", {}
            )
        )
    table = handlers(app)
    table["cbec.in.order"](b"{not json", Position("cbec.in.order:0", 7))
    table["cbec.in.order"](
        b'{"commandId":"c","sender":"3105960001","document":{"OrderHead":{}}}', Position("cbec.in.order:0", 8)
    )
    signed = topics.feedback("order", topics.FEEDBACK_SIGNED)
    table[signed](b'{"request_id": "r1", "ok": "yes"}', Position(f"{signed}:0", 3))
    out: list[Routed] = []
    for stream_id, version, event_type, data in store.log:
        out += routing.route("order", stream_id, version, event_type, data)
    return out + list(_customs_link_messages())


def _customs_link_messages() -> Iterator[Routed]:
    """What the receipts service publishes: a transmission and receipts (one of a CEB900)."""
    sent = DocumentTransmitted("CEB311:s:2", "CEB311", "3105960001:DEMO1", "f.xml", "m1", "2026-01-01T04:00:00+00:00")
    yield from link_route(uuid.uuid4(), 1, "DocumentTransmitted", sent.to_dict())
    for receipt in (
        ReceiptReceived("r1", "CEB312", "CEB311", ["3105960001", "DEMO1"], 120, "20260101120005000", "accepted",
                        {"returnStatus": "120", "orderNo": "DEMO1"}),
        ReceiptReceived("r2", "CEB900", "CEB311", ["m1"], 1, "20260101120005000", "format",
                        {"oriCopMsgId": "m1", "requestId": "CEB311:s:2", "clearanceKey": "3105960001:DEMO1"}),
    ):
        yield from link_route(uuid.uuid4(), 1, "ReceiptReceived", receipt.to_dict())


def on(topic: str, produced: list[Routed]) -> Iterator[dict[str, Any]]:
    return (json.loads(value) for t, _, value in produced if t == topic)


def test_every_event_type_is_produced_and_validates(produced: list[Routed]) -> None:
    events = list(on("cbec.order.events", produced))
    assert {e["type"] for e in events} == {
        "DocumentReceived",
        "DocumentRefused",
        "DocumentHeld",
        "DocumentReleased",
        "DocumentSigned",
        "DocumentSigningFailed",
        "DocumentSent",
        "ReceiptRecorded",
        "DocumentWithdrawn",
    }
    for event in events:
        assert errors_of(f"events/{event['type']}.json", event) == [], event["type"]
        assert errors_of("events/declaration-event.json", event) == []
        read = DeclarationEvent.from_dict(event)
        assert read.to_dict() == event
        assert type(read.payload).__name__ == event["type"]  # one payload class per event type
        assert read.payload.to_dict() == event["data"]


def test_no_event_carries_the_document(produced: list[Routed]) -> None:
    received = next(e for e in on("cbec.order.events", produced) if e["type"] == "DocumentReceived")
    leaked = dict(received, data={**received["data"], "document": {"OrderHead": {}}})
    assert not is_valid("events/DocumentReceived.json", leaked)
    assert not is_valid("events/envelope.json", leaked)


def test_an_event_of_one_type_does_not_pass_as_another(produced: list[Routed]) -> None:
    held = next(e for e in on("cbec.order.events", produced) if e["type"] == "DocumentHeld")
    assert not is_valid("events/DocumentReleased.json", held)


def test_sign_requests_validate_and_round_trip_the_signer_contract(produced: list[Routed]) -> None:
    requests = list(on("cbec.sign.requests", produced))
    assert len(requests) == 3  # the payment is held
    for request in requests:
        assert errors_of("signing/sign-request.json", request) == []
        parsed = SignRequest.from_dict(request)
        assert parsed.to_dict() == request
        ok = SignResult.success(parsed, b"<signed/>").to_dict()
        failed = SignResult.failure(parsed, "SIGN-1", "no key").to_dict()
        assert errors_of("signing/sign-result.json", ok) == []
        assert errors_of("signing/sign-result.json", failed) == []
        outcome = SignResult.success(parsed, b"<signed/>").outcome().to_dict()
        assert errors_of("signing/sign-outcome.json", outcome) == [] and "signed_xml_b64" not in outcome
        assert SignOutcome.from_dict(outcome).to_dict() == outcome
    assert not is_valid("signing/sign-result.json", {**ok, "signed_xml_b64": None})
    assert not is_valid("signing/sign-outcome.json", ok)  # the outcome never carries the document
    assert not is_valid("signing/sign-outcome.json", {**failed, "error": None})


def test_dead_letters_validate(produced: list[Routed]) -> None:
    letters = list(on("cbec.dlq.order", produced))
    assert len(letters) == 3  # two unreadable commands and a sign outcome breaking its contract
    for letter in letters:
        assert errors_of("events/dead-letter.json", letter) == []
        assert DeadLetter.from_dict(letter).to_dict() == letter
    assert {e["path"] for e in letters[-1]["errors"]} == {"ok"}


def test_what_the_customs_link_publishes_validates_and_is_read_back(produced: list[Routed]) -> None:
    [sent] = on(topics.feedback("order", topics.FEEDBACK_SENT), produced)
    assert errors_of("customs/document-transmitted.json", sent) == []
    assert DocumentTransmitted.from_dict(sent).to_dict() == sent
    receipts = list(on(topics.feedback("order", topics.FEEDBACK_RECEIPTS), produced))
    assert len(receipts) == 2
    for receipt in receipts:
        assert errors_of("customs/receipt-received.json", receipt) == []
        assert ReceiptReceived.from_dict(receipt).to_dict() == receipt
    assert {key for topic, key, _ in produced if topic.endswith(".receipts")} == {"3105960001:DEMO1"}


def test_saga_commands_the_services_accept_validate() -> None:
    commands = [
        {
            "command": "ReleaseDocument",
            "docType": "CEB511",
            "businessKey": ["3105960003", "LN1"],
            "clearanceKey": "3105960001:DEMO1",
            "commandId": "c1",
        },
        {
            "command": "ResendDocument",
            "docType": "CEB311",
            "businessKey": ["3105960001", "DEMO1"],
            "commandId": "c2",
        },
        {
            "command": "RefuseDocument",
            "docType": "CEB623",
            "businessKey": ["3105960004", "C1"],
            "commandId": "c3",
            "errors": [
                {"code": "CBEC-3001", "path": "InvtCancel", "rule": "state", "message": "goods are out"}
            ],
        },
        {"command": "LockClearance", "clearanceKey": "3105960001:DEMO1", "commandId": "c4"},
    ]
    for command in commands:
        assert SagaCommand.from_json(json.dumps(command).encode()).to_dict() == command  # the consumer reads it
        assert errors_of("saga/saga-command.json", command) == [], command["command"]
    assert not is_valid("saga/saga-command.json", {"command": "LockClearance", "commandId": "c"})
    assert not is_valid("saga/saga-command.json", {**commands[2], "errors": []})


def test_customs_messages_validate() -> None:
    sent = DocumentTransmitted(
        "CEB311:x:2", "CEB311", "3105960001:DEMO1", "f.xml", "m1", "2026-01-01T04:00:00+00:00"
    )
    receipt = ReceiptReceived(
        "r1",
        "CEB312",
        "CEB311",
        ["3105960001", "DEMO1"],
        120,
        "20260101120005000",
        "accepted",
        {"returnStatus": "120"},
    )
    assert errors_of("customs/document-transmitted.json", json.loads(sent.to_json())) == []
    assert errors_of("customs/receipt-received.json", json.loads(receipt.to_json())) == []


def test_sample_commands_validate_on_their_intake_topic() -> None:
    for command in declare_orders(20):
        body = json.loads(command.to_json())
        assert check_declare(body) == []
        del body["docType"]
        assert check_declare(body, doc_type="CEB311") == []


def test_a_command_breaking_the_schema_is_rejected_with_every_finding() -> None:
    body = json.loads(declare_orders(1)[0].to_json())
    del body["document"]["OrderHead"]["orderNo"]
    body["document"]["OrderHead"]["freight"] = 8
    body["document"]["OrderList"][0]["price"] = "1.234567"
    body["sender"] = "not-a-code"
    findings = {(e.path, e.code) for e in check_declare(body)}
    assert findings >= {
        ("document.OrderHead", "CBEC-0005"),
        ("document.OrderHead.freight", "CBEC-0005"),
        ("document.OrderList[1].price", "CBEC-0005"),
        ("sender", "CBEC-0005"),
    }


def test_an_unknown_doc_type_is_rejected() -> None:
    body = json.loads(declare_orders(1)[0].to_json())
    body["docType"] = "CEB999"
    assert [e.path for e in check_declare(body)] == ["docType"]


def test_every_lifecycle_event_type_has_a_schema_and_an_asyncapi_message() -> None:
    import yaml
    from cbec.contracts.schema_check import ASYNCAPI_FILE, load_schema
    from cbec.declaration import lifecycle

    listed = {ref["$ref"] for ref in load_schema("events/declaration-event.json")["oneOf"]}
    messages = yaml.safe_load(ASYNCAPI_FILE.read_text("utf-8"))["channels"]["serviceEvents"]["messages"]
    for event_type in lifecycle.EVENT_TYPES:
        assert load_schema(f"events/{event_type}.json")["title"] == event_type
        assert f"{event_type}.json" in listed
        assert {"$ref": f"#/components/messages/{event_type}"} in messages.values()


def test_an_export_waybill_command_must_name_the_order_of_its_clearance() -> None:
    waybill = {"logisticsCode": "3105960003", "logisticsName": "物流", "logisticsNo": "ELN1", "freight": "1",
               "insuredFee": "0", "currency": "142", "grossWeight": "1", "packNo": "1", "goodsInfo": "包裹"}
    command = {"commandId": "w1", "sender": "3105960003", "docType": "CEB505", "document": waybill}
    assert [e.path for e in check_declare(command)] == ["$"]
    named = {**command, "orderNo": "EXP1", "ebcCode": "3105960001"}
    assert check_declare(named) == []
    assert check_declare({**named, "orderNo": "EXP 1"}) != []
    parsed = DeclareDocument.from_json(json.dumps(named).encode())
    assert (parsed.order_no, parsed.ebc_code) == ("EXP1", "3105960001")
    assert DeclareDocument.from_json(parsed.to_json()) == parsed


def test_a_waybill_command_must_name_the_platform_of_its_clearance() -> None:
    from cbec_testkit.samples import messages as examples

    [waybill] = examples.logistics_message().docs
    command = {"commandId": "w1", "sender": examples.LOGISTICS, "docType": "CEB511", "document": waybill}
    assert [e.path for e in check_declare(command)] == ["$"]
    assert check_declare({**command, "ebpCode": examples.EBP}) == []


def test_schema_findings_do_not_repeat_personal_data() -> None:
    body = json.loads(declare_orders(1)[0].to_json())
    head = body["document"]["OrderHead"]
    head["buyerIdNumber"] = "31010119900101123" + "4" * 60  # too long
    head["buyerTelephone"] = 13912345678  # not a string
    findings = check_declare(body)
    paths = {e.path for e in findings}
    assert paths == {"document.OrderHead.buyerIdNumber", "document.OrderHead.buyerTelephone"}
    text = json.dumps([e.to_dict() for e in findings])
    assert "3101011990" not in text and "13912345678" not in text


def test_the_saga_status_messages_and_commands_validate() -> None:
    from cbec.contracts import status

    changed = status.StatusMessage(
        status.STATUS_CHANGED,
        "s:3",
        "3105960001",
        "3105960001:DEMO1",
        "CEB311",
        ["3105960001", "DEMO1"],
        "rejected by customs (100)",
        100,
        "sent",
        reason="订单重复",
        at="2026-01-01T00:00:00+00:00",
    )
    alert = status.StatusMessage(
        status.CLEARANCE_ALERT,
        "s:4",
        "3105960001",
        "3105960001:DEMO1",
        "CEB311",
        ["3105960001", "DEMO1"],
        "signing failed",
        None,
        "signing-failed",
        reason="token locked",
        at="2026-01-01T00:00:00+00:00",
        errors=[{"code": "SIGN-1", "path": "$", "rule": "signing", "message": "locked"}],
    )
    for message in (changed, alert):
        assert errors_of("status/status-change.json", message.to_dict()) == []
    assert not is_valid("status/status-change.json", {**changed.to_dict(), "buyerIdNumber": "x"})
    lock = SagaCommand("LockClearance", "c1", "3105960001:DEMO1")
    release = SagaCommand("ReleaseDocument", "c2", "3105960001:DEMO1", "CEB511", ("3105960003", "LN1"))
    for command in (lock, release):
        assert errors_of("saga/saga-command.json", command.to_dict()) == []
    left = json.loads(GoodsLeft("3105960001:DEMO1", "c3", "2026-01-01T00:00:00+00:00").to_json())
    assert errors_of("commands/goods-left.json", left) == []


# -- every message model: one class per topic message, round-tripping through its published schema ----------
KEY = "3105960001:DEMO1"
ERROR = CebError("-623005", "InvtCancel.invtNo", "state", "goods are out")
MODELS: list[tuple[str, Any]] = [
    ("commands/goods-left.json", GoodsLeft(KEY, "c1", "2026-01-01T00:00:00+00:00")),
    ("signing/sign-request.json", SignRequest.for_xml("r1", "3105960001", "CEB311", KEY, "<x>中</x>".encode())),
    ("signing/sign-request.json", SignRequest("r1", "3105960001", "CEB311", KEY, "eA==", "eport-client")),
    ("signing/sign-result.json", SignResult("r1", "3105960001", "CEB311", KEY, True, "eA==")),
    ("signing/sign-result.json", SignResult.failure(SignRequest("r1", "3105960001", "CEB311", KEY, "eA=="),
                                                    "CBEC-SIG-KEY", "no key")),
    ("signing/sign-outcome.json", SignOutcome("r1", "3105960001", "CEB311", KEY, True)),
    ("signing/sign-outcome.json", SignOutcome("r1", "3105960001", "CEB311", KEY, False,
                                              SignError("CBEC-SIG-KEY", "no key"))),
    ("customs/document-transmitted.json",
     DocumentTransmitted("CEB311:s:2", "CEB311", KEY, "f.xml", "m1", "2026-01-01T04:00:00+00:00")),
    ("customs/receipt-received.json",
     ReceiptReceived("r1", "CEB312", "CEB311", ["3105960001", "DEMO1"], 120, "20260101120005000", "订单已接收",
                     {"returnStatus": "120"})),
    ("saga/saga-command.json", SagaCommand("ReleaseDocument", "c1", KEY, "CEB511", ("3105960003", "LN1"))),
    ("saga/saga-command.json", SagaCommand("ResendDocument", "c2", KEY, "CEB311", ("3105960001", "DEMO1"))),
    ("saga/saga-command.json", SagaCommand("RefuseDocument", "c3", KEY, "CEB623", ("3105960004", "C1"), (ERROR,))),
    ("saga/saga-command.json", SagaCommand("LockClearance", "c4", KEY)),
    ("status/status-change.json", StatusMessage(STATUS_CHANGED, "s:3", "3105960001", KEY, "CEB311",
                                                ["3105960001", "DEMO1"], "customs accepted (120)", 120, "sent",
                                                at="2026-01-01T00:00:00+00:00")),
    ("status/status-change.json", StatusMessage(CLEARANCE_ALERT, "s:4", "3105960001", KEY, "CEB311",
                                                ["3105960001", "DEMO1"], "alert", None, "signing-failed",
                                                reason="token locked", errors=[ERROR.to_dict()])),
    ("events/DocumentHeld.json", DeclarationEvent("DocumentHeld", str(uuid.UUID(int=7)), 2, "CEB411", KEY,
                                                  {"docType": "CEB411", "clearanceKey": KEY,
                                                   "businessKey": ["3105960002", "P1"], "waitingFor": ["order"]})),
    ("events/SummaryResultRecorded.json",
     DeclarationEvent("SummaryResultRecorded", str(uuid.UUID(int=8)), 5, "CEB701", "3105960004:SUM1",
                      SummaryResultRecorded(doc_type="CEB701", clearance_key="3105960004:SUM1",
                                            business_key=["3105960004", "SUM1"],
                                            clearance_keys=["E:3105960001:EXP1"], result_id="sr-1",
                                            sum_no="S51652026000001", dec_state="A", op_date="20261201100000000",
                                            invt_nos=["51652026E000000001"], entry_id="516520261000000001"
                                            ).to_dict())),
    ("events/dead-letter.json", DeadLetter.of("cbec.in.order:0", 7, [ERROR], b"{not json")),
    ("events/webhook-dead-letter.json", WebhookDeadLetter("s:3", "s:3", "3105960001", "https://p.example/cb",
                                                          '{"schema":"cbec.status/1"}', "2026-01-01T00:00:00+00:00",
                                                          6, "HTTP 503")),
    ("operations/notification-circuit.json", CircuitChanged("3105960001", "open", "2026-01-01T00:00:05+00:00",
                                                            "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:09+00:00",
                                                            2, "HTTP 503")),
    ("operations/notification-circuit.json", CircuitChanged("3105960001", "closed", "2026-01-01T00:01:00+00:00")),
]


def _id(value: Any) -> str:
    return "" if isinstance(value, str) else type(value).__name__


@pytest.mark.parametrize(("schema", "message"), MODELS, ids=_id)
def test_every_message_model_round_trips_through_its_schema(schema: str, message: Any) -> None:
    raw = message.to_json()
    assert isinstance(raw, bytes)
    assert errors_of(schema, json.loads(raw)) == []
    assert type(message).from_json(raw) == message


def test_a_declare_command_round_trips_through_its_schema() -> None:
    [command] = declare_orders(1)
    assert check_declare(json.loads(command.to_json())) == []
    assert DeclareDocument.from_json(command.to_json()) == command


DECODERS = [GoodsLeft, SignRequest, SignResult, DocumentTransmitted, ReceiptReceived, SagaCommand, StatusMessage,
            DeclarationEvent, DeadLetter, WebhookDeadLetter, DeclareDocument, CircuitChanged]


@pytest.mark.parametrize("model", DECODERS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b"\xff", b"{}"], ids=["text", "array", "binary", "empty"])
def test_every_decoder_raises_the_one_contract_error_on_unreadable_input(model: Any, raw: bytes) -> None:
    with pytest.raises(ContractError) as bad:
        model.from_json(raw)
    assert bad.value.errors and all(isinstance(e, CebError) for e in bad.value.errors)


def _broken(schema: str, message: Any) -> dict[str, Any]:
    """The message with one value its schema forbids (the types still right)."""
    data: dict[str, Any] = json.loads(message.to_json())
    if schema.startswith(("events/D", "events/S")):  # a declaration event: leak the document
        return {**data, "data": {**data["data"], "document": {"OrderHead": {}}}}
    for name, value in (("request_id", ""), ("tenant", "not a code"), ("receipt_type", "XYZ"),
                        ("clearanceKey", "no-colon"), ("attempts", 0), ("offset", -1)):
        if name in data:
            return {**data, name: value}
    raise AssertionError(schema)


@pytest.mark.parametrize(("schema", "message"), [m for m in MODELS if not m[0].startswith("saga")], ids=_id)
def test_a_message_its_schema_forbids_is_not_read(schema: str, message: Any) -> None:
    broken = _broken(schema, message)
    assert not is_valid(schema, broken)
    with pytest.raises(ContractError):
        type(message).from_json(json.dumps(broken).encode())


def test_a_saga_command_its_schema_forbids_is_not_read() -> None:
    bad = {"command": "ReleaseDocument", "docType": "CEB999", "businessKey": ["a"], "commandId": "c"}
    with pytest.raises(ContractError) as rejected:
        SagaCommand.from_json(json.dumps(bad).encode())
    assert rejected.value.errors[0].path == "docType"


def test_each_published_event_type_has_its_payload_class_and_unknown_fields_are_kept() -> None:
    assert tuple(EVENT_DATA) == EVENT_TYPES
    held = DocumentHeld(doc_type="CEB411", clearance_key=KEY, waiting_for=["order"], extra={"since": "later"})
    assert held.to_dict() == {"docType": "CEB411", "clearanceKey": KEY, "waitingFor": ["order"], "since": "later"}
    assert DocumentHeld.from_dict(held.to_dict()) == held
    newer = DeclarationEvent("DocumentArchived", str(uuid.UUID(int=1)), 9, "CEB311", KEY, {"docType": "CEB311"})
    assert DeclarationEvent.from_json(newer.to_json()).payload == EventData(doc_type="CEB311")


# -- topic names ------------------------------------------------------------------------------------------
def test_every_topic_is_defined_once_and_published_in_asyncapi() -> None:
    import yaml
    from cbec.contracts.schema_check import ASYNCAPI_FILE

    spec = yaml.safe_load(ASYNCAPI_FILE.read_text("utf-8"))
    addresses = {c["address"] for c in spec["channels"].values()}
    named = {v for k, v in vars(topics).items() if k.isupper() and isinstance(v, str) and v.startswith("cbec.")}
    templates = {topics.events("{service}"), topics.dead_letters("{service}"), "cbec.in.{doc}.{customsCode}",
                 "cbec.out.status.{customsCode}", "cbec.in.goods-left.{customsCode}",
                 *(f"cbec.feedback.{{service}}.{kind}" for kind in topics.FEEDBACK_KINDS)}
    assert named | set(topics.INTAKE_TOPICS) | templates == addresses
    services = spec["components"]["parameters"]["service"]["enum"]
    assert topics.SERVICE_EVENTS == tuple(topics.events(s) for s in services)


TOPIC_LITERAL = re.compile(
    r"""f?["']cbec\.(?:in|out|sign|saga|dlq|customs|order|payment|logistics|inventory|feedback|\{)""")


def test_no_product_code_writes_a_topic_name_but_the_topics_module() -> None:
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("shared", "services", "cli")
        for path in sorted((root / folder).rglob("*.py"))
        if path.name != "topics.py" and ".venv" not in path.parts
        for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if TOPIC_LITERAL.search(line)
    ]
    assert found == []
