"""Prometheus metrics of a service process, on ``prometheus_client``'s process registry (``REGISTRY``,
which also carries the client's ``process_*`` and ``python_*`` series).

* Per message (a counter increment, label children cached): ``cbec_messages_handled_total{service,topic}``,
  ``cbec_handler_errors_total{service,topic,kind}`` (each failed attempt; ``kind`` is the error's type),
  ``cbec_messages_dead_lettered_total{service,topic}``; the customs link's new receipts:
  ``cbec_receipt_delay_seconds{receipt_type}`` (from customs' ``returnTime`` to recorded here).
* Set by a declaration service's sweep of parked customs results (start-up, then every 5 min):
  ``cbec_results_parked{doc_type}`` and ``cbec_results_parked_overdue{doc_type}``.
* At most every 10 s, by each consumer from what its fetches reported, and only when records came or
  the assignment changed since (an idle consumer leaves it standing): ``cbec_consumer_lag{group,topic,partition}``.
* Sampled when scraped, at most every ``every`` seconds (a query, never per message):
  ``cbec_outbox_backlog{outbox}`` (events not yet relayed) and whatever a service adds with
  :class:`Sampled` (e.g. the saga's notification circuits).
* ``cbec_loop_busy_seconds{loop}``: how long each loop's current round has run (the liveness input).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cbec.bus.ports import BatchHandler, DeadLetter, Handler, Message

if TYPE_CHECKING:
    from cbec.health import Heartbeat
    from cbec.store.event_store import EventStore
    from cbec.store.outbox import OutboxRelay

log = logging.getLogger(__name__)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: half the lines, nothing a dashboard reads

HANDLED = Counter("cbec_messages_handled", "Messages handled (dead-lettered ones included)",
                  ["service", "topic"])
ERRORS = Counter("cbec_handler_errors", "Failed handler attempts by error type", ["service", "topic", "kind"])
CONSUMER_LAG = Gauge("cbec_consumer_lag", "Messages behind the partition's end (sampled every 10 s)",
                     ["group", "topic", "partition"])
RECEIPT_DELAY = Histogram("cbec_receipt_delay_seconds", "From customs' returnTime to the receipt recorded here",
                          ["receipt_type"], buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 14400, 86400))
RESULTS_PARKED = Gauge("cbec_results_parked", "Customs results waiting for the receipt numbering their document "
                       "(set by each sweep)", ["doc_type"])
RESULTS_PARKED_OVERDUE = Gauge("cbec_results_parked_overdue", "Parked customs results older than "
                               "CBEC_RESULTS_PARKED_MAX_DAYS", ["doc_type"])
DEAD_LETTERED = Counter("cbec_messages_dead_lettered", "Messages sent to a dead-letter topic",
                        ["service", "topic"])


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The Prometheus text of ``registry``."""
    return generate_latest(registry)


class Instrumented:
    """A consumer's handlers counted and timed by a heartbeat (its liveness): wrap them with
    :meth:`handler`, :meth:`batch_handler` and :meth:`dead_letter`."""

    def __init__(self, service: str, heartbeat: Heartbeat) -> None:
        self.service = service
        self.heartbeat = heartbeat
        self._handled: dict[str, Counter] = {}

    def _count(self, topic: str, n: int) -> None:
        child = self._handled.get(topic)
        if child is None:
            child = self._handled.setdefault(topic, HANDLED.labels(self.service, topic))
        child.inc(n)

    def _failed(self, topic: str, error: BaseException) -> None:
        ERRORS.labels(self.service, topic, type(error).__name__).inc()

    def handler(self, handle: Handler | None) -> Handler | None:
        if handle is None:
            return None
        inner = handle

        def counted(message: Message) -> None:
            with self.heartbeat.busy():
                try:
                    inner(message)
                except Exception as error:
                    self._failed(message.topic, error)
                    raise
            self._count(message.topic, 1)

        return counted

    def batch_handler(self, handle: BatchHandler | None) -> BatchHandler | None:
        if handle is None:
            return None
        inner = handle

        def counted(messages: Sequence[Message]) -> None:
            if not messages:
                inner(messages)
                return
            topic = messages[0].topic  # a batch holds messages of one partition
            with self.heartbeat.busy():
                try:
                    inner(messages)
                except Exception as error:
                    self._failed(topic, error)
                    raise
            self._count(topic, len(messages))

        return counted

    def dead_letter(self, sink: DeadLetter | None) -> DeadLetter | None:
        if sink is None:
            return None
        inner = sink

        def counted(message: Message, error: BaseException) -> None:
            with self.heartbeat.busy():
                inner(message, error)
            DEAD_LETTERED.labels(self.service, message.topic).inc()
            self._count(message.topic, 1)

        return counted


Sample = tuple[Sequence[str], float]
T = TypeVar("T")


def cached(read: Callable[[], T], *, every: float, clock: Callable[[], float] = time.monotonic) -> Callable[[], T]:
    """``read`` answered from its last result for ``every`` seconds (one query for several gauges)."""
    lock = threading.Lock()
    last: list[tuple[float, T]] = []

    def answer() -> T:
        with lock:
            now = clock()
            if not last or now - last[0][0] >= every:
                last[:] = [(now, read())]
            return last[0][1]

    return answer


class Sampled(Collector):
    """A gauge family read when scraped, at most every ``every`` seconds (the last answer in between);
    a failing read is logged once per failure and shows no series."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 read: Callable[[], Iterable[Sample]], *, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.documentation, self.labels = name, documentation, list(labels)
        self._read, self._every, self._clock = read, every, clock
        self._lock = threading.Lock()
        self._last: tuple[float, list[Sample]] | None = None

    def describe(self) -> Iterator[Metric]:
        return iter(())  # nothing read at registration (and no name clash between test processes)

    def samples(self) -> list[Sample]:
        with self._lock:
            now = self._clock()
            if self._last is None or now - self._last[0] >= self._every:
                try:
                    self._last = (now, list(self._read()))
                except Exception as error:  # noqa: BLE001 - a scrape never breaks the process
                    log.warning("metrics: reading %s failed (%s)", self.name, type(error).__name__)
                    self._last = (now, [])
            return self._last[1]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, value in self.samples():
            family.add_metric(list(values), value)
        yield family


def outbox_backlog(outboxes: Sequence[tuple[OutboxRelay, EventStore]], *, every: float = 10.0) -> Sampled:
    """Events stored but not yet relayed, per outbox (the head of the log minus the recorded position)."""

    def read() -> Iterator[Sample]:
        for relay, store in outboxes:
            head = store.max_notification_id() or 0
            done = store.max_tracking_id(relay.tracking_name) or 0
            yield (relay.name,), max(0, head - done)

    return Sampled("cbec_outbox_backlog", "Events stored but not yet relayed", ["outbox"], read, every=every)


def loop_busy(heartbeats: Callable[[], Sequence[Heartbeat]]) -> Collector:
    """``cbec_loop_busy_seconds{loop}``: how long each loop's current round has run (0 while it waits)."""
    return _LoopBusy(heartbeats)


class _LoopBusy(Collector):
    def __init__(self, heartbeats: Callable[[], Sequence[Heartbeat]]) -> None:
        self._heartbeats = heartbeats

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("cbec_loop_busy_seconds", "How long the loop's current round has run",
                                   labels=["loop"])
        for beat in self._heartbeats():
            family.add_metric([beat.name], beat.busy_for())
        yield family
