"""The outbox relay never skips an event that commits late, with writers racing on Postgres."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import pytest
from cbec.bus import InProcessBus
from cbec.store import ConcurrencyError, EventStore, NewEvent, RecordedEvent
from cbec.store.outbox import NOTIFICATION_HEADER, OutboxRelay
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder

pytestmark = pytest.mark.integration

TOPIC = "cbec.order.events"


class SlowCommitRecorder(PostgresProcessRecorder):
    """Dawdles between taking its notification ids and committing, for some appends."""

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if stored_events and stored_events[0].topic == "OrderSlow":
            time.sleep(0.03)
        return ids


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    return [(TOPIC, str(event.stream_id), f"{event.stream_id}/{event.version}".encode())]


def test_every_event_is_published_once_in_notification_order_while_writers_race(
    database_url: str, pg_schema: str
) -> None:
    setup = EventStore.open(database_url, schema=pg_schema, name="order", pool_size=6)
    datastore = setup.recorder.datastore  # type: ignore[attr-defined]
    slow = SlowCommitRecorder(
        datastore, events_table_name="order_events", tracking_table_name="order_tracking"
    )
    writers_store = EventStore(slow)
    bus = InProcessBus(partitions=3)
    relay = OutboxRelay(setup, bus, name="order", route=route)
    writers_done = threading.Event()
    conflicts: list[UUID] = []

    def writer(number: int) -> None:
        streams: dict[UUID, int] = {}
        for n in range(60):
            stream = uuid4() if n % 3 == 0 or not streams else list(streams)[n % len(streams)]
            version = streams.get(stream, 0)
            kind = "OrderSlow" if n % 7 == number % 7 else "OrderReceived"
            events = [NewEvent(kind, {"n": n}) for _ in range(1 + n % 2)]
            if n % 11 == 5 and version > 0:
                version -= 1  # a stale writer: its insert fails and burns sequence numbers
            try:
                writers_store.append(stream, version, events)
                streams[stream] = version + len(events)
            except ConcurrencyError:
                conflicts.append(stream)

    def relay_loop() -> None:
        idle_after_done = 0
        while idle_after_done < 3:
            relayed = relay.run_once(limit=25)
            if writers_done.is_set() and relayed == 0:
                idle_after_done += 1
            time.sleep(0.001)

    relaying = threading.Thread(target=relay_loop)
    relaying.start()
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    writers_done.set()
    relaying.join(timeout=60)

    committed = setup.notifications(1, 100_000)
    published = [int(m.headers[NOTIFICATION_HEADER]) for m in bus.messages(TOPIC)]
    try:
        assert conflicts, "the scenario should include rolled-back appends (sequence gaps)"
        assert committed[-1].notification_id is not None
        assert committed[-1].notification_id > len(committed), "expected gaps in the id sequence"
        assert published == [e.notification_id for e in committed]
        assert [m.value for m in bus.messages(TOPIC)] == [
            f"{e.stream_id}/{e.version}".encode() for e in committed
        ]
    finally:
        setup.close()
