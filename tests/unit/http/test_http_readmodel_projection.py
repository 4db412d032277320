"""The read model follows the declaration log: idempotent, complete, and never showing personal data."""

from __future__ import annotations

import json

import pytest
from cbec.contracts.customs import ReceiptReceived
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.readmodel import Projection, ReadModel
from cbec_testkit.memory import InMemoryDeclarationStore, MemorySource
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, declare_orders
from cbec_testkit.tenants import demo_registry
from order_service.domain import ORDER_POLICY


@pytest.fixture
def store() -> InMemoryDeclarationStore:
    return InMemoryDeclarationStore()


@pytest.fixture
def orders(store: InMemoryDeclarationStore) -> DeclarationApp:
    return DeclarationApp([ORDER_POLICY], store, demo_registry(), ceb_bridge.validate, ceb_bridge.render)


def test_a_replayed_round_changes_nothing(orders: DeclarationApp, store: InMemoryDeclarationStore) -> None:
    for command in declare_orders(5):
        orders.declare(command)
    model = ReadModel.open("sqlite:///:memory:", "order")
    projection = Projection(MemorySource(store), model)
    assert projection.catch_up(limit=3) == len(store.log)
    before = model.list(PLATFORM, limit=200)
    assert projection.run_once() == 0
    replay = Projection(MemorySource(store), model, name="replay")  # same rows, from the start again
    replay.catch_up()
    assert model.list(PLATFORM, limit=200) == before
    assert len(before.items) == 5


def test_receipts_move_the_row_to_the_current_customs_status(
    orders: DeclarationApp, store: InMemoryDeclarationStore
) -> None:
    [command] = declare_orders(1)
    orders.declare(command)
    head = command.document["OrderHead"]
    model = ReadModel.open("sqlite:///:memory:", "order")
    changes: list[str] = []  # what a hook sees of each changed row
    projection = Projection(
        MemorySource(store),
        model,
        on_change=lambda rows: changes.extend(json.dumps(row.to_json(), ensure_ascii=False) for row, _ in rows),
    )
    projection.catch_up()
    for status, time in ((120, "20260101120005000"), (2, "20260101120001000")):  # out of order
        orders.record_receipt(
            ReceiptReceived(
                f"r{status}", "CEB312", "CEB311", [PLATFORM, head["orderNo"]], status, time, "", {}
            )
        )
    projection.catch_up()
    [row] = model.list(PLATFORM).items
    assert row.status_code == 120 and row.status == "customs accepted (120)"
    assert row.business_key == (PLATFORM, head["orderNo"]) and row.parties == {PLATFORM, PAYMENT_COMPANY}
    assert model.list(PLATFORM, status="120").items == [row]
    assert model.list(PLATFORM, status="2").items == []
    assert [json.loads(c)["status"] for c in changes][-1] == "customs accepted (120)"
    assert head["buyerIdNumber"] not in "".join(changes)


def test_a_document_refused_before_it_had_a_key_is_listed_for_its_sender(
    orders: DeclarationApp, store: InMemoryDeclarationStore
) -> None:
    [command] = declare_orders(1)
    bad = type(command)("c-bad", "9999999999", "CEB311", command.document)  # unregistered sender
    orders.declare(bad)
    model = ReadModel.open("sqlite:///:memory:", "order")
    Projection(MemorySource(store), model).catch_up()
    [row] = model.list("9999999999").items
    assert row.phase == "refused"



def test_a_projector_that_another_replica_overtook_rolls_its_round_back_and_follows(
    orders: DeclarationApp, store: InMemoryDeclarationStore
) -> None:
    for command in declare_orders(2):
        orders.declare(command)
    model = ReadModel.open("sqlite:///:memory:", "order")
    ours, theirs = Projection(MemorySource(store), model), Projection(MemorySource(store), model)
    real_position = model.position
    model.position = lambda name, conn=None: 0  # type: ignore[method-assign]  # ours read 0 ...
    theirs_done = []

    def upsert_after_theirs(*args: object, real: object = model.upsert_many) -> None:
        if not theirs_done:  # ... and theirs finishes the same round before ours commits
            theirs_done.append(True)
            model.position = real_position  # type: ignore[method-assign]
            theirs.catch_up()
            model.position = lambda name, conn=None: 0  # type: ignore[method-assign]
        real(*args)  # type: ignore[operator]

    model.upsert_many = upsert_after_theirs  # type: ignore[method-assign]
    assert ours.run_once() == 0, "the overtaken round is not an error"
    model.position = real_position  # type: ignore[method-assign]
    assert ours.run_once() == 0 and len(model.list(PLATFORM).items) == 2
