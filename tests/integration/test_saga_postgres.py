"""The saga on Postgres: two saga processes racing on one clearance still release each document once."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from cbec.clock import FakeClock
from cbec.contracts.events import (
    DeclarationEvent,
    DocumentHeld,
    DocumentReceived,
    DocumentSent,
    EventData,
    ReceiptRecorded,
)
from cbec.store.event_store import EventStore
from saga_service import domain
from saga_service.application import SagaApp, stream_of
from saga_service.domain import Policy

pytestmark = pytest.mark.integration

KEY = "3105960001:PG00000001"


def _event(version: int, payload: EventData) -> DeclarationEvent:
    stream = uuid.uuid5(uuid.NAMESPACE_URL, f"{payload.doc_type}:{KEY}")
    return DeclarationEvent.of(stream, version, payload.TYPE, payload.to_dict())


def _received(doc_type: str, sender: str, business_key: list[str] | None = None) -> DeclarationEvent:
    return _event(1, DocumentReceived(doc_type=doc_type, clearance_key=KEY, business_key=business_key,
                                      sender=sender, command_id="c1", content_hash="0" * 64))


def _accepted(doc_type: str, return_time: str) -> DeclarationEvent:
    return _event(2, ReceiptRecorded(doc_type=doc_type, clearance_key=KEY, receipt_id=return_time,
                                     receipt_type=doc_type[:-1] + "2", return_status=120, return_time=return_time,
                                     return_info=""))


def test_concurrent_sagas_release_the_waybill_exactly_once(database_url: str, pg_schema: str) -> None:
    stores = [EventStore.open(database_url, schema=pg_schema, name="saga") for _ in range(2)]
    clock = FakeClock()
    sagas = [SagaApp(s, policy=Policy(receipt_timeout=timedelta(minutes=5)), clock=clock) for s in stores]
    sagas[0].observe(_received("CEB511", "3105960003", ["L", "1"]))
    sagas[0].observe(_event(2, DocumentHeld(doc_type="CEB511", clearance_key=KEY, waiting_for=["order", "payment"])))
    for doc_type, sender in (("CEB311", "3105960001"), ("CEB411", "3105960002")):
        sagas[0].observe(_received(doc_type, sender))
    sagas[1].observe(_accepted("CEB311", "20260101000000001"))
    barrier = threading.Barrier(2)

    def deliver(saga: SagaApp) -> None:
        barrier.wait()
        saga.observe(_accepted("CEB411", "20260101000000002"))

    threads = [threading.Thread(target=deliver, args=(s,)) for s in sagas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = stores[0].read(stream_of(KEY))
    assert [e.data["docType"] for e in events if e.type == domain.RELEASE_ISSUED] == ["CEB511"]
    assert sagas[1].view(KEY)["documents"]["waybill"]["status"] == "released"
    for store in stores:
        store.close()


def _sent(doc_type: str, version: int) -> DeclarationEvent:
    return _event(version, DocumentSent(doc_type=doc_type, clearance_key=KEY, request_id="r1", file_name="f.xml",
                                        cop_msg_id="M1", sent_at="2026-01-01T00:00:00+00:00"))


def test_deadlines_commit_with_the_events_and_two_replicas_fire_each_once(database_url: str,
                                                                          pg_schema: str) -> None:
    stores = [EventStore.open(database_url, schema=pg_schema, name="saga") for _ in range(2)]
    clock = FakeClock()
    policy = Policy(receipt_timeout=timedelta(minutes=5))
    first = SagaApp(stores[0], policy=policy, clock=clock)
    first.observe(_received("CEB311", "3105960001"))
    first.observe(_sent("CEB311", 2))
    # The second replica starts after the fact: it learns the deadline from the index alone.
    second = SagaApp(stores[1], policy=policy, clock=clock)
    assert second.index.rows_read == 1
    assert second.deadlines == {KEY: clock.now() + timedelta(minutes=5)}
    clock.advance(minutes=5)
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def tick(saga: SagaApp) -> None:
        barrier.wait()
        fired.append(saga.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fired) == [0, 1]
    events = stores[0].read(stream_of(KEY))
    assert [e.data["docType"] for e in events if e.type == domain.RESEND_ISSUED] == ["CEB311"]
    assert first.deadlines == {KEY: clock.now() + timedelta(minutes=5)}  # the resend's answer is awaited
    for store in stores:
        store.close()
