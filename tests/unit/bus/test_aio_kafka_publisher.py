"""The aiokafka publisher's buffering, acknowledgement and failure rules, on a fake producer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner as AioPartitioner
from cbec.bus import Publisher, PublishFailed
from cbec.bus.aio_kafka import AioKafkaPublisher
from kafka.partitioner.default import murmur2


class FakeProducer:
    """Acknowledges each send on the next loop turns; refuses values listed in ``refuse`` (the
    broker says no) and raises at ``send`` for values in ``unsendable`` (the client says no)."""

    def __init__(self, refuse: set[bytes] = frozenset(), unsendable: set[bytes] = frozenset()) -> None:  # type: ignore[assignment]
        self.refuse = set(refuse)
        self.unsendable = set(unsendable)
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]] = []
        self.acked: list[bytes | None] = []
        self.started = self.stopped = False
        self.loop_thread: threading.Thread | None = None
        self.hold_acks: asyncio.Event | None = None

    async def start(self) -> None:
        self.started = True
        self.loop_thread = threading.current_thread()

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        if value in self.unsendable:
            raise ValueError(f"cannot send {value!r}")
        self.sent.append((topic, key, value, headers))
        return asyncio.ensure_future(self._ack(value))

    async def _ack(self, value: bytes | None) -> str:
        await asyncio.sleep(0)
        if self.hold_acks is not None:
            await self.hold_acks.wait()
        if value in self.refuse:
            raise RuntimeError(f"broker refused {value!r}")
        self.acked.append(value)
        return "ok"


def publisher_on(fake: FakeProducer) -> AioKafkaPublisher:
    return AioKafkaPublisher("unused:9092", producer_factory=lambda: fake)


def test_it_is_a_publisher_whose_producer_runs_on_its_own_thread() -> None:
    fake = FakeProducer()
    publisher = publisher_on(fake)
    try:
        assert isinstance(publisher, Publisher)
        assert fake.started
        assert fake.loop_thread is not None and fake.loop_thread is not threading.current_thread()
    finally:
        publisher.close()
    assert fake.stopped


def test_publish_only_buffers_and_flush_sends_in_publish_order_and_waits_for_every_ack() -> None:
    fake = FakeProducer()
    with publisher_on(fake) as publisher:
        for n in range(5):
            publisher.publish("cbec.order.events", f"EBP001:SO-{n % 2}", f"{n}".encode(), {"h": str(n)})
        assert fake.sent == []

        publisher.flush()

        assert [value for _, _, value, _ in fake.sent] == [b"0", b"1", b"2", b"3", b"4"]
        assert fake.sent[1] == ("cbec.order.events", b"EBP001:SO-1", b"1", [("h", b"1")])
        assert sorted(v or b"" for v in fake.acked) == [b"0", b"1", b"2", b"3", b"4"]


def test_a_flush_sends_only_what_was_published_since_the_last_one() -> None:
    fake = FakeProducer()
    with publisher_on(fake) as publisher:
        publisher.publish("t", "k", b"first")
        publisher.flush()
        publisher.flush()
        publisher.publish("t", "k", b"second")
        publisher.flush()

    assert [value for _, _, value, _ in fake.sent] == [b"first", b"second"]


def test_a_message_the_broker_refuses_fails_the_flush_and_the_next_flush_starts_clean() -> None:
    fake = FakeProducer(refuse={b"bad"})
    with publisher_on(fake) as publisher:
        for value in (b"1", b"bad", b"3"):
            publisher.publish("t", "k", value)
        with pytest.raises(PublishFailed, match="1 message"):
            publisher.flush()

        publisher.publish("t", "k", b"4")
        publisher.flush()

    assert fake.acked == [b"1", b"3", b"4"]


def test_nothing_after_a_message_the_client_cannot_send_is_sent() -> None:
    fake = FakeProducer(unsendable={b"huge"})
    with publisher_on(fake) as publisher:
        for value in (b"1", b"huge", b"3"):
            publisher.publish("t", "k", value)
        with pytest.raises(PublishFailed, match="cannot send"):
            publisher.flush()

    assert [value for _, _, value, _ in fake.sent] == [b"1"]


def test_a_flush_that_is_not_acknowledged_in_time_fails() -> None:
    fake = FakeProducer()
    fake.hold_acks = asyncio.Event()  # never set: acknowledgements never come
    with publisher_on(fake) as publisher:
        publisher.publish("t", "k", b"1")
        with pytest.raises(PublishFailed, match="not acknowledged"):
            publisher.flush(timeout=0.2)


def test_a_closed_publisher_refuses_to_publish_and_closing_twice_is_harmless() -> None:
    publisher = publisher_on(FakeProducer())
    publisher.close()
    publisher.close()
    with pytest.raises(RuntimeError):
        publisher.publish("t", "k", b"late")


def test_a_producer_that_cannot_start_is_reported_and_leaves_no_loop_thread() -> None:
    class Unreachable(FakeProducer):
        async def start(self) -> None:
            raise ConnectionError("no broker")

    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ConnectionError):
        AioKafkaPublisher("unused:9092", client_id="doomed", producer_factory=Unreachable)
    assert "aiokafka-doomed" not in {t.name for t in threading.enumerate()} - before


def test_keys_land_on_the_same_partitions_as_with_the_kafka_python_publisher() -> None:
    # Switching a relay between publishers must keep each clearance on its partition (ordering).
    keys = [f"EBP{n:03d}:SO-{n * 7919}".encode() for n in range(200)]
    partitions = list(range(6))
    aio = AioPartitioner()
    legacy = [(murmur2(k) & 0x7FFFFFFF) % len(partitions) for k in keys]  # kafka-python's DefaultPartitioner
    assert [aio(k, partitions, partitions) for k in keys] == legacy
