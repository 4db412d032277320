"""A deterministic in-process bus: per-topic logs, consumer groups, redelivery on demand."""

from __future__ import annotations

import asyncio
import logging
import threading
import zlib
from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from cbec.bus.delivery import check_handlers, deliver
from cbec.bus.poison import Attempts, message_of
from cbec.bus.ports import BatchHandler, DeadLetter, Handler, HandlerFailed, Message, Subscription

log = logging.getLogger(__name__)
T = TypeVar("T")


class InProcessBus:
    """Publisher and broker in one object, for tests and the single-process demo.

    Messages are appended to per-topic, per-partition logs that stay inspectable
    (:meth:`messages`). Consumers track a committed offset per group and partition, as with
    Kafka, so a failed handler's message is delivered again and a rewound group re-reads.
    Nothing happens in the background: :meth:`drain` (or a consumer's ``run_once``) delivers.
    """

    def __init__(self, *, partitions: int = 1) -> None:
        if partitions < 1:
            raise ValueError("a topic needs at least one partition")
        self._default_partitions = partitions
        self._partitions: dict[str, list[list[Message]]] = {}
        self._published: dict[str, list[Message]] = defaultdict(list)
        self._committed: dict[tuple[str, str, int], int] = {}
        self._duplicating: set[str] = set()
        self._consumers: list[InProcessConsumer] = []
        self._group_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.RLock()

    # -- publishing ----------------------------------------------------------------------------

    def create_topic(self, topic: str, partitions: int) -> None:
        """Give ``topic`` its own partition count (before anything is published to it)."""
        if partitions < 1:
            raise ValueError("a topic needs at least one partition")
        with self._lock:
            if topic in self._partitions:
                raise ValueError(f"topic {topic} already exists")
            self._partitions[topic] = [[] for _ in range(partitions)]

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            logs = self._partitions.get(topic)
            if logs is None:
                logs = self._partitions[topic] = [[] for _ in range(self._default_partitions)]
            partition = zlib.crc32(key.encode("utf-8")) % len(logs)
            message = Message(topic, partition, len(logs[partition]), key, bytes(value), dict(headers or {}))
            logs[partition].append(message)
            self._published[topic].append(message)

    def publish_record(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        partition: int = 0,
    ) -> None:
        """Append a record as raw as Kafka allows (a null value, bytes that are not UTF-8 in the key
        or headers), as any Kafka client could send it; consumers see it as Kafka consumers do."""
        with self._lock:
            logs = self._partitions.get(topic)
            if logs is None:
                logs = self._partitions[topic] = [[] for _ in range(self._default_partitions)]
            message = message_of(topic, partition, len(logs[partition]), key, value, headers)
            logs[partition].append(message)
            self._published[topic].append(message)

    def flush(self) -> None:
        """Nothing to wait for: publishing is synchronous."""

    def close(self) -> None:
        """Nothing to release (for symmetry with ``KafkaPublisher``)."""

    # -- inspection ----------------------------------------------------------------------------

    def messages(self, topic: str) -> list[Message]:
        """Every message ever published to ``topic``, in publish order."""
        with self._lock:
            return list(self._published.get(topic, ()))

    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._partitions)

    def committed(self, group: str, topic: str, partition: int = 0) -> int:
        """The group's next offset to read in ``topic``/``partition``."""
        with self._lock:
            return self._committed.get((group, topic, partition), 0)

    def lag(self, group: str, topic: str) -> int:
        """How many messages of ``topic`` the group has not yet handled."""
        with self._lock:
            logs = self._partitions.get(topic, [])
            return sum(len(p) - self._committed.get((group, topic, i), 0) for i, p in enumerate(logs))

    # -- consuming -----------------------------------------------------------------------------

    def consumer(
        self,
        subscription: Subscription,
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
        dead_letter: DeadLetter | None = None,
        max_batch: int = 500,
        max_attempts: int = 1,
    ) -> InProcessConsumer:
        """A consumer for ``subscription``; :meth:`drain` drives it along with all others.

        Poison messages are handled as on Kafka: with a ``dead_letter``, a record with defects is
        dead-lettered at once and a failing one after ``max_attempts`` (``cbec.bus.poison``)."""
        check_handlers(handler, batch_handler)
        consumer = InProcessConsumer(self, subscription, handler, batch_handler, dead_letter, max_batch,
                                     Attempts(max_attempts))
        with self._lock:
            self._consumers.append(consumer)
        return consumer

    def drain(self, *, max_messages: int = 1_000_000) -> int:
        """Deliver until no consumer has anything left (handlers may publish more).

        Returns how many messages were handled. A handler failure propagates as
        ``HandlerFailed``; its message stays uncommitted for the next drain.
        """
        handled = 0
        while handled < max_messages:
            with self._lock:
                consumers = list(self._consumers)
            progress = sum(c.run_once() for c in consumers)
            if progress == 0:
                break
            handled += progress
        return handled

    async def run(self, *, poll_interval: float = 0.01, stop: asyncio.Event | None = None) -> None:
        """Drain forever (until ``stop`` is set); a failing handler is retried after a pause."""
        while stop is None or not stop.is_set():
            try:
                delivered = self.drain()
            except HandlerFailed as failure:
                log.warning("handler failed, will retry: %s", type(failure.error).__name__)
                delivered = 0
            if delivered == 0:
                await asyncio.sleep(poll_interval)

    # -- fault injection for tests --------------------------------------------------------------

    def rewind(self, group: str, topic: str, *, offset: int = 0, partition: int = 0) -> None:
        """Move the group's committed offset back, so it receives those messages again."""
        with self._lock:
            self._committed[(group, topic, partition)] = offset

    def duplicate_deliveries(self, group: str, enabled: bool = True) -> None:
        """Deliver every message to ``group`` twice in a row (at-least-once, worst case)."""
        with self._lock:
            if enabled:
                self._duplicating.add(group)
            else:
                self._duplicating.discard(group)

    # -- used by InProcessConsumer ---------------------------------------------------------------

    def _deliver(self, consumer: InProcessConsumer) -> int:
        group = consumer.subscription.group
        handled = 0
        with self._group_locks[group]:
            for topic in consumer.subscription.topics:
                with self._lock:
                    partitions = len(self._partitions.get(topic, []))
                for partition in range(partitions):
                    handled += self._deliver_partition(consumer, topic, partition)
        return handled

    def _deliver_partition(self, consumer: InProcessConsumer, topic: str, partition: int) -> int:
        group = consumer.subscription.group
        handled = 0

        def commit(message: Message) -> None:
            with self._lock:
                self._committed[(group, topic, partition)] = message.offset + 1

        while not consumer.closed:
            with self._lock:
                offset = self._committed.get((group, topic, partition), 0)
                pending = self._partitions[topic][partition][offset : offset + consumer.max_batch]
                twice = group in self._duplicating
            if not pending:
                return handled
            handled += consumer._deliver(pending, commit, twice)
        return handled


class InProcessConsumer:
    """One subscription on an :class:`InProcessBus`."""

    def __init__(
        self,
        bus: InProcessBus,
        subscription: Subscription,
        handler: Handler | None,
        batch_handler: BatchHandler | None,
        dead_letter: DeadLetter | None,
        max_batch: int,
        attempts: Attempts | None = None,
    ) -> None:
        self.bus = bus
        self.subscription = subscription
        self.max_batch = max_batch
        self._handler = handler
        self._batch_handler = batch_handler
        self._dead_letter = dead_letter
        self._attempts = attempts or Attempts()
        self.closed = False

    def run_once(self, timeout: float = 0.0) -> int:
        """Deliver everything pending for this subscription (``timeout`` is not needed here)."""
        if self.closed:
            return 0
        return self.bus._deliver(self)

    def close(self) -> None:
        self.closed = True
        with self.bus._lock:
            if self in self.bus._consumers:
                self.bus._consumers.remove(self)

    def _deliver(self, messages: list[Message], commit: Callable[[Message], None], twice: bool) -> int:
        handler, batch_handler = self._handler, self._batch_handler
        if twice:
            handler = _twice(handler)
            batch_handler = _twice(batch_handler)
        return deliver(
            messages,
            handler=handler,
            batch_handler=batch_handler,
            dead_letter=self._dead_letter,
            commit=commit,
            attempts=self._attempts,
        )


def _twice(function: Callable[[T], None] | None) -> Callable[[T], None] | None:
    if function is None:
        return None

    def twice(argument: T) -> None:
        function(argument)
        function(argument)

    return twice
