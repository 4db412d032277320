"""Stories of the buyer's annual quota at list intake (seed 004 §4.8)."""

from __future__ import annotations

import copy
import random
import threading
import uuid
from decimal import Decimal
from typing import Any

import inventory_service.application
import pytest
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import ReceiptReceived
from cbec.declaration.application import DeclarationApp, Outcome
from cbec.declaration.doctypes import INVENTORY
from cbec.quota import ledger
from cbec.quota.settings import QuotaSettings
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import DECLARANT, cancel_document, inventory_document, order_document
from cbec_testkit.tenants import demo_registry

BUYER = "310101199001011234"
KEY = "quota-test-key"


def settings(**limits: str) -> QuotaSettings:
    return QuotaSettings(pii_hmac_key=KEY, **limits)  # type: ignore[arg-type]


def a_list(n: int, amount: str, *, buyer: str = BUYER, year: str = "2026") -> dict[str, Any]:
    order = order_document(n, random.Random(n), lines=1)
    doc = inventory_document(order)
    line, head = doc["InventoryList"][0], doc["InventoryHead"]
    line.update(qty="1", price=amount, totalPrice=amount)
    head.update(buyerIdNumber=buyer, freight="0", insuredFee="0", appTime=f"{year}1124100000")
    return doc


class Inventory:
    def __init__(self, store: InMemoryDeclarationStore | None = None, **limits: str) -> None:
        self.store = store or InMemoryDeclarationStore()
        self.app: DeclarationApp = inventory_service.application.build(self.store, demo_registry(),
                                                                       settings(**limits))

    def declare(self, doc: dict[str, Any]) -> Outcome:
        return self.app.declare(DeclareDocument(f"cmd-{uuid.uuid4()}", DECLARANT, "CEB621", copy.deepcopy(doc)))

    def receipt(self, doc: dict[str, Any], status: int, time: str = "20261125100000000") -> None:
        key = list(INVENTORY.business_key(doc))
        self.app.record_receipt(ReceiptReceived(f"r-{status}-{time}-{key}", "CEB622", "CEB621", key, status, time,
                                                "", {}))


def test_a_list_over_the_single_purchase_limit_is_refused_with_621005() -> None:
    inventory = Inventory()
    outcome = inventory.declare(a_list(1, "5000.01"))
    assert outcome.result == "refused"
    assert [e.code for e in outcome.errors] == ["-621005"]


def test_the_limits_come_from_settings() -> None:
    inventory = Inventory(quota_single_limit="100", quota_annual_limit="250")
    assert inventory.declare(a_list(1, "100.01")).errors[0].code == "-621005"
    assert inventory.declare(a_list(2, "100")).result == "accepted"
    assert inventory.declare(a_list(3, "100")).result == "accepted"
    assert inventory.declare(a_list(4, "50.01")).errors[0].code == "-621018"


def test_pending_lists_reserve_their_amount_so_the_list_past_26000_is_refused_with_621018() -> None:
    inventory = Inventory()
    for n in range(1, 6):
        assert inventory.declare(a_list(n, "4900")).result == "accepted"  # 24,500 pending
    assert inventory.declare(a_list(6, "1500")).result == "accepted"  # exactly 26,000
    outcome = inventory.declare(a_list(7, "0.01"))
    assert outcome.result == "refused"
    assert outcome.errors[0].code == "-621018" and "26000" in outcome.errors[0].message
    assert BUYER not in outcome.errors[0].message


def test_a_released_list_keeps_counting_and_a_rejected_one_gives_its_amount_back() -> None:
    inventory = Inventory(quota_annual_limit="1000")
    released, rejected = a_list(1, "600"), a_list(2, "400")
    inventory.declare(released)
    inventory.declare(rejected)
    for doc in (released, rejected):
        inventory.app.release("CEB621", INVENTORY.business_key(doc))
    assert inventory.declare(a_list(3, "1")).errors[0].code == "-621018"
    inventory.receipt(released, 800)
    inventory.receipt(rejected, 100)
    assert inventory.declare(a_list(4, "400")).result == "accepted"
    assert inventory.declare(a_list(5, "1")).errors[0].code == "-621018"


def test_other_buyers_and_other_years_have_their_own_quota() -> None:
    inventory = Inventory(quota_annual_limit="1000")
    assert inventory.declare(a_list(1, "1000")).result == "accepted"
    assert inventory.declare(a_list(2, "1000", buyer="310101199202023456")).result == "accepted"
    assert inventory.declare(a_list(3, "1000", year="2027")).result == "accepted"
    assert inventory.declare(a_list(4, "1")).errors[0].code == "-621018"


def test_a_corrected_list_replaces_its_own_reservation() -> None:
    inventory = Inventory(quota_annual_limit="1000")
    doc = a_list(1, "900")
    inventory.declare(doc)
    doc["InventoryList"][0].update(price="1000", totalPrice="1000")  # still held: replaced, not added
    assert inventory.declare(doc).result == "accepted"


def test_the_ledger_is_keyed_by_an_hmac_and_never_holds_the_id_number() -> None:
    inventory = Inventory()
    inventory.declare(a_list(1, "100"))
    ledger_id = ledger.stream_id(ledger.buyer_ref(KEY.encode(), BUYER), 2026)
    events = inventory.store.read(ledger_id)
    assert [t for t, _ in events] == ["QuotaReserved"]
    assert BUYER not in repr(events)
    assert ledger.stream_id(ledger.buyer_ref(b"another key", BUYER), 2026) != ledger_id


class RacingStore(InMemoryDeclarationStore):
    """Lets two intakes read the buyer's ledger before either writes, as two workers would."""

    def __init__(self, ledger_id: uuid.UUID) -> None:
        super().__init__()
        self.ledger_id = ledger_id
        self.barrier = threading.Barrier(2, timeout=5)
        self.first_reads = 0

    def read(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        events = super().read(stream_id)
        if stream_id == self.ledger_id and self.first_reads < 2:
            self.first_reads += 1
            self.barrier.wait()
        return events


def test_two_lists_declared_at_once_cannot_both_pass_the_annual_limit() -> None:
    store = RacingStore(ledger.stream_id(ledger.buyer_ref(KEY.encode(), BUYER), 2026))
    inventory = Inventory(store, quota_annual_limit="1000")
    outcomes: list[Outcome] = []

    def declare(n: int) -> None:
        outcomes.append(inventory.declare(a_list(n, "600")))

    threads = [threading.Thread(target=declare, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.result for o in outcomes) == ["accepted", "refused"]
    assert [e.code for o in outcomes for e in o.errors] == ["-621018"]


@pytest.mark.parametrize("amount", ["0", "26000"])
def test_the_ledger_sums_decimal_amounts_exactly(amount: str) -> None:
    book = ledger.fold([(ledger.RESERVED, {"listKey": "a", "amount": "0.10"}),
                        (ledger.RESERVED, {"listKey": "b", "amount": "0.20"}),
                        (ledger.RESERVED, {"listKey": "c", "amount": amount})])
    assert book.used() == Decimal("0.30") + Decimal(amount)
    assert book.used(excluding="c") == Decimal("0.30")


def test_an_approved_cancel_gives_the_lists_amount_back() -> None:
    inventory = Inventory(quota_annual_limit="1000")
    doc = a_list(1, "800")
    inventory.declare(doc)
    inventory.app.release("CEB621", INVENTORY.business_key(doc))
    inventory.receipt(doc, 800)
    cancel = cancel_document(doc, "516520261000000001")
    inventory.app.declare(DeclareDocument("cancel-1", DECLARANT, "CEB623", cancel))
    inventory.app.release("CEB623", (DECLARANT, cancel["copNo"]))
    assert inventory.declare(a_list(2, "800")).errors[0].code == "-621018"
    key = [DECLARANT, cancel["copNo"]]
    inventory.app.record_receipt(ReceiptReceived("c-120", "CEB624", "CEB623", key, 120, "20261126100000000", "", {}))
    assert inventory.declare(a_list(3, "800")).errors[0].code == "-621018"
    inventory.app.record_receipt(ReceiptReceived("c-399", "CEB624", "CEB623", key, 399, "20261126110000000", "", {}))
    assert inventory.declare(a_list(4, "800")).result == "accepted"


def test_a_list_withdrawn_before_release_gives_its_amount_back() -> None:
    inventory = Inventory(quota_annual_limit="1000")
    doc = a_list(1, "1000")
    inventory.declare(doc)
    doc["InventoryHead"]["appType"] = "3"
    assert inventory.declare(doc).status == "withdrawn"
    assert inventory.declare(a_list(2, "1000")).result == "accepted"


def test_a_list_answered_already_declared_keeps_its_reservation_and_reads_accepted_earlier() -> None:
    """-621004 after a resend means customs holds the original list: its amount stays counted."""
    inventory = Inventory(quota_annual_limit="1000")
    resent = a_list(1, "600")
    inventory.declare(resent)
    key = INVENTORY.business_key(resent)
    inventory.app.release("CEB621", key)
    inventory.app.resend("CEB621", key)  # the original's receipts were lost
    inventory.receipt(resent, -621004)
    state = inventory.app.load(INVENTORY, INVENTORY.stream_id(key))
    assert state.status == "accepted earlier (-621004)" and not state.rejected
    assert inventory.declare(a_list(2, "400.01")).errors[0].code == "-621018"
