"""Kafka adapters (kafka-python): an idempotent publisher, a commit-after-success consumer
loop, and topic creation."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from cbec.bus.delivery import check_handlers, deliver
from cbec.bus.limits import topic_limit
from cbec.bus.poison import Attempts, is_infrastructure, message_of
from cbec.bus.ports import (
    BatchHandler,
    DeadLetter,
    Handler,
    HandlerFailed,
    Message,
    PublishFailed,
    Subscription,
)
from cbec.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)

# Idle pacing (issue #12). An idle kafka-python 3 consumer costs per wake-up of its thread (each poll
# round hands three calls to the client's IO thread), and the thread wakes when a poll times out,
# when an empty fetch returns and at every heartbeat (the client caps a poll's wait by the next one).
FETCH_MAX_WAIT_MS = 5_000
"""How long the broker holds a fetch that finds nothing new (``fetch.max.wait.ms``; the client's
default is 500). A fetch is answered as soon as one byte arrives, so a longer hold adds no latency
under load; it spares an idle consumer a round trip every half second. The costs: a metadata request
the client sends on the same connection waits behind the held fetch, and so does the fetch after a
rewind (a failed message is redelivered up to this much later when nothing else arrives). Measured
idle, five services: 1.17 % of a core at 2 s, 0.79 % at 5 s, 0.75 % at 10 s (``CBEC_KAFKA_FETCH_MAX_WAIT_MS``)."""

HEARTBEAT_INTERVAL_MS = 10_000
"""``heartbeat.interval.ms`` (the client's default is 3,000), still under a third of the session
timeout (45 s), so a live member is never taken for dead. A member learns that its group rebalances
at its next heartbeat: a replica hands partitions over to a new member up to this much later (a
member that dies is noticed by the session timeout, whatever the interval) (``CBEC_KAFKA_HEARTBEAT_INTERVAL_MS``)."""

POLL_TIMEOUT = 2.0
"""Seconds one ``poll`` of ``run_forever`` may block: how soon an idle consumer sees ``stop`` (the
client has no wake-up call), well inside the runtime's shutdown time (``CBEC_KAFKA_POLL_TIMEOUT``)."""


class KafkaPublisher:
    """Publishes with ``acks=all`` and the idempotent producer, so a retried send neither
    duplicates nor reorders messages of one partition; ``linger_ms`` batches sends."""

    def __init__(
        self,
        bootstrap: str,
        *,
        linger_ms: int = 5,
        batch_size: int = 256 * 1024,
        client_id: str = "cbec-publisher",
        **overrides: Any,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "batch_size": batch_size,
            "max_in_flight_requests_per_connection": 5,
            "retries": 2_147_483_647,
            "delivery_timeout_ms": 120_000,
        }
        config.update(overrides)
        self._producer = KafkaProducer(**config)
        self._failures: list[BaseException] = []
        self._failures_lock = threading.Lock()

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        future = self._producer.send(
            topic,
            key=key.encode("utf-8"),
            value=value,
            headers=[(k, v.encode("utf-8")) for k, v in (headers or {}).items()],
        )
        future.add_errback(self._record_failure)

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every send so far; raise ``PublishFailed`` if the broker refused any."""
        self._producer.flush(timeout=timeout)
        with self._failures_lock:
            failures, self._failures = self._failures, []
        if failures:
            raise PublishFailed(f"{len(failures)} message(s) not accepted: {failures[0]!r}")

    def close(self, timeout: float | None = 10.0) -> None:
        self._producer.close(timeout=timeout)

    def _record_failure(self, error: BaseException) -> None:
        with self._failures_lock:
            self._failures.append(error)


class KafkaConsumerLoop:
    """Consumes a subscription with one thread, so one message (or batch) at a time.

    Give a ``handler`` (one message per call) or a ``batch_handler`` (each partition's share of
    a poll per call). Offsets are committed after each poll, for the messages whose handler
    returned (auto-commit is off). When a handler raises, the loop commits what succeeded,
    seeks every partition of the poll back to its first unhandled message and raises
    ``HandlerFailed``: the next ``run_once`` (or another member of the group after a
    rebalance) delivers that message again. Any other error (a failed commit after a
    rebalance, a broken connection) leaves ``run_forever``: the process runtime treats it as fatal.

    With a ``dead_letter``, a poison message is retried ``max_attempts`` times in all and then
    dead-lettered, and a record with defects at once (``cbec.bus.poison``); an infrastructure
    error is retried, and ends ``run_forever`` after ``max_infrastructure_failures`` in a row.

    ``consumer_factory`` builds the kafka-python client from its keyword config (default
    ``KafkaConsumer``; tests pass a fake). Idle, the loop wakes once per ``POLL_TIMEOUT`` and the
    client fetches once per ``fetch_max_wait_ms`` and beats once per ``heartbeat_interval_ms`` (the
defaults and their trade-offs: :data:`POLL_TIMEOUT`, :data:`FETCH_MAX_WAIT_MS`, :data:`HEARTBEAT_INTERVAL_MS`).
    """

    def __init__(
        self,
        bootstrap: str,
        subscription: Subscription,
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
        dead_letter: DeadLetter | None = None,
        max_attempts: int = 1,
        max_infrastructure_failures: int = 20,
        client_id: str | None = None,
        max_poll_records: int = 500,
        fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        poll_timeout: float = POLL_TIMEOUT,
        consumer_factory: Callable[..., Any] = KafkaConsumer,
        **overrides: Any,
    ) -> None:
        check_handlers(handler, batch_handler)
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": subscription.group,
            "client_id": client_id or subscription.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": max_poll_records,
            "fetch_max_wait_ms": fetch_max_wait_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
        }
        config.update(overrides)
        self.subscription = subscription
        self._poll_timeout = poll_timeout
        self._handler = handler
        self._batch_handler = batch_handler
        self._dead_letter = dead_letter
        self._attempts = Attempts(max_attempts)
        self._max_infrastructure_failures = max_infrastructure_failures
        self._joined = threading.Event()
        self._lag_sampled = -float("inf")
        self._lagging: set[tuple[str, str, str]] = set()
        self._lag_stale = True  # records were polled, or a partition was left out, since the last sample
        self._lag_assignment: set[TopicPartition] = set()
        self._consumer = consumer_factory(**config)
        self._consumer.subscribe(topics=list(subscription.topics), listener=_JoinListener(self._joined))

    @property
    def name(self) -> str:
        return self.subscription.group

    def joined(self) -> bool:
        """Whether the group gave this member its first assignment (possibly no partitions).

        Stays true through later rebalances: it answers "has this consumer ever joined".
        """
        return self._joined.is_set() or bool(self._consumer.assignment())

    def run_once(self, timeout: float = 1.0) -> int:
        batches = self._consumer.poll(timeout_ms=int(timeout * 1000))
        if batches:
            self._lag_stale = True
        handled = 0
        done: dict[TopicPartition, OffsetAndMetadata] = {}
        pending = list(batches.items())
        try:
            for index, (tp, records) in enumerate(pending):

                def commit(message: Message, tp: TopicPartition = tp) -> None:
                    done[tp] = OffsetAndMetadata(message.offset + 1, "", -1)

                try:
                    handled += deliver(
                        [_message(record) for record in records],
                        handler=self._handler,
                        batch_handler=self._batch_handler,
                        dead_letter=self._dead_letter,
                        commit=commit,
                        attempts=self._attempts,
                    )
                except HandlerFailed as failure:
                    self._rewind(tp, failure.message.offset, pending[index + 1 :])
                    raise
        finally:
            if done:
                self._consumer.commit(done)
        return handled

    def run_forever(self, stop: threading.Event, *, retry_pause: float = 1.0) -> None:
        """Consume until ``stop`` is set; a failed message is retried after ``retry_pause``.

        ``HandlerFailed`` and a retriable broker error (the broker restarting: a lost connection, a
        timeout, no leader yet) are retried here, the latter until it failed
        ``max_infrastructure_failures`` times in a row; every other exception (a commit refused after
        a rebalance) propagates to the caller. A commit lost to a broker error only means redelivery
        after a crash, which the handlers' tracking makes harmless; the next commit covers it.
        """
        infrastructure_failures = 0
        while not stop.is_set():
            failed: Exception
            try:
                self.run_once(timeout=self._poll_timeout)
                self._sample_lag()
            except KafkaError as error:
                if isinstance(error, CommitFailedError) or not getattr(error, "retriable", False):
                    raise
                failed, infrastructure_failures = error, infrastructure_failures + 1
                why = f"broker unavailable for {self.name} ({type(error).__name__})"
            except HandlerFailed as failure:
                failed, infrastructure_failures = failure, infrastructure_failures + is_infrastructure(failure.error)
                m = failure.message
                why = f"handler failed on {m.topic}[{m.partition}]@{m.offset} ({type(failure.error).__name__})"
            else:
                infrastructure_failures = 0
                continue
            if infrastructure_failures >= self._max_infrastructure_failures:
                raise failed
            log.warning("%s; retrying", why)
            stop.wait(min(retry_pause * 2 ** max(infrastructure_failures - 1, 0), 15.0))

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def lag(self) -> dict[TopicPartition, int]:
        """Messages behind the end of each assigned partition, from what the last fetches reported
        (no request to the broker; a partition not fetched yet is left out)."""
        out: dict[TopicPartition, int] = {}
        highwater: Callable[[TopicPartition], int | None] | None = getattr(self._consumer, "highwater", None)
        if highwater is None:
            return out
        for tp in self._consumer.assignment():
            high = highwater(tp)
            position = self._consumer.position(tp, timeout_ms=0) if high is not None else None
            if high is not None and position is not None:
                out[tp] = max(0, high - position)
        return out

    def _sample_lag(self, every: float = 10.0) -> None:
        """``cbec_consumer_lag`` every ``every`` seconds, in the consumer's own thread (the client is not
        thread-safe); partitions no longer assigned lose their series.

        Only when it may have changed: records were polled since the last sample (positions moved; new
        ends come with records), the assignment changed, or the last sample left a partition out (not
        fetched yet). An idle consumer skips it: asking the client for 50 positions costs more than the
        rest of its idle polling."""
        now = time.monotonic()
        if now - self._lag_sampled < every:
            return
        assignment = set(self._consumer.assignment())
        if not self._lag_stale and assignment == self._lag_assignment:
            return
        self._lag_sampled = now
        group = self.subscription.group
        behind = self.lag()
        current = {(group, tp.topic, str(tp.partition)): lag for tp, lag in behind.items()}
        for labels in self._lagging - current.keys():
            CONSUMER_LAG.remove(*labels)
        for labels, lag in current.items():
            CONSUMER_LAG.labels(*labels).set(lag)
        self._lagging = set(current)
        self._lag_assignment = assignment
        self._lag_stale = len(behind) < len(assignment)

    def _rewind(
        self, failed: TopicPartition, offset: int, untouched: Iterable[tuple[TopicPartition, Any]]
    ) -> None:
        self._consumer.seek(failed, offset)
        for tp, records in untouched:
            if records:
                self._consumer.seek(tp, records[0].offset)


class _JoinListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Marks the first completed group join; kafka-python calls it from inside ``poll``."""

    def __init__(self, joined: threading.Event) -> None:
        self._joined = joined

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._joined.set()


def _message(record: Any) -> Message:
    """The record as a ``Message``; never raises: what cannot be decoded is named in ``defects``."""
    return message_of(record.topic, record.partition, record.offset, record.key, record.value, record.headers)


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    *,
    replication_factor: int = 1,
    configs: Mapping[str, str] | None = None,
    max_message_bytes: int | None = None,
    **client: Any,
) -> list[str]:
    """Create the missing topics among ``names``; return the ones created.

    With ``max_message_bytes`` each topic is created with ``max.message.bytes`` set to it (twice as
    much for a dead-letter topic, see ``cbec.bus.limits``). ``client``: more admin client options (the
    security ones of ``cbec.bus.security.client_options``).
    """
    admin = KafkaAdminClient(**{"bootstrap_servers": bootstrap, "client_id": "cbec-admin", **client})
    try:
        existing = set(admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if max_message_bytes:
            _raise_limits(admin, [n for n in dict.fromkeys(names) if n in existing], max_message_bytes)
        if not missing:
            return []
        spec = {
            name: {
                "num_partitions": partitions,
                "replication_factor": replication_factor,
                "configs": {
                    **({"max.message.bytes": str(topic_limit(name, max_message_bytes))} if max_message_bytes else {}),
                    **dict(configs or {}),
                },
            }
            for name in missing
        }
        try:
            admin.create_topics(spec, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            # Some were created concurrently by another process; the request created the others but
            # raised before waiting for them: a consumer joining now would get no partitions of them.
            admin.wait_for_topics(missing)
        return missing
    finally:
        admin.close()


def _raise_limits(admin: Any, names: list[str], limit: int) -> None:
    """Raise ``max.message.bytes`` of existing topics to what cbec writes (never lower it)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    if not names:
        return
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n, {"max.message.bytes": None})
                                        for n in names], config_filter="all")
        current: dict[str, Any] = _topics_of(found)
        low = []
        for name in names:
            entry = (current.get(name) or {}).get("max.message.bytes")
            value = entry.get("value") if isinstance(entry, dict) else entry
            if value is None or int(value) < topic_limit(name, limit):
                low.append(name)
        if low:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, n,
                                                {"max.message.bytes": str(topic_limit(n, limit))}) for n in low])
            log.info("raised max.message.bytes of %d existing topic(s)", len(low))
    except Exception as error:  # noqa: BLE001 - not allowed (ACLs) or an old broker: the limit stays as it is
        log.warning("could not check max.message.bytes of existing topics (%s: %s)", type(error).__name__, error)


def _topics_of(described: Any) -> dict[str, Any]:
    """The topics part of a ``describe_configs`` answer (keyed "topic" or by the resource type)."""
    if not isinstance(described, dict):
        return {}
    for kind, found in described.items():
        if str(kind).lower().endswith("topic") and isinstance(found, dict):
            return found
    return {}
