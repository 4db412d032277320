"""Service processes built from fakes, for tests that run the runtime as a real subprocess.

``python tests/unit/runtime_scenarios.py <scenario> <ready-file>`` runs one scenario's
``ServiceProcess`` (JSON logging configured as ``cbec run`` does) and exits with its exit code.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbec.bus.kafka import KafkaConsumerLoop
from cbec.bus.ports import Message, Subscription
from cbec.logging_setup import configure_logging
from cbec.runtime import ServiceProcess
from kafka.errors import CommitFailedError
from kafka.structs import TopicPartition

TOPIC = "cbec.test.in"


@dataclass
class Record:
    """What kafka-python's poll yields per message (the fields the consumer loop reads)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeKafkaConsumer:
    """Stands in for ``kafka.KafkaConsumer``: joins on the first poll, then serves ``records`` once."""

    def __init__(self, records: Iterable[Record] = (), *, commit_error: Exception | None = None,
                 join: bool = True, **config: Any) -> None:
        self.config = config
        self.records = list(records)
        self.commit_error = commit_error
        self.join = join
        self.listener: Any = None
        self.assigned: set[TopicPartition] = set()
        self.committed: dict[TopicPartition, Any] = {}
        self.closed = False

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.topics, self.listener = topics, listener

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Record]]:
        if not self.join:
            threading.Event().wait(timeout_ms / 1000)
            return {}
        if self.listener is not None and not self.assigned:
            self.assigned = {TopicPartition(TOPIC, 0)}
            self.listener.on_partitions_assigned(self.assigned)
        batch, self.records = self.records, []
        if not batch:
            threading.Event().wait(timeout_ms / 1000)
            return {}
        return {TopicPartition(TOPIC, 0): batch}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.committed.update(offsets)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def close(self, autocommit: bool = True) -> None:
        self.closed = True


def consumer_loop(factory: Callable[..., FakeKafkaConsumer],
                  handle: Callable[[Message], None] = lambda message: None) -> KafkaConsumerLoop:
    return KafkaConsumerLoop("fake:9092", Subscription((TOPIC,), "cbec-test"), handle, consumer_factory=factory)


def commit_fails(ready: Path) -> ServiceProcess:
    """The consumer's first commit fails as after a rebalance; a poller keeps working meanwhile."""

    def factory(**config: Any) -> FakeKafkaConsumer:
        rejected = CommitFailedError("the group rebalanced; buyerIdNumber=11010119900307803X")
        return FakeKafkaConsumer([Record(TOPIC, 0, 0, b"k", b"{}")], commit_error=rejected, **config)

    return ServiceProcess("svc", consumers=[consumer_loop(factory)], pollers=[lambda: 0], ready_file=ready,
                          tracing=False)


def poller_fails(ready: Path) -> ServiceProcess:
    """A poller whose every round fails: retried with backoff, fatal after three rounds."""

    def broken() -> int:
        raise ConnectionError("database went away")

    return ServiceProcess("svc", pollers=[broken], ready_file=ready, max_round_failures=3, retry_backoff=0.01,
                          tracing=False)


def idle(ready: Path) -> ServiceProcess:
    """A joined consumer and an idle poller: ready, then runs until SIGTERM."""
    return ServiceProcess("svc", consumers=[consumer_loop(FakeKafkaConsumer)], pollers=[lambda: 0],
                          ready_file=ready, tracing=False)


def never_joins(ready: Path) -> ServiceProcess:
    """A consumer that never gets an assignment: never ready, still stops cleanly on SIGTERM."""

    def factory(**config: Any) -> FakeKafkaConsumer:
        return FakeKafkaConsumer(join=False, **config)

    return ServiceProcess("svc", consumers=[consumer_loop(factory)], ready_file=ready, tracing=False)


SCENARIOS: dict[str, Callable[[Path], ServiceProcess]] = {
    "commit-fails": commit_fails,
    "poller-fails": poller_fails,
    "idle": idle,
    "never-joins": never_joins,
}

if __name__ == "__main__":
    configure_logging("INFO")
    SCENARIOS[sys.argv[1]](Path(sys.argv[2])).run()
