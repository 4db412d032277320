"""Stories of batched feedback: a poll of one of the order service's feedback partitions (sign outcomes,
transmissions, receipts, saga commands) is handled in one transaction, keeps each answer once, and ends
exactly as if its messages had been handled one at a time."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import order_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.signing import SignError, SignOutcome
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ORDER
from cbec.store.event_store import EventStore
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import demo_registry

SIGNED = topics.feedback("order", topics.FEEDBACK_SIGNED)
SENT = topics.feedback("order", topics.FEEDBACK_SENT)
RECEIPTS = topics.feedback("order", topics.FEEDBACK_RECEIPTS)
COMMANDS = topics.feedback("order", topics.FEEDBACK_COMMANDS)
ORDERS = range(1, 9)


class Service:
    """The order service on a SQLite event store with its orders released, counting its transactions."""

    def __init__(self, path: Path) -> None:
        self.events = EventStore.open(f"sqlite:///{path}", schema="unused", name="order")
        self.store = BatchingDeclarations(self.events)
        self.app = order_service.application.build(self.store, demo_registry())
        self.orders = [order_document(n, random.Random(n)) for n in ORDERS]
        for n, document in zip(ORDERS, self.orders, strict=True):
            assert self.app.declare(DeclareDocument(f"cmd-{n}", PLATFORM, "CEB311", document)).result == "accepted"
        self.transactions = 0
        append_batch = self.events.append_batch

        def counting(*args: Any, **kwargs: Any) -> list[int]:
            self.transactions += 1
            return list(append_batch(*args, **kwargs))

        self.events.append_batch = counting  # type: ignore[method-assign]

    def handle_batched(self, messages: Sequence[Message]) -> None:
        deliver(messages, handler=None, batch_handler=batch_handler("order", self.app, self.store),
                dead_letter=None, commit=lambda m: None)

    def handle_one_by_one(self, messages: Sequence[Message]) -> None:
        handle = bus_handler("order", handlers(self.app))
        for message in messages:
            handle(message)

    def state(self, n: int) -> Any:
        return self.app.find("CEB311", ORDER.business_key(self.orders[n - 1]))

    def request_id(self, n: int) -> str:
        return str(self.state(n).release_request_id)

    def key(self, n: int) -> list[str]:
        return list(ORDER.business_key(self.orders[n - 1]))

    def history(self) -> list[tuple[str, int, str]]:
        return [(str(e.stream_id), e.version, e.type) for e in self.events.notifications(1, 10_000)]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    batched, alone = Service(tmp_path / "batched.db"), Service(tmp_path / "alone.db")
    yield batched, alone
    batched.events.close()
    alone.events.close()


def from_signer(topic: str, *values: bytes, first_offset: int = 0) -> list[Message]:
    """Messages as the signer publishes them: no relay headers, deduped by Kafka offset."""
    return [Message(topic, 0, first_offset + i, "k", v, {}) for i, v in enumerate(values)]


def relayed(topic: str, source: str, *values: bytes, first_id: int = 1, first_offset: int = 0) -> list[Message]:
    """Messages as an outbox relay publishes them: deduped by the source's notification id."""
    return [Message(topic, 0, first_offset + i, "k", v, {SOURCE_HEADER: source, NOTIFICATION_HEADER: str(first_id + i)})
            for i, v in enumerate(values)]


def outcomes(service: Service) -> list[bytes]:
    out = [SignOutcome(service.request_id(n), PLATFORM, "CEB311", "k", True).to_json() for n in ORDERS[:-1]]
    out.append(SignOutcome(service.request_id(ORDERS[-1]), PLATFORM, "CEB311", "k", False,
                           SignError("CBEC-SIG-KEY", "no key")).to_json())
    return out


def transmissions(service: Service) -> list[bytes]:
    return [DocumentTransmitted(service.request_id(n), "CEB311", "k", f"f{n}.xml", f"m{n}",
                                "2026-01-01T04:00:00+00:00").to_json() for n in ORDERS[:-1]]


def receipts(service: Service, status: int = 120) -> list[bytes]:
    return [ReceiptReceived(f"r{n}-{status}", "CEB312", "CEB311", service.key(n), status, "20260101120005000",
                            "ok", {}).to_json() for n in ORDERS[:-1]]


def test_a_poll_of_sign_outcomes_commits_in_one_transaction_and_ends_as_one_by_one_would(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    for service in services:
        poll = from_signer(SIGNED, *outcomes(service), b'{"request_id": "r1", "ok": "yes"}', first_offset=40)
        before = service.transactions
        if service is batched:
            service.handle_batched(poll)
            assert service.transactions - before == 1
        else:
            service.handle_one_by_one(poll)

    assert batched.history() == alone.history()
    assert [batched.state(n).phase for n in ORDERS] == ["signed"] * 7 + ["signing-failed"]
    assert batched.events.max_tracking_id(f"order|{SIGNED}/0") == 48
    assert [t for _, _, t in batched.history()].count("CommandDeadLettered") == 1  # the outcome breaking its contract


def test_transmissions_and_receipts_from_the_customs_link_are_one_transaction_each_and_kept_once(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    for service in services:
        handle = service.handle_batched if service is batched else service.handle_one_by_one
        handle(from_signer(SIGNED, *outcomes(service)))
        before = service.transactions
        handle(relayed(SENT, "receipts", *transmissions(service)))
        handle(relayed(RECEIPTS, "receipts", *receipts(service, 2), *receipts(service, 120), first_id=100))
        if service is batched:
            assert service.transactions - before == 2

    assert batched.history() == alone.history()
    assert [batched.state(n).status for n in ORDERS[:-1]] == ["customs accepted (120)"] * 7
    assert batched.events.max_tracking_id(f"order|receipts|{RECEIPTS}/0") == 113

    # The link's relay crashed after publishing and published the same notifications again.
    history, before = batched.history(), batched.transactions
    batched.handle_batched(relayed(SENT, "receipts", *transmissions(batched), first_offset=7))
    batched.handle_batched(relayed(RECEIPTS, "receipts", *receipts(batched, 2), *receipts(batched, 120),
                                   first_id=100, first_offset=14))
    assert batched.history() == history and batched.transactions == before  # known positions: nothing to do


def test_a_saga_resend_republished_by_its_relay_releases_the_document_once(services: tuple[Service, Service]) -> None:
    batched, _ = services
    batched.handle_batched(from_signer(SIGNED, *outcomes(batched)))
    first = batched.request_id(1)
    resends = [json.dumps({"command": "ResendDocument", "docType": "CEB311", "businessKey": batched.key(n),
                           "commandId": f"resend-{n}"}).encode() for n in (1, 2)]
    lock = json.dumps({"command": "LockClearance", "clearanceKey": "3105960001:X", "commandId": "lock"}).encode()

    batched.handle_batched(relayed(COMMANDS, "saga", *resends, lock, first_id=7))
    batched.handle_batched(relayed(COMMANDS, "saga", *resends, lock, first_id=7, first_offset=3))  # replayed

    again = batched.state(1)
    assert again.phase == "released" and again.release_request_id != first
    stream = str(ORDER.stream_id(tuple(batched.key(1))))
    released = [t for s, _, t in batched.history() if t == "DocumentReleased" and s == stream]
    assert len(released) == 2  # the first release and one resend, not two
    assert batched.app.is_locked("3105960001:X")


def test_a_poll_mixing_the_signer_and_the_services_own_outcome_is_handled_one_at_a_time(
    services: tuple[Service, Service],
) -> None:
    batched, alone = services
    for service in services:
        [*signed, failed] = outcomes(service)
        own = relayed(SIGNED, "order", failed, first_id=9, first_offset=len(signed))  # an oversized request's
        poll = [*from_signer(SIGNED, *signed), *own]
        (service.handle_batched if service is batched else service.handle_one_by_one)(poll)

    assert batched.history() == alone.history()
    assert batched.state(ORDERS[-1]).phase == "signing-failed"


def test_the_service_reads_its_own_feedback_topics_and_no_shared_one(services: tuple[Service, Service]) -> None:
    batched, _ = services
    table = handlers(batched.app)
    assert {t for t in table if topics.feedback_kind(t)} == set(topics.feedback_topics("order"))
    assert topics.SIGN_RESULTS not in table
