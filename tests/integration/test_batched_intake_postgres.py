"""Batched intake on Postgres: a poll commits in one transaction, a concurrent writer sends the poll
back to one message at a time, and either way the store ends as one-by-one handling leaves it."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import order_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ORDER
from cbec.store.event_store import EventStore
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import demo_registry

pytestmark = pytest.mark.integration

TOPIC = "cbec.in.order"


def order(n: int, command_id: str | None = None) -> DeclareDocument:
    return DeclareDocument(command_id or f"cmd-{n}", PLATFORM, "CEB311", order_document(n, random.Random(n)))


def poll(*commands: DeclareDocument | bytes) -> list[Message]:
    return [
        Message(TOPIC, 0, offset, None, c if isinstance(c, bytes) else c.to_json(), {})
        for offset, c in enumerate(commands)
    ]


@pytest.fixture
def stores(database_url: str, pg_schema: str) -> Iterator[tuple[EventStore, EventStore]]:
    batched = EventStore.open(database_url, schema=pg_schema, name="batched")
    alone = EventStore.open(database_url, schema=pg_schema, name="alone")
    yield batched, alone
    batched.close()
    alone.close()


def run_batched(store: EventStore, messages: Sequence[Message]) -> BatchingDeclarations:
    declarations = BatchingDeclarations(store)
    app = order_service.application.build(declarations, demo_registry())
    deliver(messages, handler=None, batch_handler=batch_handler("order", app, declarations), dead_letter=None,
            commit=lambda m: None)
    return declarations


def run_alone(store: EventStore, messages: Sequence[Message]) -> None:
    handle = bus_handler("order", handlers(order_service.application.build(BatchingDeclarations(store),
                                                                            demo_registry())))
    for message in messages:
        handle(message)


def history(store: EventStore) -> list[tuple[str, int, str]]:
    return [(str(e.stream_id), e.version, e.type) for e in store.notifications(1, 10_000)]


def test_a_mixed_poll_ends_as_one_by_one_handling_would_in_one_transaction(
    stores: tuple[EventStore, EventStore],
) -> None:
    batched, alone = stores
    first = order(1)
    other = copy.deepcopy(first.document)
    other["OrderHead"]["note"] = "other content"
    messages = poll(first, order(2), first, DeclareDocument("cmd-1b", PLATFORM, "CEB311", other), b"junk",
                    *(order(n) for n in range(3, 40)))
    ids_before = batched.max_notification_id()

    run_batched(batched, messages)
    run_alone(alone, messages)

    assert history(batched) == history(alone)
    assert batched.max_tracking_id(f"order|{TOPIC}/0") == len(messages) - 1
    assert ids_before is None and batched.max_notification_id() == len(history(batched))


def test_a_writer_racing_the_poll_makes_it_redo_one_at_a_time_without_losing_anything(
    stores: tuple[EventStore, EventStore],
) -> None:
    batched, alone = stores
    messages = poll(*(order(n) for n in range(50, 60)))
    racer = order(55)
    stream = ORDER.stream_id(ORDER.business_key(racer.document))

    declarations = BatchingDeclarations(batched)
    read = declarations.read
    raced: list[bool] = []

    def racing_read(stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        """Another thread (the HTTP API) declares order 55 after the poll read its stream up front."""
        if stream_id == stream and not raced:
            raced.append(True)
            order_service.application.build(BatchingDeclarations(batched), demo_registry()).declare(racer)
        events: list[tuple[str, dict[str, Any]]] = read(stream_id)
        return events

    declarations.read = racing_read
    app = order_service.application.build(declarations, demo_registry())
    deliver(messages, handler=None, batch_handler=batch_handler("order", app, declarations), dead_letter=None,
            commit=lambda m: None)
    order_service.application.build(BatchingDeclarations(alone), demo_registry()).declare(racer)
    run_alone(alone, messages)

    assert raced
    assert [kind for sid, _, kind in history(batched) if sid == str(stream)] == [
        "DocumentReceived",
        "DocumentReleased",
    ]
    assert sorted(history(batched)) == sorted(history(alone))
    assert batched.max_tracking_id(f"order|{TOPIC}/0") == 9
