"""The outbox relay on SQLite and the in-process bus: every event leaves, in order, at least once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from uuid import uuid4

import pytest
from cbec.bus import InProcessBus, Message, PublishFailed, Subscription
from cbec.store import AlreadyProcessed, EventStore, NewEvent, RecordedEvent, canonical_json
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER, OutboxRelay, tracking_for
from store_contract import order_stream, received, released

TOPIC = "cbec.order.events"


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    if event.type == "OrderNoted":  # internal bookkeeping, not announced
        return []
    body = canonical_json({"type": event.type, "orderNo": event.data["orderNo"]})
    return [(TOPIC, f"EBP001:{event.data['orderNo']}", body)]


@pytest.fixture
def store() -> Iterator[EventStore]:
    store = EventStore.open("sqlite:///:memory:", schema="order", name="order")
    yield store
    store.close()


def published(bus: InProcessBus) -> list[tuple[str, str | None]]:
    return [(m.headers["cbec-event-type"], m.key) for m in bus.messages(TOPIC)]


class FlakyPublisher:
    """Forwards to a bus but can refuse the next flush, as a broker outage would."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.fail_next_flush = False

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        self.bus.publish(topic, key, value, headers)

    def flush(self) -> None:
        if self.fail_next_flush:
            self.fail_next_flush = False
            raise PublishFailed("broker unavailable")


def test_the_relay_publishes_events_in_notification_order_and_remembers_how_far_it_got(
    store: EventStore,
) -> None:
    bus = InProcessBus()
    store.append(order_stream("SO-1"), 0, [received("SO-1")])
    ids = store.append(order_stream("SO-2"), 0, [received("SO-2"), released("SO-2")])
    relay = OutboxRelay(store, bus, name="order", route=route)

    assert relay.run_once() == 3
    assert relay.run_once() == 0

    assert published(bus) == [
        ("OrderReceived", "EBP001:SO-1"),
        ("OrderReceived", "EBP001:SO-2"),
        ("OrderReleased", "EBP001:SO-2"),
    ]
    assert store.max_tracking_id("outbox:order") == ids[-1] == relay.position()


def test_a_restarted_relay_continues_where_the_last_one_stopped(store: EventStore) -> None:
    bus = InProcessBus()
    store.append(order_stream("SO-1"), 0, [received("SO-1")])
    OutboxRelay(store, bus, name="order", route=route).run_once()
    store.append(order_stream("SO-1"), 1, [released("SO-1")])

    assert OutboxRelay(store, bus, name="order", route=route).run_once() == 1
    assert published(bus) == [("OrderReceived", "EBP001:SO-1"), ("OrderReleased", "EBP001:SO-1")]


def test_rounds_are_limited_and_events_routed_nowhere_still_advance_the_position(store: EventStore) -> None:
    bus = InProcessBus()
    stream = order_stream("SO-1")
    store.append(stream, 0, [received("SO-1"), NewEvent("OrderNoted", {"orderNo": "SO-1"}), released("SO-1")])
    relay = OutboxRelay(store, bus, name="order", route=route)

    assert relay.run_once(limit=2) == 2
    assert relay.run_once(limit=2) == 1
    assert published(bus) == [("OrderReceived", "EBP001:SO-1"), ("OrderReleased", "EBP001:SO-1")]


def test_a_failed_flush_records_nothing_and_the_next_round_publishes_again(store: EventStore) -> None:
    bus = InProcessBus()
    publisher = FlakyPublisher(bus)
    store.append(order_stream("SO-1"), 0, [received("SO-1")])
    relay = OutboxRelay(store, publisher, name="order", route=route)

    publisher.fail_next_flush = True
    with pytest.raises(PublishFailed):
        relay.run_once()
    assert store.max_tracking_id("outbox:order") is None

    assert relay.run_once() == 1
    assert published(bus) == [("OrderReceived", "EBP001:SO-1")] * 2  # at least once


def test_messages_say_where_they_come_from_so_consumers_can_dedupe(store: EventStore) -> None:
    bus = InProcessBus()
    (nid,) = store.append(order_stream("SO-1"), 0, [received("SO-1")])
    OutboxRelay(store, bus, name="order", route=route).run_once()
    (message,) = bus.messages(TOPIC)
    assert message.headers[SOURCE_HEADER] == "order"
    assert message.headers[NOTIFICATION_HEADER] == str(nid)
    assert message.headers["cbec-stream-id"] == str(order_stream("SO-1"))
    assert message.headers["cbec-stream-version"] == "1"


def test_a_consumer_recording_tracking_for_ignores_copies_republished_after_a_relay_crash(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = InProcessBus(partitions=2)
    for n in range(4):
        store.append(order_stream(f"SO-{n}"), 0, [received(f"SO-{n}")])

    def crash(*_: object) -> None:
        raise RuntimeError("process killed after flush, before recording its position")

    with monkeypatch.context() as patch:
        patch.setattr(store, "record_tracking", crash)
        with pytest.raises(RuntimeError):
            OutboxRelay(store, bus, name="order", route=route).run_once()
    OutboxRelay(store, bus, name="order", route=route).run_once()
    assert len(bus.messages(TOPIC)) == 8  # every event went out twice

    saga_store = EventStore.open("sqlite:///:memory:", schema="saga", name="saga")
    effects: list[str] = []

    def saga(message: Message) -> None:
        try:
            saga_store.append(uuid4(), 0, [NewEvent("Seen", {})], tracking=tracking_for("saga", message))
        except AlreadyProcessed:
            return
        effects.append(message.key or "")

    bus.consumer(Subscription((TOPIC,), "saga"), saga)
    bus.drain()
    saga_store.close()

    assert sorted(effects) == [f"EBP001:SO-{n}" for n in range(4)]


def test_messages_from_other_producers_are_deduped_by_offset() -> None:
    message = Message("cbec.in.order", 2, 17, "EBP001:SO-1", b"{}")
    tracking = tracking_for("order", message)
    assert (tracking.application_name, tracking.notification_id) == ("order|cbec.in.order/2", 17)


def test_a_second_relay_behind_the_first_does_not_fail(store: EventStore) -> None:
    bus = InProcessBus()
    store.append(order_stream("SO-1"), 0, [received("SO-1")])
    slow = OutboxRelay(store, bus, name="order", route=route)
    slow.position()  # reads 0 now
    OutboxRelay(store, bus, name="order", route=route).run_once()

    assert slow.run_once() == 1  # publishes a duplicate, then finds the position taken
    assert slow.run_once() == 0


def test_run_forever_relays_new_events_until_stopped(store: EventStore) -> None:
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=route)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run_forever(poll_interval=0.005, stop=stop))
        store.append(order_stream("SO-1"), 0, [received("SO-1")])
        for _ in range(400):
            if bus.messages(TOPIC):
                break
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(scenario())
    assert published(bus) == [("OrderReceived", "EBP001:SO-1")]
