"""Events leave Postgres through the outbox relay and reach a Kafka consumer, in order per clearance."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import NAMESPACE_URL, uuid5

import pytest
from cbec.bus import Message, Subscription
from cbec.bus.kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics
from cbec.store import AlreadyProcessed, EventStore, NewEvent, RecordedEvent, canonical_json
from cbec.store.outbox import OutboxRelay, tracking_for

pytestmark = pytest.mark.integration


@pytest.fixture
def order_store(database_url: str, pg_schema: str) -> Iterator[EventStore]:
    store = EventStore.open(database_url, schema=pg_schema, name="order")
    yield store
    store.close()


@pytest.fixture
def saga_store(database_url: str, pg_schema: str) -> Iterator[EventStore]:
    store = EventStore.open(database_url, schema=pg_schema, name="saga")
    yield store
    store.close()


def test_a_consumer_sees_each_clearance_in_order_and_ignores_republished_copies(
    order_store: EventStore,
    saga_store: EventStore,
    kafka_bootstrap: str,
    kafka_topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = f"{kafka_topic_prefix}order.events"
    ensure_topics(kafka_bootstrap, [topic], partitions=3)

    def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        key = f"EBP001:{event.data['orderNo']}"
        return [(topic, key, canonical_json({"type": event.type, "version": event.version}))]

    for n in range(10):
        order_no = f"SO-{n}"
        stream = uuid5(NAMESPACE_URL, f"order:EBP001:{order_no}")
        order_store.append(stream, 0, [NewEvent("OrderReceived", {"orderNo": order_no})])
        order_store.append(stream, 1, [NewEvent("OrderReleased", {"orderNo": order_no})])

    def crash(*_: object) -> None:
        raise RuntimeError("relay killed after publishing, before recording its position")

    publisher = KafkaPublisher(kafka_bootstrap)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(order_store, "record_tracking", crash)
            with pytest.raises(RuntimeError):
                OutboxRelay(order_store, publisher, name="order", route=route).run_once()
        assert OutboxRelay(order_store, publisher, name="order", route=route).run_once() == 20
    finally:
        publisher.close()

    effects: dict[str, list[str]] = {}

    def saga(message: Message) -> None:
        try:
            saga_store.record_tracking(tracking_for("saga", message))
        except AlreadyProcessed:
            return
        effects.setdefault(message.key or "", []).append(message.headers["cbec-event-type"])

    consumer = KafkaConsumerLoop(kafka_bootstrap, Subscription((topic,), "saga"), saga)
    try:
        received = 0
        for _ in range(100):
            received += consumer.run_once(0.2)
            if received == 40:
                break
    finally:
        consumer.close()

    assert received == 40
    assert effects == {f"EBP001:SO-{n}": ["OrderReceived", "OrderReleased"] for n in range(10)}
