"""What every message bus adapter must do. Subclass ``BusContract`` and provide the fixtures
``publisher``, ``new_topic`` (makes a fresh topic with 3 partitions) and ``make_consumer``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from uuid import uuid4

import pytest
from cbec.bus import Consumer, DeadLetter, Handler, HandlerFailed, Message, Publisher, Subscription

MakeConsumer = Callable[..., Consumer]


def deliver(consumer: Consumer, until: Callable[[], bool], timeout: float = 90.0) -> None:
    """Run the consumer until ``until()`` holds (Kafka needs a few polls to join its group; a loaded
    machine can take tens of seconds for a first assignment on a new topic)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for deliveries")
        consumer.run_once(0.2)


def drain(consumer: Consumer, quiet_polls: int = 3) -> None:
    """Run the consumer until it has been idle for a few polls in a row."""
    idle = 0
    while idle < quiet_polls:
        idle = idle + 1 if consumer.run_once(0.2) == 0 else 0


class Recorder:
    """A handler that remembers what it saw, and can be told to fail on some values."""

    def __init__(self, fail_on: set[bytes] | None = None, fail_times: int = 1) -> None:
        self.seen: list[Message] = []
        self.fail_on = fail_on or set()
        self.failures_left = {v: fail_times for v in self.fail_on}

    def __call__(self, message: Message) -> None:
        if self.failures_left.get(message.value, 0) > 0:
            self.failures_left[message.value] -= 1
            raise RuntimeError("handler refused " + message.value.decode())
        self.seen.append(message)

    @property
    def values(self) -> list[bytes]:
        return [m.value for m in self.seen]


class BusContract:
    @pytest.fixture
    def publisher(self) -> Publisher:
        raise NotImplementedError

    @pytest.fixture
    def new_topic(self) -> Callable[[], str]:
        raise NotImplementedError

    @pytest.fixture
    def make_consumer(self) -> MakeConsumer:
        """``make_consumer(subscription, handler=None, *, batch_handler=None, dead_letter=None)``."""
        raise NotImplementedError

    @staticmethod
    def group() -> str:
        return f"g-{uuid4().hex[:8]}"

    def test_a_subscriber_gets_each_message_with_its_key_value_and_headers(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        publisher.publish(topic, "EBP001:SO-1", b'{"n":1}', {"cbec-event-type": "OrderReceived"})
        publisher.flush()
        seen = Recorder()
        consumer = make_consumer(Subscription((topic,), self.group()), seen)

        deliver(consumer, lambda: len(seen.seen) == 1)

        (message,) = seen.seen
        assert (message.topic, message.key, message.value) == (topic, "EBP001:SO-1", b'{"n":1}')
        assert message.headers == {"cbec-event-type": "OrderReceived"}
        assert message.offset >= 0 and message.partition >= 0

    def test_messages_of_one_clearance_arrive_in_publish_order(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        keys = [f"EBP001:SO-{i}" for i in range(5)]
        for n in range(20):
            for key in keys:
                publisher.publish(topic, key, f"{key}#{n}".encode())
        publisher.flush()
        seen = Recorder()
        consumer = make_consumer(Subscription((topic,), self.group()), seen)

        deliver(consumer, lambda: len(seen.seen) == 100)

        for key in keys:
            mine = [m.value for m in seen.seen if m.key == key]
            assert mine == [f"{key}#{n}".encode() for n in range(20)]
            assert len({m.partition for m in seen.seen if m.key == key}) == 1
        by_partition: dict[int, list[int]] = {}
        for m in seen.seen:
            by_partition.setdefault(m.partition, []).append(m.offset)
        assert all(offsets == sorted(offsets) for offsets in by_partition.values())

    def test_every_group_gets_every_message_and_only_from_its_topics(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        orders, payments = new_topic(), new_topic()
        saga, status, payment_only = Recorder(), Recorder(), Recorder()
        consumers = [
            make_consumer(Subscription((orders, payments), self.group()), saga),
            make_consumer(Subscription((orders,), self.group()), status),
            make_consumer(Subscription((payments,), self.group()), payment_only),
        ]
        publisher.publish(orders, "k1", b"order")
        publisher.publish(payments, "k1", b"payment")
        publisher.flush()

        deliver(consumers[0], lambda: len(saga.seen) == 2)
        deliver(consumers[1], lambda: len(status.seen) == 1)
        deliver(consumers[2], lambda: len(payment_only.seen) == 1)
        for consumer in consumers:
            drain(consumer)

        assert sorted(saga.values) == [b"order", b"payment"]
        assert status.values == [b"order"]
        assert payment_only.values == [b"payment"]

    def test_a_message_whose_handler_fails_is_delivered_again_in_order(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        for value in (b"1", b"2", b"3"):
            publisher.publish(topic, "EBP001:SO-1", value)
        publisher.flush()
        seen = Recorder(fail_on={b"2"})
        consumer = make_consumer(Subscription((topic,), self.group()), seen)

        with pytest.raises(HandlerFailed) as failure:
            deliver(consumer, lambda: False)
        assert failure.value.message.value == b"2"

        deliver(consumer, lambda: len(seen.seen) == 3)
        drain(consumer)
        assert seen.values == [b"1", b"2", b"3"]

    def test_a_restarted_consumer_resumes_after_the_last_handled_message(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic, group = new_topic(), self.group()
        publisher.publish(topic, "k", b"before-1")
        publisher.publish(topic, "k", b"before-2")
        publisher.flush()
        first = Recorder()
        consumer = make_consumer(Subscription((topic,), group), first)
        deliver(consumer, lambda: len(first.seen) == 2)
        consumer.close()

        publisher.publish(topic, "k", b"after")
        publisher.flush()
        second = Recorder()
        restarted = make_consumer(Subscription((topic,), group), second)
        deliver(restarted, lambda: len(second.seen) >= 1)
        drain(restarted)

        assert second.values == [b"after"]

    def test_a_dead_letter_takes_a_poison_message_and_consumption_goes_on(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        for value in (b"ok-1", b"poison", b"ok-2"):
            publisher.publish(topic, "k", value)
        publisher.flush()
        seen = Recorder(fail_on={b"poison"}, fail_times=1_000)
        dead: list[tuple[bytes, str]] = []
        dead_letter: DeadLetter = lambda message, error: dead.append((message.value, str(error)))  # noqa: E731
        handler: Handler = seen
        consumer = make_consumer(Subscription((topic,), self.group()), handler, dead_letter=dead_letter)

        deliver(consumer, lambda: len(seen.seen) == 2)

        assert seen.values == [b"ok-1", b"ok-2"]
        assert dead == [(b"poison", "handler refused poison")]

    def test_a_batch_handler_gets_runs_of_one_partition_in_offset_order(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        for n in range(30):
            publisher.publish(topic, f"EBP001:SO-{n % 4}", f"{n}".encode())
        publisher.flush()
        batches: list[list[Message]] = []
        consumer = make_consumer(
            Subscription((topic,), self.group()), batch_handler=lambda b: batches.append(list(b))
        )

        deliver(consumer, lambda: sum(len(b) for b in batches) == 30)

        assert all(len({m.partition for m in batch}) == 1 for batch in batches)
        assert all([m.offset for m in batch] == sorted(m.offset for m in batch) for batch in batches)
        values = [int(m.value) for batch in batches for m in batch]
        assert sorted(values) == list(range(30))

    def test_a_failing_batch_is_redone_one_by_one_and_only_the_bad_message_is_refused(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic = new_topic()
        for value in (b"1", b"2", b"bad", b"4"):
            publisher.publish(topic, "EBP001:SO-1", value)
        publisher.flush()
        committed: list[bytes] = []

        def handle(batch: Sequence[Message]) -> None:
            if any(m.value == b"bad" for m in batch):
                raise ValueError("cannot apply " + ",".join(m.value.decode() for m in batch))
            committed.extend(m.value for m in batch)

        dead: list[bytes] = []
        consumer = make_consumer(
            Subscription((topic,), self.group()),
            batch_handler=handle,
            dead_letter=lambda message, error: dead.append(message.value),
        )

        deliver(consumer, lambda: len(committed) == 3)

        assert sorted(committed) == [b"1", b"2", b"4"]
        assert dead == [b"bad"]

    def test_without_a_dead_letter_a_failing_batch_commits_up_to_the_bad_message(
        self, publisher: Publisher, new_topic: Callable[[], str], make_consumer: MakeConsumer
    ) -> None:
        topic, group = new_topic(), self.group()
        for value in (b"1", b"bad", b"3"):
            publisher.publish(topic, "EBP001:SO-1", value)
        publisher.flush()
        committed: list[bytes] = []

        def handle(batch: Sequence[Message]) -> None:
            if any(m.value == b"bad" for m in batch):
                raise ValueError("not yet")
            committed.extend(m.value for m in batch)

        consumer = make_consumer(Subscription((topic,), group), batch_handler=handle)
        with pytest.raises(HandlerFailed) as failure:
            deliver(consumer, lambda: False)
        assert failure.value.message.value == b"bad"
        assert committed == [b"1"]
        consumer.close()

        retried: list[bytes] = []
        restarted = make_consumer(
            Subscription((topic,), group), batch_handler=lambda b: retried.extend(m.value for m in b)
        )
        deliver(restarted, lambda: len(retried) == 2)
        assert retried == [b"bad", b"3"]
