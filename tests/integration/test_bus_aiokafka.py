"""The aiokafka publisher on a real Kafka broker: the bus contract, per-key order under load, and
refusals by the broker surfaced by ``flush``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "bus"))
from bus_contract import BusContract, MakeConsumer, Recorder, deliver  # noqa: E402
from cbec.bus import (  # noqa: E402
    BatchHandler,
    Consumer,
    DeadLetter,
    Handler,
    Publisher,
    PublishFailed,
    Subscription,
)
from cbec.bus.aio_kafka import AioKafkaPublisher  # noqa: E402
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def aio_publisher(kafka_bootstrap: str) -> Iterator[AioKafkaPublisher]:
    publisher = AioKafkaPublisher(kafka_bootstrap, linger_ms=1, client_id="cbec-test-aio")
    yield publisher
    publisher.close()


@pytest.fixture
def consumers(kafka_bootstrap: str) -> Iterator[MakeConsumer]:
    made: list[Consumer] = []

    def make(
        subscription: Subscription,
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
        dead_letter: DeadLetter | None = None,
    ) -> Consumer:
        consumer = KafkaConsumerLoop(
            kafka_bootstrap, subscription, handler, batch_handler=batch_handler, dead_letter=dead_letter
        )
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        consumer.close()


class TestAioKafkaPublisherOnTheBus(BusContract):
    @pytest.fixture
    def publisher(self, aio_publisher: AioKafkaPublisher) -> Publisher:
        return aio_publisher

    @pytest.fixture
    def new_topic(self, kafka_bootstrap: str, kafka_topic_prefix: str) -> Callable[[], str]:
        numbers = count(1)

        def new_topic() -> str:
            name = f"{kafka_topic_prefix}{next(numbers)}"
            ensure_topics(kafka_bootstrap, [name], partitions=3)
            return name

        return new_topic

    @pytest.fixture
    def make_consumer(self, consumers: MakeConsumer) -> MakeConsumer:
        return consumers


def test_thousands_of_messages_keep_their_order_per_key_across_flushes(
    aio_publisher: AioKafkaPublisher, consumers: MakeConsumer, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}load"
    ensure_topics(kafka_bootstrap, [topic], partitions=4)
    keys = [f"EBP001:SO-{k}" for k in range(25)]
    for round_no in range(4):
        for n in range(20):
            for key in keys:
                aio_publisher.publish(topic, key, f"{key}#{round_no * 20 + n}".encode())
        aio_publisher.flush()
    seen = Recorder()
    consumer = consumers(Subscription((topic,), "g-aio-load"), seen)

    deliver(consumer, lambda: len(seen.seen) >= 2000, timeout=60)

    assert len(seen.seen) == 2000
    for key in keys:
        assert [m.value for m in seen.seen if m.key == key] == [f"{key}#{n}".encode() for n in range(80)]


def test_a_message_the_broker_refuses_fails_the_flush_and_the_publisher_goes_on(
    aio_publisher: AioKafkaPublisher, consumers: MakeConsumer, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    small = f"{kafka_topic_prefix}small"
    ensure_topics(kafka_bootstrap, [small], partitions=1, configs={"max.message.bytes": "2000"})
    aio_publisher.publish(small, "k", b"x" * 10_000)  # under the client's limit, over the topic's

    with pytest.raises(PublishFailed):
        aio_publisher.flush(timeout=30)

    aio_publisher.publish(small, "k", b"fits")
    aio_publisher.flush(timeout=30)
    seen = Recorder()
    deliver(consumers(Subscription((small,), "g-aio-small"), seen), lambda: len(seen.seen) == 1)
    assert seen.values == [b"fits"]
