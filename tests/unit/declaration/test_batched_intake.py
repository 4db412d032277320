"""Stories of batched intake: a poll of the order intake partition is handled in one transaction, and
ends exactly as if its messages had been handled one at a time."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import inventory_service.application
import order_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.dispatch import handlers
from cbec.quota.settings import QuotaSettings
from cbec.store.event_store import EventStore
from cbec_testkit.samples import DECLARANT, PLATFORM, inventory_document, order_document
from cbec_testkit.tenants import demo_registry

TOPIC = "cbec.in.order"
SOURCE = f"order|{TOPIC}/0"


class Service:
    """The order service's app on a SQLite event store, counting its transactions."""

    def __init__(self, path: Path, service: str = "order") -> None:
        self.service = service
        self.events = EventStore.open(f"sqlite:///{path}", schema="unused", name=service)
        self.store = BatchingDeclarations(self.events)
        if service == "inventory":
            quota = QuotaSettings(pii_hmac_key="test-key")
            self.app = inventory_service.application.build(self.store, demo_registry(), quota)
        else:
            self.app = order_service.application.build(self.store, demo_registry())
        self.transactions = 0
        append_batch = self.events.append_batch

        def counting(*args: Any, **kwargs: Any) -> list[int]:
            self.transactions += 1
            return list(append_batch(*args, **kwargs))

        self.events.append_batch = counting

    def handle_batched(self, messages: Sequence[Message]) -> None:
        deliver(messages, handler=None, batch_handler=batch_handler(self.service, self.app, self.store),
                dead_letter=None, commit=lambda m: None)

    def handle_one_by_one(self, messages: Sequence[Message]) -> None:
        handle = bus_handler(self.service, handlers(self.app))
        for message in messages:
            handle(message)

    def history(self) -> list[tuple[str, int, str]]:
        """Every stored event in log order (stream, version, type): deterministic across runs."""
        return [(str(e.stream_id), e.version, e.type) for e in self.events.notifications(1, 10_000)]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    batched, alone = Service(tmp_path / "batched.db"), Service(tmp_path / "alone.db")
    yield batched, alone
    batched.events.close()
    alone.events.close()


def order(n: int, command_id: str | None = None, sender: str = PLATFORM) -> DeclareDocument:
    return DeclareDocument(command_id or f"cmd-{n}", sender, "CEB311", order_document(n, random.Random(n)))


def messages(*raws: bytes, first_offset: int = 0, topic: str = TOPIC) -> list[Message]:
    return [Message(topic, 0, first_offset + i, None, raw, {}) for i, raw in enumerate(raws)]


def changed(command: DeclareDocument, command_id: str) -> DeclareDocument:
    document = copy.deepcopy(command.document)
    document["OrderHead"]["note"] = "different content"
    return DeclareDocument(command_id, command.sender, command.doc_type, document)


def test_a_poll_of_orders_commits_in_one_transaction_with_the_last_position(
    services: tuple[Service, Service],
) -> None:
    batched, _ = services
    batch = messages(*(order(n).to_json() for n in range(1, 21)), first_offset=100)

    batched.handle_batched(batch)

    assert batched.transactions == 1
    assert batched.events.max_tracking_id(SOURCE) == 119
    released = [e for e in batched.events.notifications(1, 100) if e.type == "DocumentReleased"]
    assert len(released) == 20


def test_a_batch_mixing_repeats_changes_junk_and_refusals_ends_as_one_by_one_would(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    first = order(1)
    batch = messages(
        first.to_json(),
        order(2).to_json(),
        first.to_json(),  # the same command again, in the same batch
        changed(first, "cmd-1b").to_json(),  # other content under the same key: refused
        b"{not json",  # dead-lettered
        order(3, sender="9999999999").to_json(),  # unknown sender: refused on its stream
        order(2, "cmd-2-again").to_json(),  # same content, new command id: a duplicate
        order(4).to_json(),
    )

    batched.handle_batched(batch)
    alone.handle_one_by_one(batch)

    assert batched.transactions == 1
    assert batched.history() == alone.history()
    assert batched.events.max_tracking_id(SOURCE) == alone.events.max_tracking_id(SOURCE) == 7
    types = [kind for _, _, kind in batched.history()]
    assert types.count("DocumentReleased") == 3 and types.count("DocumentRefused") == 2
    assert types.count("CommandDeadLettered") == 1


def test_a_command_refused_before_it_has_a_stream_sends_the_batch_back_to_one_at_a_time(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    keyless = order(5)
    del keyless.document["OrderHead"]["orderNo"]
    batch = messages(order(6).to_json(), keyless.to_json(), order(7).to_json())

    batched.handle_batched(batch)
    alone.handle_one_by_one(batch)

    assert batched.history() == alone.history()
    assert "CommandDeadLettered" in [kind for _, _, kind in batched.history()]
    assert batched.transactions > 1  # its dead letter has a position of its own: not batchable


def test_a_redelivered_batch_changes_nothing(services: tuple[Service, Service]) -> None:
    batched, _ = services
    batch = messages(order(8).to_json(), order(9).to_json(), b"junk")
    batched.handle_batched(batch)
    before = batched.history()

    batched.handle_batched(batch)
    batched.handle_batched(batch[1:])

    assert batched.history() == before


def test_a_batch_overlapping_what_was_handled_does_only_the_new_messages(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    batch = messages(*(order(n).to_json() for n in range(10, 16)))
    batched.handle_batched(batch[:3])
    batched.handle_batched(batch)  # the consumer crashed before committing its offsets
    alone.handle_one_by_one(batch)

    assert batched.history() == alone.history()


def test_a_buyers_annual_quota_counts_the_lists_earlier_in_the_same_batch(tmp_path: Path) -> None:
    batched = Service(tmp_path / "batched.db", "inventory")
    alone = Service(tmp_path / "alone.db", "inventory")
    lists = []
    for n in range(1, 8):  # 7 x 4,900 for one buyer: the sixth and seventh pass the 26,000 a year
        document = inventory_document(order_document(n, random.Random(n), lines=1))
        document["InventoryList"][0].update(qty="1", price="4900", totalPrice="4900")
        document["InventoryHead"].update(buyerIdNumber="310101199001011234", freight="0", insuredFee="0")
        lists.append(DeclareDocument(f"cmd-list-{n}", DECLARANT, "CEB621", document).to_json())
    batch = messages(*lists, topic="cbec.in.inventory")

    batched.handle_batched(batch)
    alone.handle_one_by_one(batch)

    assert batched.transactions == 1
    assert batched.history() == alone.history()
    refusals = [e for e in batched.events.notifications(1, 1000) if e.type == "DocumentRefused"]
    assert [e["code"] for r in refusals for e in r.data["errors"]] == ["-621018", "-621018"]
    batched.events.close()
    alone.events.close()
