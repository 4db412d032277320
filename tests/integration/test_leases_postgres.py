"""Singleton loops under replicas, on Postgres: one holder of a lease at a time, a standby that takes
over when the holder goes, and relays of two replicas that publish every event once between them,
woken by each other's commits (LISTEN/NOTIFY), not by polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from uuid import uuid4

import psycopg
import pytest
from cbec.bus import InProcessBus
from cbec.store import EventStore, NewEvent, RecordedEvent
from cbec.store.leases import AdvisoryLease, Lease, lease_for
from cbec.store.outbox import NOTIFICATION_HEADER, OutboxRelay

pytestmark = pytest.mark.integration

TOPIC = "cbec.order.events"


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    return [(TOPIC, str(event.stream_id), b"{}")]


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def stores(database_url: str, pg_schema: str) -> Iterator[tuple[EventStore, EventStore]]:
    """The same store opened twice, as two replicas of a service open it."""
    first = EventStore.open(database_url, schema=pg_schema, name="order")
    second = EventStore.open(database_url, schema=pg_schema, name="order")
    yield first, second
    first.close()
    second.close()


def test_one_replica_holds_a_lease_and_the_other_takes_over_when_it_goes(
    stores: tuple[EventStore, EventStore],
) -> None:
    one, two = (lease_for(store, "tick", retry=0.2) for store in stores)
    leases: list[Lease] = [one, two]
    try:
        assert eventually(lambda: one.held() or two.held())
        time.sleep(0.5)  # the standby has tried at least twice by now
        assert [lease.held() for lease in leases].count(True) == 1
        holder, standby = (one, two) if one.held() else (two, one)

        holder.close()
        assert not holder.held()
        assert eventually(standby.held, 5.0), "the standby takes over once the holder's session ends"
        assert standby.generation == 1
    finally:
        for lease in leases:
            lease.close()


def test_a_holder_whose_session_is_killed_stops_holding_and_the_standby_takes_over(
    stores: tuple[EventStore, EventStore], database_url: str
) -> None:
    first, second = stores
    holder = lease_for(first, "tick", retry=0.2)
    try:
        assert isinstance(holder, AdvisoryLease) and holder.wait_held(10)
        standby = lease_for(second, "tick", retry=0.2)
        try:
            time.sleep(0.5)
            assert not standby.held()
            with psycopg.connect(database_url, autocommit=True) as admin:  # the holder's connection breaks
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
            assert eventually(lambda: not holder.held(), 5.0), "a lost session is noticed at once"
            assert eventually(lambda: holder.held() or standby.held(), 5.0)
            time.sleep(0.5)
            assert [holder.held(), standby.held()].count(True) == 1
        finally:
            standby.close()
    finally:
        holder.close()


def test_the_relays_of_two_replicas_publish_every_event_once_woken_by_each_others_commits(
    stores: tuple[EventStore, EventStore],
) -> None:
    bus = InProcessBus(partitions=2)
    relays = [OutboxRelay(store, bus, name="order", route=route, safety_net=60.0,
                          lease=lease_for(store, "outbox:order", listen=True, retry=0.2))
              for store in stores]
    stop = threading.Event()

    def run(relay: OutboxRelay) -> None:  # the runtime's loop, in short
        while not stop.is_set():
            relay.wakeup.clear()
            if not relay.step():
                relay.wakeup.wait(relay.idle())

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # one replica holds the outbox's lease
        ids: list[int] = []
        for n in range(20):  # both replicas commit, alternately
            ids += stores[n % 2].append(uuid4(), 0, [NewEvent("OrderReceived", {"n": n})])
        assert eventually(lambda: len(bus.messages(TOPIC)) >= len(ids), 10.0), "woken without polling"
        time.sleep(0.3)
        assert [int(m.headers[NOTIFICATION_HEADER]) for m in bus.messages(TOPIC)] == ids
    finally:
        stop.set()
        for relay in relays:
            relay.wakeup.set()
        for thread in threads:
            thread.join(10)
        for relay in relays:
            relay.close()
