"""Stories of hostile commands on the Kafka intake topics: each one is dead-lettered naming the rule
and the field, before any other work, and the partition moves on.

The same limits guard the HTTP API (tests/unit/http/test_hostile_input.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import order_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.dispatch import handlers
from cbec.declaration.ports import Position
from cbec.intake_limits import IntakeLimits, LimitBreached, load_json, nesting_depth
from cbec.store.event_store import EventStore
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, order_document
from cbec_testkit.tenants import demo_registry
from conftest import World

TOPIC = "cbec.in.order"


def command(n: int = 1, **head: Any) -> dict[str, Any]:
    document = order_document(n, random.Random(n), lines=1)
    document["OrderHead"].update(head)
    return {"commandId": f"c-{n}", "sender": PLATFORM, "docType": "CEB311", "document": document}


class Intake:
    """The order service's intake handler on an in-memory store."""

    def __init__(self, limits: IntakeLimits | None = None) -> None:
        self.store = InMemoryDeclarationStore()
        self.app: DeclarationApp = order_service.application.build(self.store, demo_registry())
        if limits is not None:
            self.app.limits = limits
        self.offset = 0

    def send(self, raw: bytes) -> None:
        self.offset += 1
        handlers(self.app)[TOPIC](raw, Position(f"order|{TOPIC}/0", self.offset))

    def dead_letters(self) -> list[dict[str, Any]]:
        return [d for _, _, t, d in self.store.log if t == "CommandDeadLettered"]

    def declared(self) -> list[str]:
        return [t for _, _, t, _ in self.store.log if t.startswith("Document")]


def only_finding(intake: Intake) -> dict[str, str]:
    [letter] = intake.dead_letters()
    [finding] = letter["errors"]
    assert intake.declared() == []
    return dict(finding)


def test_an_oversized_command_is_dead_lettered_unread() -> None:
    intake = Intake(IntakeLimits(max_bytes=10_000))
    big = command()
    big["document"]["OrderHead"]["note"] = "x" * 20_000
    intake.send(json.dumps(big).encode())
    assert only_finding(intake)["code"] == "CBEC-0413"


def test_a_hundred_thousand_deep_command_is_dead_lettered_without_recursing() -> None:
    intake = Intake()
    intake.send(b'{"document":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert only_finding(intake)["code"] == "CBEC-0011"


def test_a_lone_surrogate_is_dead_lettered_naming_its_field() -> None:
    intake = Intake()
    raw = json.dumps(command(buyerName="\ud800"), ensure_ascii=True).encode()
    intake.send(raw)
    finding = only_finding(intake)
    assert finding["code"] == "CBEC-0012" and finding["path"] == "document.OrderHead.buyerName"


def test_a_nul_in_a_field_name_is_dead_lettered() -> None:
    intake = Intake()
    body = command()
    body["document"]["OrderHead"]["x\u0000"] = "1"
    intake.send(json.dumps(body).encode())
    assert only_finding(intake)["code"] == "CBEC-0012"


@pytest.mark.parametrize("order_no", ["ＤＥＭＯ０１", "DEMO\u200b01", "DEMO\t01", "DEMO 01", "DEMO/01", "DEMO:01"])
def test_a_business_key_with_characters_customs_does_not_take_is_dead_lettered(order_no: str) -> None:
    intake = Intake()
    intake.send(json.dumps(command(orderNo=order_no)).encode())
    finding = only_finding(intake)
    assert finding["code"] == "CBEC-0013" and finding["path"] == "OrderHead.orderNo"


def test_a_hundred_lines_are_refused_with_one_finding_before_any_line_is_validated() -> None:
    intake = Intake()
    body = command()
    body["document"]["OrderList"] = [{}] * 5_000
    intake.send(json.dumps(body).encode())
    finding = only_finding(intake)
    assert finding["code"] == "CBEC-0014" and finding["path"] == "OrderList"


def test_a_refusal_event_keeps_the_first_findings_and_counts_them_all() -> None:
    intake = Intake(IntakeLimits(max_findings=3))
    body = command()
    head = body["document"]["OrderHead"]
    for name in ("goodsValue", "freight", "discount", "taxTotal", "acturalPaid", "currency", "orderType"):
        head[name] = "?"
    intake.send(json.dumps(body).encode())
    [refused] = [d for _, _, t, d in intake.store.log if t == "DocumentRefused"]
    assert len(refused["errors"]) == 3 and refused["errorCount"] > 3


def test_the_batched_intake_applies_the_same_limits(tmp_path: Path) -> None:
    events = EventStore.open(f"sqlite:///{tmp_path / 'o.db'}", schema="unused", name="order")
    store = BatchingDeclarations(events)
    app = order_service.application.build(store, demo_registry())
    good = DeclareDocument("ok", PLATFORM, "CEB311", order_document(7, random.Random(7), lines=1)).to_json()
    values = [b"[" * 50_000, json.dumps(command(orderNo="ＸＸ")).encode(), good]
    messages = [Message(TOPIC, 0, offset, None, value) for offset, value in enumerate(values, 1)]
    deliver(messages, handler=None, batch_handler=batch_handler("order", app, store), dead_letter=None,
            commit=lambda m: None)
    history = [e.type for e in events.notifications(1, 10_000)]
    assert history.count("CommandDeadLettered") == 2
    assert "DocumentReleased" in history  # the partition moved on


def test_depth_is_measured_on_the_bytes_skipping_strings() -> None:
    assert nesting_depth(b'{"a": [1, {"b": "[[[[{{{{"}], "c": "\\"[["}') == 3
    assert nesting_depth(b"[" * 1000, stop_after=32) == 33


def test_the_fields_naming_a_clearance_follow_the_key_rule_too(world: World) -> None:
    c = world.clearance(3)
    c.payment["PaymentHead"]["orderNo"] = "ＤＥＭＯ3"  # a payment's key is its transaction id; its clearance is not
    refused = world.declare("CEB411", PAYMENT_COMPANY, c.payment)
    assert [(e.code, e.path) for e in refused.errors] == [("CBEC-0013", "PaymentHead.orderNo")]
    waybill = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp="A:B")
    assert [(e.code, e.path) for e in waybill.errors] == [("CBEC-0013", "ebpCode")]
    assert world.events("CEB411") == [] and world.events("CEB511") == []


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "as-is"])
@pytest.mark.parametrize("bad", ["\x00", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff", "\x0b"])
def test_a_bad_character_is_found_whether_written_as_is_or_escaped(bad: str, ensure_ascii: bool) -> None:
    document = {"OrderHead": {"buyerName": f"张{bad}三", "note": "ok\\u0000 is text, not an escape"}}
    raw = json.dumps(document, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    with pytest.raises(LimitBreached) as refused:
        load_json(raw)
    assert [e.path for e in refused.value.errors] == ["OrderHead.buyerName"]


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "as-is"])
def test_good_text_with_tabs_newlines_and_chinese_passes_however_it_is_written(ensure_ascii: bool) -> None:
    document = {"OrderHead": {"buyerName": "张三", "note": "a\tb\nc\r 中文 \\u0000 é"}}
    assert load_json(json.dumps(document, ensure_ascii=ensure_ascii).encode()) == document
