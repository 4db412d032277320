"""The relay is handed what its own process commits: it wakes at once and publishes without reading
the events back; whatever it was not handed (another writer's commits, a restart) it reads from the log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cbec.bus import InProcessBus, PublishFailed
from cbec.runtime import ServiceProcess
from cbec.store import EventStore, NewEvent, RecordedEvent
from cbec.store.outbox import NOTIFICATION_HEADER, OutboxRelay
from store_contract import order_stream, received, released

TOPIC = "cbec.order.events"


class CountingStore(EventStore):
    """The SQLite store, counting how often the log is read."""

    reads = 0

    def notifications(
        self, start: int, limit: int, topics: Sequence[str] = (), *, stop: int | None = None
    ) -> list[RecordedEvent]:
        self.reads += 1
        return super().notifications(start, limit, topics, stop=stop)


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    return [(TOPIC, str(event.stream_id), f"{event.type}:{event.data}".encode())]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'order.db'}"


@pytest.fixture
def store(db: str) -> Iterator[CountingStore]:
    store = CountingStore.open(db, schema="order", name="order")
    yield store
    store.close()


def published_ids(bus: InProcessBus) -> list[int]:
    return [int(m.headers[NOTIFICATION_HEADER]) for m in bus.messages(TOPIC)]


def caught_up(relay: OutboxRelay) -> None:
    """Step the relay as the runtime would until it has nothing more to do."""
    while relay.step():
        pass


def test_a_commit_wakes_the_relay_which_publishes_it_without_reading_the_log(store: CountingStore) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route)
    caught_up(relay)  # the first round reads the log once: it cannot know what came before it
    relay.wakeup.clear()
    reads = store.reads

    ids = store.append(order_stream("SO-1"), 0, [received("SO-1"), released("SO-1")])
    assert relay.wakeup.is_set(), "the commit itself wakes the relay"
    caught_up(relay)
    ids += store.append(order_stream("SO-2"), 0, [received("SO-2")])
    caught_up(relay)

    assert published_ids(bus) == ids
    assert store.reads == reads, "handed-off events are published without a query"
    assert store.max_tracking_id("outbox:order") == ids[-1]


def test_a_handed_off_event_is_published_exactly_as_it_would_be_read_back(store: CountingStore) -> None:
    handed, read = InProcessBus(), InProcessBus()
    relay = OutboxRelay(store, handed, name="handed", route=route)
    caught_up(relay)
    store.append(order_stream("SO-1"), 0, [received("SO-1", "12.50")])  # a Decimal goes in, a string comes out
    caught_up(relay)
    OutboxRelay(store, read, name="read", route=route).run_once()

    assert [(m.key, m.value) for m in handed.messages(TOPIC)] == [(m.key, m.value) for m in read.messages(TOPIC)]
    assert b"'goodsValue': '12.50'" in handed.messages(TOPIC)[0].value


def test_commits_by_another_writer_are_read_from_the_log_in_order_with_the_handed_ones(
    store: CountingStore, db: str
) -> None:
    bus = InProcessBus()
    other = EventStore.open(db, schema="order", name="order")  # another process: its commits are not handed on
    relay = OutboxRelay(store, bus, name="order", route=route)
    caught_up(relay)
    try:
        ids = store.append(order_stream("SO-1"), 0, [received("SO-1")])
        ids += other.append(order_stream("SO-2"), 0, [received("SO-2")])
        ids += store.append(order_stream("SO-3"), 0, [received("SO-3")])
        reads = store.reads
        caught_up(relay)
    finally:
        other.close()

    assert published_ids(bus) == ids
    assert store.reads == reads + 1, "one read for the gap, up to the handed-off event"


def test_the_safety_net_reads_the_log_when_the_relay_was_not_woken(store: CountingStore, db: str) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route, safety_net=0.05)
    caught_up(relay)
    other = EventStore.open(db, schema="order", name="order")
    try:
        (nid,) = other.append(order_stream("SO-1"), 0, [received("SO-1")])
    finally:
        other.close()

    assert relay.step() == 0 and published_ids(bus) == [], "not woken, not due: nothing read"
    time.sleep(relay.idle())
    caught_up(relay)
    assert published_ids(bus) == [nid]


def test_a_failed_publish_is_repeated_from_the_log(store: CountingStore) -> None:
    bus = InProcessBus()

    class FailingOnce:
        failed = False

        def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
            bus.publish(topic, key, value, headers)

        def flush(self) -> None:
            if not self.failed:
                self.failed = True
                raise PublishFailed("broker unavailable")

    relay = OutboxRelay(store, FailingOnce(), name="order", route=route)
    caught_up(relay)
    ids = store.append(order_stream("SO-1"), 0, [received("SO-1")])
    with pytest.raises(PublishFailed):
        relay.step()
    caught_up(relay)

    assert published_ids(bus) == ids * 2  # at least once: the failed round's message went out again
    assert store.max_tracking_id("outbox:order") == ids[-1]


def test_past_its_bound_the_hand_off_gives_way_to_the_log(store: CountingStore) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route, max_handed=3)
    caught_up(relay)
    ids = [nid for n in range(5) for nid in store.append(order_stream(f"SO-{n}"), 0, [received(f"SO-{n}")])]
    caught_up(relay)
    assert published_ids(bus) == ids


def test_writers_racing_in_threads_are_published_once_each_in_order(store: CountingStore) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route, max_handed=50)
    done = threading.Event()

    def write(writer: int) -> None:
        for n in range(40):
            store.append(order_stream(f"SO-{writer}-{n}"), 0, [received(f"SO-{writer}-{n}")] * (1 + n % 2))

    def relay_until_done() -> None:
        while not done.is_set() or relay.step():
            relay.step(limit=7)

    relaying = threading.Thread(target=relay_until_done)
    relaying.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    relaying.join(30)
    relay.run_once()

    committed = [e.notification_id for e in store.notifications(1, 10_000)]
    assert published_ids(bus) == committed


def test_a_relay_in_a_process_sleeps_until_a_commit_and_then_publishes_at_once(store: CountingStore) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route, safety_net=60.0)
    process = ServiceProcess("order", relays=[relay], tracing=False)
    serving = threading.Thread(target=process.serve, daemon=True)
    serving.start()
    try:
        time.sleep(0.3)
        reads = store.reads
        assert reads == 1, "an idle relay read the log once, at start, and then slept"
        ids = store.append(order_stream("SO-1"), 0, [received("SO-1")])
        deadline = time.monotonic() + 5
        while not bus.messages(TOPIC) and time.monotonic() < deadline:
            time.sleep(0.005)
        took = 5 - (deadline - time.monotonic())
        assert published_ids(bus) == ids
        assert took < 1.0, f"published {took:.2f} s after the commit"
        assert store.reads == reads
    finally:
        process.stop.set()
        serving.join(10)
    assert not serving.is_alive()


def test_a_listener_that_fails_does_not_fail_the_append(store: CountingStore, caplog: Any) -> None:
    def broken(_committed: object) -> None:
        raise RuntimeError("listener bug")

    store.on_commit(broken)
    (nid,) = store.append(order_stream("SO-1"), 0, [NewEvent("OrderReceived", {"orderNo": "SO-1"})])
    assert store.notifications(1, 10)[0].notification_id == nid
    assert "commit listener" in caplog.text
