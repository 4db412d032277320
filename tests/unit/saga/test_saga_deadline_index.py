"""Deadlines live in a durable index written with the saga's events: a restart reads only what is pending,
a crash cannot separate a deadline from its state, the ticker sleeps until the next one, and two saga
replicas fire each deadline once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cbec.clock import FakeClock, SystemClock
from cbec.contracts.events import (
    DeclarationEvent,
    DocumentReceived,
    DocumentReleased,
    DocumentSent,
    EventData,
    Links,
    stream_fields,
)
from cbec.runtime import ServiceProcess
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent
from eventsourcing.persistence import StoredEvent
from saga_service import domain
from saga_service.application import SagaApp, stream_of
from saga_service.domain import Policy

START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
POLICY = Policy(receipt_timeout=timedelta(seconds=60), max_resends=2)


class CountingStore(EventStore):
    """An event store that counts the events it reads back (decodes)."""

    decoded = 0

    def _decode(self, stored: StoredEvent, notification_id: int | None) -> Any:
        self.decoded += 1
        return super()._decode(stored, notification_id)


def _event(key: str, version: int, payload: EventData) -> DeclarationEvent:
    stream = uuid.uuid5(uuid.NAMESPACE_URL, f"{payload.doc_type}:{key}")
    return DeclarationEvent.of(stream, version, payload.TYPE, payload.to_dict())


def send_order(saga: SagaApp, key: str) -> None:
    """The order of clearance ``key`` is received, released and sent: customs' receipt is now awaited."""
    fields = stream_fields("CEB311", key, Links(business_key=key.split(":")))
    saga.observe(_event(key, 1, DocumentReceived(**fields, sender="3105960001", command_id="c1",
                                                 content_hash="0" * 64)))
    saga.observe(_event(key, 2, DocumentReleased(**fields, sender="3105960001", request_id="r1")))
    saga.observe(_event(key, 3, DocumentSent(**fields, request_id="r1", file_name="f.xml", cop_msg_id="M1",
                                             sent_at=START.isoformat())))


def settled_history(store: EventStore, clearances: int) -> None:
    """``clearances`` finished clearances in the saga's log, written straight to the store (fast)."""
    for first in range(0, clearances, 2000):
        appends = []
        for number in range(first, min(first + 2000, clearances)):
            key = f"3105960001:OLD{number:09d}"
            observed = {"event": {"type": "DocumentReceived", "streamId": str(number), "version": 1,
                                  "docType": "CEB311", "clearanceKey": key, "data": {"sender": "3105960001"}},
                        "at": START.isoformat()}
            appends.append(Append(stream_of(key), 0, [NewEvent(domain.OBSERVED, observed)]))
        store.append_batch(appends)


def resends(store: EventStore, key: str) -> int:
    return sum(1 for e in store.read(stream_of(key)) if e.type == domain.RESEND_ISSUED)


def restart_cost(tmp_path: Path, history: int) -> tuple[int, int, SagaApp, FakeClock]:
    """(events read, index rows read) by a saga starting on a store with ``history`` finished clearances
    and three awaiting a receipt."""
    url = f"sqlite:///{tmp_path / f'saga-{history}.db'}"
    clock = FakeClock(START)
    store = CountingStore.open(url, schema="saga", name="saga")
    first = SagaApp(store, policy=POLICY, clock=clock)
    settled_history(store, history)
    for number in range(3):
        send_order(first, f"3105960001:LIVE{number:05d}")
    store.close()
    again = CountingStore.open(url, schema="saga", name="saga")
    restarted = SagaApp(again, policy=POLICY, clock=clock)
    return again.decoded, restarted.index.rows_read, restarted, clock


def test_a_restart_after_100000_clearances_reads_what_a_restart_after_100_reads(tmp_path: Path) -> None:
    small_events, small_rows, _, _ = restart_cost(tmp_path, 100)
    large_events, large_rows, restarted, clock = restart_cost(tmp_path, 100_000)
    assert (large_events, large_rows) == (small_events, small_rows)
    assert large_events == 0 and large_rows <= 3, "start-up reads the earliest pending row, never the log"
    assert len(restarted.deadlines) == 3
    clock.advance(seconds=60)
    assert restarted.tick() == 3
    assert all(resends(restarted.store, f"3105960001:LIVE{n:05d}") == 1 for n in range(3))


def test_the_index_is_the_source_on_start_not_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    saga = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    send_order(saga, "3105960001:A")
    send_order(saga, "3105960001:B")
    with saga.store.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("DELETE FROM saga_deadlines WHERE item = ?", ("3105960001:B",))
    restarted = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    clock.advance(seconds=60)
    restarted.tick()
    assert resends(restarted.store, "3105960001:A") == 1
    assert resends(restarted.store, "3105960001:B") == 0, "a deadline not in the index is not searched for"


def test_a_store_written_before_the_index_existed_is_indexed_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    saga = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    send_order(saga, "3105960001:A")
    with saga.store.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("DROP TABLE saga_deadlines")
    upgraded = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    assert list(upgraded.deadlines) == ["3105960001:A"]
    again = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    assert not again.index.created


def test_a_crash_between_the_commit_and_the_schedule_loses_no_deadline(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    saga = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    scheduled = saga._scheduled

    def killed_once_a_deadline_is_stored(changes: dict[str, datetime | None]) -> None:
        if any(changes.values()):
            raise SystemExit("killed between the commit and the in-memory schedule")
        scheduled(changes)

    monkeypatch.setattr(saga, "_scheduled", killed_once_a_deadline_is_stored)
    with pytest.raises(SystemExit):
        send_order(saga, "3105960001:A")
    restarted = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    assert restarted.deadlines == {"3105960001:A": START + timedelta(seconds=60)}
    clock.advance(seconds=60)
    assert restarted.tick() == 1
    assert resends(restarted.store, "3105960001:A") == 1


def test_a_failed_commit_writes_no_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    saga = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    key = "3105960001:A"
    fields = stream_fields("CEB311", key, Links(business_key=key.split(":")))
    saga.observe(_event(key, 1, DocumentReceived(**fields, sender="3105960001", command_id="c1",
                                                 content_hash="0" * 64)))
    saga.observe(_event(key, 2, DocumentReleased(**fields, sender="3105960001", request_id="r1")))
    stored = len(saga.store.read(stream_of(key)))
    original = saga.store.recorder.insert_events

    def index_rows_then_the_database_fails(events: Any, **kwargs: Any) -> Any:
        def rows_then_fail(cursor: Any) -> None:
            kwargs["in_transaction"](cursor)
            raise OSError("the database went away mid-transaction")

        return original(events, **{**kwargs, "in_transaction": rows_then_fail})

    monkeypatch.setattr(saga.store.recorder, "insert_events", index_rows_then_the_database_fails)
    with pytest.raises(OSError):
        saga.observe(_event(key, 3, DocumentSent(**fields, request_id="r1", file_name="f.xml", cop_msg_id="M1",
                                                 sent_at=START.isoformat())))
    monkeypatch.undo()
    assert len(saga.store.read(stream_of(key))) == stored
    assert saga.deadlines == {}


def _deadlines_of(saga: SagaApp, keys: list[str]) -> dict[str, datetime]:
    out = {}
    for key in keys:
        due = domain.next_deadline(saga.load(key), saga.policy)
        if due is not None:
            out[key] = due
    return out


def test_the_index_always_says_what_the_committed_state_says(tmp_path: Path) -> None:
    """Two saga processes on one store, one with a stale cache: the conflict redoes its batch, and the
    index holds each clearance's deadline as its events decide it."""
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    one = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    two = SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
    key = "3105960001:A"
    fields = stream_fields("CEB311", key, Links(business_key=key.split(":")))
    one.observe(_event(key, 1, DocumentReceived(**fields, sender="3105960001", command_id="c1",
                                                content_hash="0" * 64)))
    one.observe(_event(key, 2, DocumentReleased(**fields, sender="3105960001", request_id="r1")))
    two.observe(_event(key, 3, DocumentSent(**fields, request_id="r1", file_name="f.xml", cop_msg_id="M1",
                                            sent_at=START.isoformat())))
    clock.advance(seconds=10)
    from cbec.contracts.events import ReceiptRecorded

    one.observe(_event(key, 4, ReceiptRecorded(**fields, receipt_id="x", receipt_type="CEB312", return_status=2,
                                               return_time="20260101120000001", return_info="")))
    assert one.deadlines == _deadlines_of(one, [key]) == {key: START + timedelta(seconds=70)}


def test_the_ticker_sleeps_until_the_next_deadline_and_is_woken_by_an_earlier_one() -> None:
    clock = FakeClock(START)
    saga = SagaApp(EventStore.open("sqlite:///:memory:", schema="saga", name="saga"), policy=POLICY, clock=clock,
                   max_idle=600)
    assert saga.ticker.step == saga.tick and saga.ticker.wakeup is saga.wakeup
    assert saga.ticker.idle() == 600, "nothing scheduled: the safety-net pause"
    send_order(saga, "3105960001:A")
    assert saga.wakeup.is_set() and saga.ticker.idle() == 60
    saga.wakeup.clear()
    clock.advance(seconds=30)
    assert saga.ticker.idle() == 30
    send_order(saga, "3105960001:B")  # due later than what the ticker waits for: no wake-up
    assert not saga.wakeup.is_set()
    clock.advance(seconds=30)
    assert saga.ticker.idle() == 0 and saga.tick() == 1
    assert saga.ticker.idle() == 30, "then until B's deadline"


def test_a_running_ticker_fires_a_new_deadline_on_time_although_it_may_sleep_long() -> None:
    policy = Policy(receipt_timeout=timedelta(seconds=0.3), max_resends=1)
    saga = SagaApp(EventStore.open("sqlite:///:memory:", schema="saga", name="saga"), policy=policy,
                   clock=SystemClock(), max_idle=60)
    process = ServiceProcess("saga-ticker", pollers=[saga.ticker], tracing=False)
    thread = threading.Thread(target=process.serve, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # the first round found nothing: the ticker sleeps 60 s
        send_order(saga, "3105960001:A")
        deadline = time.monotonic() + 10
        while resends(saga.store, "3105960001:A") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert resends(saga.store, "3105960001:A") == 1
    finally:
        process.stop.set()
        thread.join(10)


def test_two_replicas_fire_a_deadline_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    replicas = [SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
                for _ in range(2)]
    send_order(replicas[0], "3105960001:A")
    clock.advance(seconds=60)
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def tick(saga: SagaApp) -> None:
        barrier.wait()
        fired.append(saga.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fired) == [0, 1]
    assert resends(replicas[0].store, "3105960001:A") == 1
    # ... and the row now waits for the resend's answer, from either replica's view
    assert replicas[1].deadlines == {"3105960001:A": START + timedelta(seconds=120)}


def test_a_double_fire_would_be_harmless(tmp_path: Path) -> None:
    """Without the claim (both replicas read the row before either fired), the second commit conflicts
    with the first and, redone on the fresh state, finds nothing due."""
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    clock = FakeClock(START)
    one, two = (SagaApp(EventStore.open(url, schema="saga", name="saga"), policy=POLICY, clock=clock)
                for _ in range(2))
    send_order(one, "3105960001:A")
    two.load("3105960001:A")
    clock.advance(seconds=60)
    claimed = START + timedelta(minutes=5)
    assert one._fire("3105960001:A", claimed) == 1
    assert two._fire("3105960001:A", claimed) == 0
    assert resends(one.store, "3105960001:A") == 1
