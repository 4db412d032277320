"""Receipts only from customs: a receipt stamped beyond now + CBEC_RECEIPT_MAX_SKEW (a forged status 100
"from 2099") is refused and reported; it never becomes the document's latest receipt, so the next
genuine receipt still applies."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

import pytest
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.dead_letter import DEAD_LETTERED
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ORDER
from cbec.declaration.ports import Position
from cbec.declaration.receipt_clock import parse_return_time, return_time_problem
from cbec.settings import Settings
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import demo_registry
from order_service.domain import ORDER_POLICY

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def _receipt(n: int, status: int, time: str, command: DeclareDocument) -> bytes:
    head = command.document["OrderHead"]
    return ReceiptReceived(f"r-{n}", "CEB312", "CEB311", [head["ebpCode"], head["orderNo"]], status, time,
                           f"status {status}", {}).to_json()


def test_a_receipt_from_2099_does_not_reject_a_live_order_and_a_genuine_one_still_applies(
        caplog: pytest.LogCaptureFixture) -> None:
    store = InMemoryDeclarationStore()
    orders = DeclarationApp([ORDER_POLICY], store, demo_registry(), ceb_bridge.validate, ceb_bridge.render,
                            now=lambda: NOW)
    command = DeclareDocument("cmd-1", PLATFORM, "CEB311", order_document(1, random.Random(1)))
    orders.declare(command)
    receipts = topics.feedback("order", topics.FEEDBACK_RECEIPTS)
    on_receipt = handlers(orders)[receipts]
    on_receipt(_receipt(1, 2, "20261124115900000", command), Position(receipts, 1))

    with caplog.at_level(logging.WARNING):
        on_receipt(_receipt(2, 100, "20990101000000000", command), Position(receipts, 2))
    state = orders.find("CEB311", ORDER.business_key(command.document))
    assert state is not None and state.status == "declaring at e-port (2)"
    assert [r.status for r in state.receipts] == [2]
    assert "receipt r-2 refused" in caplog.text
    [letter] = [data for _, _, kind, data in store.log if kind == DEAD_LETTERED]
    assert "returnTime 20990101000000000" in str(letter) and "CBEC-RECEIPT-TIME" in str(letter)

    on_receipt(_receipt(3, 120, "20261124120100000", command), Position(receipts, 3))
    state = orders.find("CEB311", ORDER.business_key(command.document))
    assert state is not None and state.status == "customs accepted (120)"


def test_a_small_clock_difference_is_tolerated_and_the_skew_is_configurable() -> None:
    assert return_time_problem("20261124120900000", NOW) is None  # 9 minutes ahead
    assert return_time_problem("20261124121100000", NOW) is not None  # 11 minutes ahead
    assert return_time_problem("20261124121100000", NOW, timedelta(minutes=15)) is None
    assert return_time_problem("", NOW) is None
    assert Settings.from_environ({"CBEC_RECEIPT_MAX_SKEW": "60"}).saga.receipt_max_skew == 60


@pytest.mark.parametrize("text", ["99999999999999999", "2099-01-01", "２０２６１１２４１２００００",
                                  "20261324120000000"])
def test_a_time_customs_would_not_write_is_refused(text: str) -> None:
    assert parse_return_time(text) is None
    assert return_time_problem(text, NOW) is not None
