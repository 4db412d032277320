"""The bus contract on a real Kafka broker."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "bus"))
from bus_contract import BusContract, MakeConsumer  # noqa: E402
from cbec.bus import BatchHandler, Consumer, DeadLetter, Handler, Publisher, Subscription  # noqa: E402
from cbec.bus.kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics  # noqa: E402

pytestmark = pytest.mark.integration


class TestKafkaBus(BusContract):
    @pytest.fixture
    def publisher(self, kafka_bootstrap: str) -> Iterator[Publisher]:
        publisher = KafkaPublisher(kafka_bootstrap, linger_ms=1)
        yield publisher
        publisher.close()

    @pytest.fixture
    def new_topic(self, kafka_bootstrap: str, kafka_topic_prefix: str) -> Callable[[], str]:
        numbers = count(1)

        def new_topic() -> str:
            name = f"{kafka_topic_prefix}{next(numbers)}"
            ensure_topics(kafka_bootstrap, [name], partitions=3)
            return name

        return new_topic

    @pytest.fixture
    def make_consumer(self, kafka_bootstrap: str) -> Iterator[MakeConsumer]:
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


def test_ensure_topics_creates_only_what_is_missing(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    names = [f"{kafka_topic_prefix}a", f"{kafka_topic_prefix}b"]
    assert ensure_topics(kafka_bootstrap, names[:1], partitions=2) == names[:1]
    assert ensure_topics(kafka_bootstrap, names, partitions=2) == names[1:]
    assert ensure_topics(kafka_bootstrap, names, partitions=2) == []
