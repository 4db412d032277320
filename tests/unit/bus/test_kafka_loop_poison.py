"""The Kafka consumer loop on a fake kafka-python client: a record it cannot decode never kills the loop,
a poison message is dead-lettered after its attempts and committed, an infrastructure error ends the loop."""

from __future__ import annotations

import threading
from collections import namedtuple
from typing import Any

import pytest
from cbec.bus.kafka import KafkaConsumerLoop
from cbec.bus.ports import Message, Subscription
from kafka.structs import OffsetAndMetadata, TopicPartition
from poison_catalogue import catalogue

Record = namedtuple("Record", "topic partition offset key value headers")


class FakeKafkaConsumer:
    """One partition of one topic; ``poll`` returns what is after the position, ``seek`` rewinds."""

    def __init__(self, records: list[Record], **config: Any) -> None:
        self.records = records
        self.position = 0
        self.committed: int | None = None
        self.config = config

    def subscribe(self, topics: list[str], listener: Any) -> None:
        listener.on_partitions_assigned([])

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", 0)}

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        pending = self.records[self.position:]
        self.position = len(self.records)
        return {TopicPartition("t", 0): pending} if pending else {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.committed = offsets[TopicPartition("t", 0)].offset

    def close(self, autocommit: bool = False) -> None:
        pass


def loop_over(records: list[Record], handler: Any, dead: list[tuple[Message, BaseException]],
              **options: Any) -> tuple[KafkaConsumerLoop, FakeKafkaConsumer]:
    made: list[FakeKafkaConsumer] = []

    def factory(**config: Any) -> FakeKafkaConsumer:
        made.append(FakeKafkaConsumer(records, **config))
        return made[0]

    loop = KafkaConsumerLoop("fake:9092", Subscription(("t",), "g"), handler,
                             dead_letter=lambda m, e: dead.append((m, e)), consumer_factory=factory, **options)
    return loop, made[0]


def test_the_whole_catalogue_is_dead_lettered_byte_for_byte_and_the_partition_moves_on() -> None:
    from cbec.contracts.base import ContractError, load_object

    poisons = catalogue()
    records = [Record("t", 0, n, p.key, p.value, list(p.headers)) for n, p in enumerate(poisons)]
    records.append(Record("t", 0, len(records), b"k", b'{"fine": true}', []))
    handled: list[dict[str, Any]] = []

    def handler(message: Message) -> None:
        if message.headers.get("cbec-notification-id", "0").isdigit() is False:
            raise ValueError("notification id is not a number")
        data = load_object(message.value)
        if data != {"fine": True}:
            raise ContractError("not the fine message")
        handled.append(data)

    dead: list[tuple[Message, BaseException]] = []
    loop, consumer = loop_over(records, handler, dead, max_attempts=3)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,), kwargs={"retry_pause": 0.0})
    runner.start()
    try:
        for _ in range(500):
            if consumer.committed == len(records):
                break
            stop.wait(0.01)
    finally:
        stop.set()
        runner.join(5)
    assert consumer.committed == len(records)
    assert handled == [{"fine": True}]
    assert [(m.key_bytes(), None if m.null_value else m.value, m.header_bytes()) for m, _ in dead] == [
        (p.key, p.value, p.headers) for p in poisons]


def test_a_header_that_is_not_utf8_is_named_and_the_handler_is_not_called() -> None:
    calls: list[Message] = []
    dead: list[tuple[Message, BaseException]] = []
    loop, consumer = loop_over([Record("t", 0, 0, b"k", b"{}", [("cbec-source", b"\xff")])], calls.append, dead)
    assert loop.run_once() == 1
    assert calls == [] and consumer.committed == 1
    [(message, error)] = dead
    assert "header 'cbec-source' is not UTF-8" in str(error)
    assert message.header_bytes() == (("cbec-source", b"\xff"),)


def test_an_infrastructure_error_ends_the_loop_after_its_retries_and_nothing_is_committed() -> None:
    def handler(message: Message) -> None:
        raise ConnectionResetError("database connection lost")

    dead: list[tuple[Message, BaseException]] = []
    loop, consumer = loop_over([Record("t", 0, 0, b"k", b"{}", [])], handler, dead, max_attempts=3,
                               max_infrastructure_failures=4)
    with pytest.raises(Exception, match="database connection lost"):
        loop.run_forever(threading.Event(), retry_pause=0.0)
    assert dead == [] and consumer.committed is None
