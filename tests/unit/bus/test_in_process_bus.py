"""The bus contract on the in-process bus, plus what tests and the demo use it for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from itertools import count

import pytest
from bus_contract import BusContract, MakeConsumer, Recorder
from cbec.bus import (
    BatchHandler,
    Consumer,
    DeadLetter,
    Handler,
    InProcessBus,
    Message,
    Publisher,
    Subscription,
    clearance_key,
)


class TestInProcessBus(BusContract):
    @pytest.fixture
    def bus(self) -> InProcessBus:
        return InProcessBus(partitions=3)

    @pytest.fixture
    def publisher(self, bus: InProcessBus) -> Publisher:
        return bus

    @pytest.fixture
    def new_topic(self) -> Callable[[], str]:
        numbers = count(1)
        return lambda: f"cbec.test{next(numbers)}.events"

    @pytest.fixture
    def make_consumer(self, bus: InProcessBus) -> Iterator[MakeConsumer]:
        made: list[Consumer] = []

        def make(
            subscription: Subscription,
            handler: Handler | None = None,
            *,
            batch_handler: BatchHandler | None = None,
            dead_letter: DeadLetter | None = None,
        ) -> Consumer:
            consumer = bus.consumer(
                subscription, handler, batch_handler=batch_handler, dead_letter=dead_letter
            )
            made.append(consumer)
            return consumer

        yield make
        for consumer in made:
            consumer.close()


def test_the_bus_keeps_every_topic_log_for_inspection() -> None:
    bus = InProcessBus(partitions=2)
    bus.publish("cbec.order.events", clearance_key("EBP001", "SO-1"), b"a")
    bus.publish("cbec.order.events", clearance_key("EBP001", "SO-2"), b"b")
    bus.publish("cbec.out.status", "EBP001:SO-1", b"c")
    assert [m.value for m in bus.messages("cbec.order.events")] == [b"a", b"b"]
    assert bus.messages("cbec.order.events")[0].key == "EBP001:SO-1"
    assert bus.topics() == ["cbec.order.events", "cbec.out.status"]
    assert bus.messages("cbec.nothing") == []


def test_partitioning_is_the_same_on_every_run() -> None:
    def partitions() -> list[int]:
        bus = InProcessBus(partitions=4)
        for n in range(20):
            bus.publish("t", f"EBP001:SO-{n}", b"x")
        return [m.partition for m in bus.messages("t")]

    assert partitions() == partitions()
    assert len(set(partitions())) > 1


def test_drain_follows_handlers_that_publish_further_messages() -> None:
    bus = InProcessBus()
    status = Recorder()

    def saga(message: Message) -> None:
        bus.publish("cbec.out.status", message.key or "", b"released:" + message.value)

    bus.consumer(Subscription(("cbec.order.events",), "saga"), saga)
    bus.consumer(Subscription(("cbec.out.status",), "platform"), status)
    bus.publish("cbec.order.events", "EBP001:SO-1", b"SO-1")

    assert bus.drain() == 2
    assert status.values == [b"released:SO-1"]
    assert bus.lag("saga", "cbec.order.events") == 0


def test_a_rewound_group_receives_the_messages_again() -> None:
    bus = InProcessBus()
    seen = Recorder()
    bus.consumer(Subscription(("t",), "g"), seen)
    for value in (b"1", b"2", b"3"):
        bus.publish("t", "k", value)
    bus.drain()

    bus.rewind("g", "t", offset=1)
    bus.drain()

    assert seen.values == [b"1", b"2", b"3", b"2", b"3"]
    assert bus.committed("g", "t") == 3


def test_duplicate_delivery_hands_each_message_over_twice() -> None:
    bus = InProcessBus()
    seen, other = Recorder(), Recorder()
    bus.consumer(Subscription(("t",), "g"), seen)
    bus.consumer(Subscription(("t",), "other"), other)
    bus.duplicate_deliveries("g")
    bus.publish("t", "k", b"1")
    bus.drain()
    assert seen.values == [b"1", b"1"]
    assert other.values == [b"1"]


def test_run_keeps_delivering_and_retries_a_failed_handler_until_stopped() -> None:
    bus = InProcessBus()
    seen = Recorder(fail_on={b"2"})
    bus.consumer(Subscription(("t",), "g"), seen)

    async def scenario() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(bus.run(poll_interval=0.001, stop=stop))
        for value in (b"1", b"2", b"3"):
            bus.publish("t", "k", value)
        for _ in range(1000):
            if len(seen.seen) == 3:
                break
            await asyncio.sleep(0.001)
        stop.set()
        await asyncio.wait_for(runner, 1)

    asyncio.run(scenario())
    assert seen.values == [b"1", b"2", b"3"]


def test_a_subscription_needs_a_topic() -> None:
    with pytest.raises(ValueError):
        Subscription((), "g")
    assert Subscription("t", "g").topics == ("t",)  # type: ignore[arg-type, unused-ignore]
