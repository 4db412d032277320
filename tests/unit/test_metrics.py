"""Process metrics: every handled message counted by topic, failures by kind, dead letters; the outbox
backlog and per-tenant gauges read when scraped (at most every few seconds), never per message."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from cbec.bus.kafka import KafkaConsumerLoop
from cbec.bus.ports import Message, Subscription
from cbec.health import Heartbeat
from cbec.metrics import Instrumented, Sampled, cached, exposition, outbox_backlog
from cbec.store.event_store import EventStore
from cbec.store.events import NewEvent
from cbec.store.outbox import OutboxRelay
from kafka.structs import TopicPartition
from prometheus_client import REGISTRY, CollectorRegistry
from runtime_scenarios import TOPIC, FakeKafkaConsumer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def message(topic: str, offset: int = 0) -> Message:
    return Message(topic, 0, offset, "k", b"{}", {})


def test_handled_messages_failures_and_dead_letters_are_counted_by_topic() -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    beat = Heartbeat("consumer-cbec-order")
    counted = Instrumented(service, beat)
    busy: list[float] = []

    def handle(m: Message) -> None:
        busy.append(beat.busy_for())
        if m.offset == 1:
            raise ValueError("bad field")

    handler = counted.handler(handle)
    assert handler is not None
    handler(message("cbec.in.order"))
    with pytest.raises(ValueError):
        handler(message("cbec.in.order", 1))
    batch = counted.batch_handler(lambda ms: None)
    assert batch is not None
    batch([message("cbec.in.payment", n) for n in range(3)])
    letter = counted.dead_letter(lambda m, e: None)
    assert letter is not None
    letter(message("cbec.in.order", 1), ValueError("bad field"))

    assert sample("cbec_messages_handled_total", service=service, topic="cbec.in.order") == 2
    assert sample("cbec_messages_handled_total", service=service, topic="cbec.in.payment") == 3
    assert sample("cbec_handler_errors_total", service=service, topic="cbec.in.order", kind="ValueError") == 1
    assert sample("cbec_messages_dead_lettered_total", service=service, topic="cbec.in.order") == 1
    assert len(busy) == 2 and beat.busy_for() == 0.0  # busy while handling, waiting again after


def test_a_heartbeat_counts_only_the_time_of_the_current_unit_of_work() -> None:
    clock = Clock()
    beat = Heartbeat("poller-0", clock)
    with beat.busy():
        clock.now = 4.0
        with beat.busy():  # nested: the outer start counts
            clock.now = 5.0
        assert beat.busy_for() == 5.0
    clock.now = 100.0
    assert beat.busy_for() == 0.0


def test_the_outbox_backlog_is_what_is_stored_but_not_relayed() -> None:
    store = EventStore.open("sqlite:///:memory:", schema="order", name="order")
    relay = OutboxRelay(store, _Sink(), name="order", route=lambda e: [("cbec.out.order", "k", b"{}")])
    store.append(uuid.uuid4(), 0, [NewEvent("Declared", {"n": 1}), NewEvent("Declared", {"n": 2})])
    backlog = outbox_backlog([(relay, store)], every=0)
    registry = CollectorRegistry()
    registry.register(backlog)
    assert registry.get_sample_value("cbec_outbox_backlog", {"outbox": "order"}) == 2
    relay.run_once()
    assert registry.get_sample_value("cbec_outbox_backlog", {"outbox": "order"}) == 0
    store.close()


def test_sampled_gauges_ask_at_most_every_few_seconds_and_a_failed_read_shows_nothing() -> None:
    clock, reads = Clock(), []

    def read() -> list[tuple[Sequence[str], float]]:
        reads.append(clock.now)
        if clock.now >= 20:
            raise ConnectionError("database gone")
        return [(("3105960001",), 1.0)]

    gauge = Sampled("cbec_notification_circuit_open", "open circuits", ["tenant"], read, every=10, clock=clock)
    registry = CollectorRegistry()
    registry.register(gauge)
    assert registry.get_sample_value("cbec_notification_circuit_open", {"tenant": "3105960001"}) == 1
    clock.now = 5
    registry.get_sample_value("cbec_notification_circuit_open", {"tenant": "3105960001"})
    assert reads == [0]
    clock.now = 20
    assert registry.get_sample_value("cbec_notification_circuit_open", {"tenant": "3105960001"}) is None
    assert b"cbec_notification_circuit_open" in exposition(registry)  # the family stays, empty


def test_a_cached_read_serves_several_gauges_from_one_query() -> None:
    clock, queries = Clock(), []
    states = cached(lambda: queries.append(1) or len(queries), every=10, clock=clock)
    assert (states(), states()) == (1, 1)
    clock.now = 10
    assert states() == 2


class _Sink:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        self.sent.append(topic)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class BehindConsumer(FakeKafkaConsumer):
    """A consumer whose fetches reported the partition's end at offset 12; it is at 5."""

    def highwater(self, tp: TopicPartition) -> int | None:
        return 12

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return 5


def test_a_consumer_reports_its_lag_per_partition_from_what_its_fetches_said() -> None:
    loop = KafkaConsumerLoop("fake:9092", Subscription((TOPIC,), "cbec-lag-test"), lambda m: None,
                             consumer_factory=BehindConsumer)
    loop.run_once(timeout=0)
    loop._sample_lag()
    assert sample("cbec_consumer_lag", group="cbec-lag-test", topic=TOPIC, partition="0") == 7
    loop._consumer.assigned = set()  # revoked: the series goes
    loop._sample_lag(every=0)
    assert REGISTRY.get_sample_value("cbec_consumer_lag", {"group": "cbec-lag-test", "topic": TOPIC,
                                                           "partition": "0"}) is None
